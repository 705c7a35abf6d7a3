"""Sentence BLEU of the answer against the ground truth, plus the n-gram statistics for corpus BLEU."""

from promptflow.core import tool

from bleu_math import bleu as bleu_score
from bleu_math import ngram_stats, tokenize


@tool
def sentence_bleu(answer: str, ground_truth: str, lowercase: bool = False) -> dict:
    stats = ngram_stats(tokenize(answer, lowercase), [tokenize(ground_truth, lowercase)])
    return {"bleu": bleu_score(stats, smooth=True), "stats": stats}
