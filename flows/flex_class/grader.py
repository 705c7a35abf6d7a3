"""Grade answers against ground truths: exact match and token F1 per line, averages over the run."""

import re
from typing import TypedDict


class Grade(TypedDict):
    exact_match: bool
    f1: float


class AnswerGrader:
    def __init__(self, ignore_case: bool = True):
        self.ignore_case = ignore_case

    def _tokens(self, text: str) -> list[str]:
        text = text.lower() if self.ignore_case else text
        return re.findall(r"\w+", text)

    def __call__(self, answer: str, ground_truth: str) -> Grade:
        got, want = self._tokens(answer), self._tokens(ground_truth)
        common = sum(min(got.count(t), want.count(t)) for t in set(want))
        if not got or not want or not common:
            f1 = 0.0
        else:
            precision, recall = common / len(got), common / len(want)
            f1 = 2 * precision * recall / (precision + recall)
        return Grade(exact_match=got == want, f1=round(f1, 4))

    def __aggregate__(self, grades: list) -> dict:
        count = len(grades)
        return {
            "exact_match_rate": sum(g.exact_match for g in grades) / count if count else 0.0,
            "mean_f1": round(sum(g.f1 for g in grades) / count, 4) if count else 0.0,
            "lines": count,
        }
