"""SQuAD token F1 (Rajpurkar et al. 2016): overlap of the normalised answer and ground-truth tokens.

Normalisation as in the official SQuAD script: lower-case, drop punctuation, drop the articles
a/an/the, collapse whitespace. Two empty answers agree (F1 = 1); one empty answer scores 0.
"""

import re
import string
from collections import Counter

from promptflow.core import tool

ARTICLES = re.compile(r"\b(a|an|the)\b")
PUNCTUATION = set(string.punctuation)


def normalize(text: str) -> list:
    text = "".join(ch for ch in str(text).lower() if ch not in PUNCTUATION)
    return ARTICLES.sub(" ", text).split()


@tool
def f1_score(answer: str, ground_truth: str) -> float:
    predicted, expected = normalize(answer), normalize(ground_truth)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)
