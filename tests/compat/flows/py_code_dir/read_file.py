from promptflow.core import tool
from promptflow.contracts.types import FilePath


@tool
def read_file(path: FilePath) -> str:
    with open(path, encoding="utf-8") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    return f"{type(path).__name__}:{path}:{','.join(lines)}"
