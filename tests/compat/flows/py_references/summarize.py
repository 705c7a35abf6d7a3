from promptflow.core import tool


@tool
def summarize(country: str, first_tag: str, not_a_reference: str, also_literal: str) -> str:
    return " | ".join([country, first_tag, not_a_reference, also_literal])
