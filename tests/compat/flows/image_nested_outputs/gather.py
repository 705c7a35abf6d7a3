from promptflow.core import tool
from promptflow.contracts.multimedia import Image

from images_in import images_in


@tool
def gather(pics: list, meta: dict) -> dict:
    found = images_in([pics, meta])
    return {"items": found, "count": len(found), "by_key": {k: v for k, v in meta.items() if isinstance(v, Image)}}
