from promptflow.core import tool


@tool
def lookup(city: str) -> dict:
    return {
        "place": {"city": city, "country": "France" if city == "Paris" else "Elsewhere"},
        "tags": ["capital", "river", "museums"],
        "odd key": "value behind a key with a space",
        "matrix": [[1, 2], [3, 4]],
    }
