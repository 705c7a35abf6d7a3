from promptflow.core import tool

URGENT = ("crash", "data loss", "cannot log in", "down", "security")


@tool
def triage_bug(text: str) -> str:
    """Runs only for bugs: 'high' when the report mentions an urgent symptom."""
    lowered = text.lower()
    return "high" if any(word in lowered for word in URGENT) else "normal"
