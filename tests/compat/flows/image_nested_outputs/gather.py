from promptflow.core import tool
from promptflow.contracts.multimedia import Image


def _walk(value, found):
    if isinstance(value, Image):
        found.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _walk(v, found)
    elif isinstance(value, list):
        for v in value:
            _walk(v, found)
    return found


@tool
def gather(pics: list, meta: dict) -> dict:
    found = _walk([pics, meta], [])
    return {"items": found, "count": len(found), "by_key": {k: v for k, v in meta.items() if isinstance(v, Image)}}
