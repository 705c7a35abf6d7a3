"""Aggregation node: mean sentence BLEU (``bleu``) and corpus BLEU over all lines (``corpus_bleu``)."""

from promptflow.core import log_metric, tool

from bleu_math import add_stats, bleu


@tool
def corpus_bleu(scores: list, stats: list) -> dict:
    scored = [score for score in scores if score is not None]
    metrics = {
        "bleu": round(sum(scored) / len(scored), 6) if scored else None,
        "corpus_bleu": round(bleu(add_stats([s for s in stats if s])), 6) if any(stats) else None,
    }
    for name, value in metrics.items():
        if value is not None:
            log_metric(name, value)
    return metrics
