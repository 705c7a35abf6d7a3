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
def describe(pics: list, meta: dict) -> str:
    found = _walk([pics, meta], [])
    return ";".join(f"{type(i).__name__}:{i._mime_type}:{len(bytes(i))}" for i in found)
