from promptflow.core import tool
from promptflow.contracts.types import PromptTemplate  # noqa: F401  (import surface used by real flows)


@tool
def report(total: int, ordered: list) -> str:
    return f"{' + '.join(str(n) for n in ordered)} = {total}"
