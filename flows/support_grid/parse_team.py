from promptflow.core import tool

TEAMS = ("billing", "technical", "account", "sales")


@tool
def parse_team(answer: str) -> str:
    """The first team name in the model's answer, else 'unknown'."""
    lowered = answer.lower()
    return next((team for team in TEAMS if team in lowered), "unknown")
