import base64
from promptflow import tool
from promptflow.contracts.multimedia import Image

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAUAAAAFCAYAAACNbyblAAAAIUlEQVR4nGP8/5/hPyPj/0YGJMDIwPC/gQENMKELkCYIAEEBBgdLVy2aAAAAAElFTkSuQmCC")


@tool
def make(n: int) -> dict:
    return {"one": Image(PNG, mime_type="image/png"), "many": [Image(PNG, mime_type="image/png") for _ in range(n)], "label": "x"}
