from promptflow.core import tool


@tool
def make() -> dict:
    return {"present": "here"}
