"""Summarize a text with an LLM (summary.prompty) and report a few statistics about it."""

from dataclasses import dataclass
from pathlib import Path

from promptflow.core import Prompty
from promptflow.tracing import trace

PROMPTY = Path(__file__).parent / "summary.prompty"


@dataclass
class Summary:
    summary: str
    words_in: int
    words_out: int


@trace
def summarize(text: str, max_words: int = 20) -> Summary:
    """The flow's entry: one call per line."""
    summary = Prompty.load(PROMPTY)(text=text, max_words=max_words)
    return Summary(summary=summary.strip(), words_in=len(text.split()), words_out=len(summary.split()))
