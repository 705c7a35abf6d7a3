"""BLEU (Papineni et al. 2002) from n-gram statistics, for one sentence or a whole corpus.

``ngram_stats`` counts, for n = 1..4, the answer's n-grams and how many of them appear in the
references (clipped by the most any single reference has); it also picks the reference length
closest to the answer's (ties: the shorter). ``bleu`` turns summed statistics into a score in
[0, 1]: the geometric mean of the n-gram precisions times the brevity penalty.
Sentence BLEU is smoothed like sacrebleu's default ("exp": the k-th zero precision becomes
1 / (2^k * total)) and uses the effective order (answers shorter than 4 tokens use fewer n);
corpus BLEU is the standard unsmoothed one. No shared word at all gives 0 either way.
"""

import math
import re
from collections import Counter

MAX_N = 4
TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str, lowercase: bool = False) -> list:
    """Words and single punctuation marks."""
    text = str(text)
    return TOKEN.findall(text.lower() if lowercase else text)


def ngrams(words: list, n: int) -> Counter:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def ngram_stats(answer: list, references: list) -> dict:
    """Matches and totals per n, answer length and closest reference length (token lists in)."""
    matches, totals = [], []
    for n in range(1, MAX_N + 1):
        found = ngrams(answer, n)
        most = Counter()
        for reference in references:
            most |= ngrams(reference, n)
        matches.append(sum((found & most).values()))
        totals.append(sum(found.values()))
    lengths = [len(reference) for reference in references] or [0]
    closest = min(lengths, key=lambda length: (abs(length - len(answer)), length))
    return {"matches": matches, "totals": totals, "answer_length": len(answer), "reference_length": closest}


def add_stats(all_stats: list) -> dict:
    """The corpus statistics: the element-wise sum of per-sentence statistics."""
    total = {"matches": [0] * MAX_N, "totals": [0] * MAX_N, "answer_length": 0, "reference_length": 0}
    for stats in all_stats:
        total["matches"] = [a + b for a, b in zip(total["matches"], stats["matches"])]
        total["totals"] = [a + b for a, b in zip(total["totals"], stats["totals"])]
        total["answer_length"] += stats["answer_length"]
        total["reference_length"] += stats["reference_length"]
    return total


def bleu(stats: dict, smooth: bool = False) -> float:
    """BLEU in [0, 1]; ``smooth=True`` is the sentence-level variant described above."""
    answer_length, reference_length = stats["answer_length"], stats["reference_length"]
    if answer_length == 0 or stats["matches"][0] == 0:
        return 0.0  # nothing shared: 0 even when smoothed (as NLTK)
    log_precisions, zeros = [], 0
    for matched, total in zip(stats["matches"], stats["totals"]):
        if total == 0:
            if smooth:
                break  # effective order: the answer has no n-grams this long
            return 0.0
        if matched == 0:
            if not smooth:
                return 0.0
            zeros += 1
            log_precisions.append(-math.log(2**zeros * total))
        else:
            log_precisions.append(math.log(matched / total))
    penalty = 1.0 if answer_length >= reference_length else math.exp(1 - reference_length / answer_length)
    return penalty * math.exp(sum(log_precisions) / len(log_precisions))
