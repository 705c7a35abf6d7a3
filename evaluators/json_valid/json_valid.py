"""Does the answer parse as JSON (and, if asked, is it an object with the required keys)? Says why not."""

import json
import re

from promptflow.core import tool

FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?\s*```\s*$", re.S | re.I)


@tool
def json_valid(answer: str, required_keys: str = "", allow_code_fence: bool = True) -> dict:
    text = str(answer)
    fenced = FENCE.match(text) if allow_code_fence else None
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except ValueError as exc:
        return {"passed": False, "reason": f"not valid JSON: {exc}"}
    keys = [key.strip() for key in str(required_keys).split(",") if key.strip()]
    if not keys:
        return {"passed": True, "reason": "valid JSON"}
    if not isinstance(value, dict):
        return {"passed": False, "reason": f"expected a JSON object with keys {keys}, got {type(value).__name__}"}
    missing = [key for key in keys if key not in value]
    if missing:
        return {"passed": False, "reason": f"missing keys: {', '.join(missing)}"}
    return {"passed": True, "reason": "valid JSON object with all required keys"}
