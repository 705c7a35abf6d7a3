from promptflow.core import tool
from promptflow.contracts.multimedia import Image


@tool
def echo(content: list) -> list:
    return content
