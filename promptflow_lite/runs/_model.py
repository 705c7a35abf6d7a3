"""``Run``: what a batch run is, as stored in the index (statuses, counts, lineage, properties).

Statuses say what happened: ``Completed`` (every line succeeded and aggregation worked),
``CompletedWithErrors`` (some lines, or the aggregation, failed), ``Failed`` (every line
failed, or the run could not start), ``Canceled``. While a run executes it is ``Running``;
a ``Running`` run whose process died is reported ``NotResponding`` and can be resumed.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

PREPARING, RUNNING, NOT_RESPONDING = "Preparing", "Running", "NotResponding"
COMPLETED, COMPLETED_WITH_ERRORS, FAILED, CANCELED = "Completed", "CompletedWithErrors", "Failed", "Canceled"
TERMINAL = (COMPLETED, COMPLETED_WITH_ERRORS, FAILED, CANCELED)


@dataclass
class Run:
    """A batch run (a row of the run index); ``metrics`` and ``details`` come from its folder."""

    name: str
    status: str
    display_name: str | None = None
    description: str | None = None
    flow: str | None = None
    flow_name: str | None = None
    data: str | None = None
    variant: str | None = None
    run: str | None = None  # the base run of an evaluation run
    created_on: str | None = None
    started_on: str | None = None
    ended_on: str | None = None
    total_lines: int = 0
    completed_lines: int = 0
    failed_lines: int = 0
    cached_lines: int = 0
    tokens: dict[str, int] = field(default_factory=dict)
    duration: float | None = None
    archived: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    output_path: str | None = None
    error: Any = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Run":
        tokens = {k: row.get(k) or 0 for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
        known = {f for f in cls.__dataclass_fields__ if f in row}
        return cls(**{k: row[k] for k in known}, tokens=tokens)

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's ``metrics.json`` (empty when there is none)."""
        if not self.output_path:
            return {}
        path = Path(self.output_path) / "metrics.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    @property
    def warnings(self) -> list[str]:
        return list(self.properties.get("warnings") or [])

    def to_dict(self) -> dict[str, Any]:
        """JSON for ``pfl run show``."""
        data = asdict(self)
        data["archived"] = bool(self.archived)
        return data


def default_run_name(flow_path: str | Path, variant: str | None, kind: str = "dag") -> str:
    """``<flow folder>_<variant or variant_0>_<YYYYMMDD_HHMMSS_ffffff>`` (flex/prompty: no variant)."""
    path = Path(flow_path)
    folder = path.stem if kind == "prompty" and path.is_file() else (path.parent.name if path.is_file() else path.name)
    stamp = datetime.now().strftime("%Y%m%d_%H%M%S_%f")
    if kind != "dag":
        return sanitize_name(f"{folder}_{stamp}")
    from promptflow_lite.flow._variants import variant_id_of

    return sanitize_name(f"{folder}_{variant_id_of(variant)}_{stamp}")


def sanitize_name(name: str) -> str:
    """A name usable as a Python identifier and a folder name (as promptflow)."""
    cleaned = re.sub(r"\W", "_", name.strip())
    return cleaned if cleaned and not cleaned[0].isdigit() else f"run_{cleaned}"


def check_name(name: str) -> str:
    """A user-given name must be safe as a folder name."""
    from promptflow_lite.errors import UserError

    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name or "") or name in (".", ".."):
        raise UserError(f"Invalid run name '{name}'.",
                        hint="use letters, digits, '_', '-' and '.' only (no spaces or slashes).")
    return name


def now_iso() -> str:
    return datetime.now().astimezone().isoformat()
