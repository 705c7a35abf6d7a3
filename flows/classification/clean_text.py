from promptflow.core import tool


@tool
def clean_text(text: str) -> str:
    """Collapse whitespace so the prompt sees one tidy line."""
    return " ".join(text.split())
