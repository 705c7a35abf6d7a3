from pathlib import Path
from promptflow.core import Prompty


def ask(question: str):
    return Prompty.load(Path(__file__).parent / "a.prompty")(question=question)
