from collections import Counter

from promptflow.core import log_metric, tool


@tool
def category_counts(categories: list) -> dict:
    """Runs once over all lines: the share of each predicted category."""
    counts = Counter(categories)
    for category, count in sorted(counts.items()):
        log_metric(f"share_{category}", round(count / len(categories), 4))
    return dict(counts)
