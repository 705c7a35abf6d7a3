from promptflow.core import tool


@tool
def produce(text: str) -> dict:
    return {"text": f"produced {text}"}
