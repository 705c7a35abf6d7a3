import os

from promptflow.core import tool

from helpers.text import describe  # resolved from the flow folder, which is on sys.path


@tool
def lookup(word: str) -> str:
    here = os.path.basename(os.path.dirname(os.path.abspath(__file__)))
    return f"{describe(word)} (tool file lives in '{here}', cwd is the flow folder: {os.path.exists('flow.dag.yaml')})"
