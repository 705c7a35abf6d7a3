from promptflow.core import tool

import module_that_does_not_exist  # noqa: F401


@tool
def imports(text: str) -> str:
    return text
