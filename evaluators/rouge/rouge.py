"""ROUGE-1, ROUGE-2 and ROUGE-L F-measures (Lin 2004), tokenised like Google's rouge-score package.

Tokens: lower-cased runs of letters and digits (everything else separates them). ROUGE-N counts
n-grams shared by answer and ground truth (each shared at most as often as it occurs in both);
ROUGE-L uses the longest common subsequence. Each F-measure is 2PR / (P + R); it is 0 when
nothing is shared, including when either text has no tokens.
"""

import re
from collections import Counter

from promptflow.core import tool

TOKEN = re.compile(r"[a-z0-9]+")


def tokens(text: str) -> list:
    return TOKEN.findall(str(text).lower())


def f_measure(overlap: int, predicted: int, expected: int) -> float:
    if overlap == 0:
        return 0.0
    precision, recall = overlap / predicted, overlap / expected
    return 2 * precision * recall / (precision + recall)


def ngrams(words: list, n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def rouge_n(predicted: list, expected: list, n: int) -> float:
    found, wanted = ngrams(predicted, n), ngrams(expected, n)
    overlap = sum((found & wanted).values())
    return f_measure(overlap, sum(found.values()), sum(wanted.values()))


def lcs_length(a: list, b: list) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


@tool
def rouge(answer: str, ground_truth: str) -> dict:
    predicted, expected = tokens(answer), tokens(ground_truth)
    return {
        "rouge1": rouge_n(predicted, expected, 1),
        "rouge2": rouge_n(predicted, expected, 2),
        "rougeL": f_measure(lcs_length(predicted, expected), len(predicted), len(expected)),
    }
