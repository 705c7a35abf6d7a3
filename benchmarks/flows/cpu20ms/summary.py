from promptflow.core import log_metric, tool


@tool
def summary(digests: list) -> dict:
    log_metric("lines", len(digests))
    log_metric("checksum", sum(digests) % 1_000_003)
    return {"lines": len(digests)}
