from promptflow.core import tool


# A node's inputs are the tool function's parameters; annotate them so values are converted.
@tool
def my_python_tool(input1: str) -> str:
    return "Prompt: " + input1
