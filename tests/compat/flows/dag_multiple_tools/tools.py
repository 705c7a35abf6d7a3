from promptflow.core import tool


@tool
def describe(pics: list, meta: dict) -> str:
    return f"{len(pics)} pictures, {len(meta)} keys"


@tool
def gather(pics: list, meta: dict) -> dict:
    return {"pics": pics, "meta": meta}
