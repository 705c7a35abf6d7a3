import os

from promptflow.core import tool


@tool
def read_env(names: list) -> dict:
    return {name: os.environ.get(name) for name in names}
