def echo(text: str) -> str:
    """Forgot the @tool decorator."""
    return text
