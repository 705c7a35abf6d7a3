"""True when the answer matches ``pattern`` (searched anywhere, or the whole answer with ``full_match``)."""

import re

from promptflow.core import tool


@tool
def regex_match(answer: str, pattern: str = "", full_match: bool = False, case_sensitive: bool = True) -> bool:
    if not pattern:
        raise ValueError("No pattern given. Set one: pfl eval --evaluator 'regex:pattern=REGEX' "
                         "(or map a data column to the 'pattern' input).")
    try:
        compiled = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"'pattern' is not a valid regular expression ({exc}): {pattern!r}") from None
    found = compiled.fullmatch(str(answer)) if full_match else compiled.search(str(answer))
    return found is not None
