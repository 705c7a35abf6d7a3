from promptflow.core import tool

CATEGORIES = ("bug", "billing", "feature", "other")


@tool
def parse_category(answer: str) -> str:
    """The first known category word in the model's answer, else 'other'."""
    words = answer.lower().replace(".", " ").replace(":", " ").split()
    return next((w for w in words if w in CATEGORIES), "other")
