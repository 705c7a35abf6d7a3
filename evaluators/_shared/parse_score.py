"""Read the judge's 1-5 score and its reason from the reply, whatever shape the reply takes.

Tried in order: a JSON object with "score" (and "reason"), possibly inside a code fence or
surrounded by text (the reason is its "reason"); a "score: N" / "rating is N" phrase or a reply
that starts with the number (the reason is the whole reply).
A reply with no score in 1..5 gets score None (left out of the mean) and says so in the reason.
"""

import json
import re

from promptflow.core import tool

JSON_OBJECT = re.compile(r"\{.*\}", re.S)
SCORE_PHRASE = re.compile(r"\b(?:score|rating|grade)\b\W{0,6}(?:(?:is|of)\W{1,6})?([0-9]+(?:\.[0-9]+)?)", re.I)
LEADING_NUMBER = re.compile(r"^\W{0,3}([0-9]+(?:\.[0-9]+)?)\b")


def from_json(text: str):
    found = JSON_OBJECT.search(text)
    if not found:
        return None
    try:
        data = json.loads(found.group(0))
    except ValueError:
        return None
    if not isinstance(data, dict) or "score" not in data:
        return None
    reason = data.get("reason") or data.get("explanation") or ""
    return data["score"], str(reason)


def from_text(text: str):
    found = SCORE_PHRASE.search(text) or LEADING_NUMBER.search(text)
    if not found:
        return None
    return found.group(1), text


@tool
def parse_score(reply: str) -> dict:
    text = str(reply or "").strip()
    parsed = from_json(text) or from_text(text)
    if parsed is None:
        return {"score": None, "reason": f"no score found in the judge's reply: {text[:300]!r}"}
    raw, reason = parsed
    try:
        score = float(raw)
    except (TypeError, ValueError):
        return {"score": None, "reason": f"the judge's score {raw!r} is not a number"}
    if not 1 <= score <= 5:
        return {"score": None, "reason": f"the judge's score {raw!r} is outside 1-5"}
    return {"score": score, "reason": reason or text}
