from promptflow.core import tool


@tool
def parse_answer(completion: str) -> str:
    return completion.strip().splitlines()[0] if completion.strip() else ""
