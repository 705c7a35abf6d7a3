from promptflow.core import tool


@tool
def clean_ticket(ticket: str) -> str:
    """Collapse whitespace and drop a trailing signature."""
    text = " ".join(ticket.split())
    return text.split(" -- ")[0]
