"""A price table the user gives (``--prices prices.yaml``): what 1,000 prompt and completion tokens cost per model.

Nothing is looked up on the network: the table is the user's. The file::

    currency: USD            # optional, shown with costs
    per_tokens: 1000         # optional: the prices are per this many tokens (default 1000)
    models:
      gpt-4o-mini: {prompt: 0.00015, completion: 0.0006}
      "gpt-4o*":   {input: 0.0025, output: 0.01}      # input/output also accepted; * and ? match

A model is the name sent in the request (the deployment name for Azure OpenAI); an exact name wins
over a pattern, patterns are tried in file order.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from promptflow_lite.errors import UserError


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    prompt: float = Field(ge=0, validation_alias=AliasChoices("prompt", "input"))
    completion: float = Field(ge=0, validation_alias=AliasChoices("completion", "output"))


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: str = ""
    per_tokens: int = Field(default=1000, gt=0)
    models: dict[str, ModelPrice] = Field(min_length=1)
    source: Optional[str] = None  # the file it was read from

    def price(self, model: str) -> ModelPrice | None:
        """The price of ``model``: its exact entry, else the first pattern that matches, else None."""
        if model in self.models:
            return self.models[model]
        return next((p for name, p in self.models.items() if fnmatch.fnmatchcase(model, name)), None)

    def cost(self, model: str, prompt_tokens: float, completion_tokens: float) -> float | None:
        """What the tokens cost, or None when the table has no price for ``model``."""
        price = self.price(model)
        if price is None:
            return None
        return (prompt_tokens * price.prompt + completion_tokens * price.completion) / self.per_tokens

    def format(self, amount: float, currency: bool = True) -> str:
        """``amount`` with enough digits to read small per-line costs (and the currency)."""
        if amount != amount:  # NaN
            return "n/a"
        digits = 2 if abs(amount) >= 1 else 4 if abs(amount) >= 0.01 else 6
        text = f"{amount:.{digits}f}"
        return f"{text} {self.currency}" if self.currency and currency else text


def load_prices(path: str | Path) -> PriceTable:
    """Read and check a price table; errors name the file, the entry and the fix."""
    from promptflow_lite.flow._loader import read_yaml

    file = Path(path)
    if not file.is_file():
        raise UserError(f"Price file {file} does not exist.", file=str(file),
                        hint="write a YAML file with models: {NAME: {prompt: P, completion: C}} (per 1k tokens).")
    data = read_yaml(file)
    try:
        table = PriceTable.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise UserError(f"Price file {file}: {where}: {first['msg']}.", file=str(file),
                        hint="write models: {NAME: {prompt: P, completion: C}}, prices per 1,000 tokens "
                             "(or per per_tokens).") from None
    return table.model_copy(update={"source": str(file)})
