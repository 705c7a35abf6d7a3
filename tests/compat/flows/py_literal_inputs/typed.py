from promptflow.core import tool


def _show(value):
    return {"type": type(value).__name__, "value": value}


@tool
def typed(
    text: str,
    max_tokens: int,
    temperature: float,
    enabled: bool,
    stop: list,
    options: dict,
    empty_string: str = "default used",
    nothing: str = "default used too",
) -> dict:
    return {
        name: _show(value)
        for name, value in {
            "max_tokens": max_tokens,
            "temperature": temperature,
            "enabled": enabled,
            "stop": stop,
            "options": options,
            "empty_string": empty_string,
            "nothing": nothing,
        }.items()
    }
