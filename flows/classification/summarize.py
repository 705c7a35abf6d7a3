from promptflow.core import tool


@tool
def summarize(category: str, bug_priority: str = "n/a") -> dict:
    """Merge the branches: `bug_priority` keeps its default when triage was bypassed."""
    return {"priority": bug_priority, "summary": f"{category} ticket (priority: {bug_priority})"}
