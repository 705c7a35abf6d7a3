"""``log_metric``: aggregation nodes report run metrics through it (FLOW_FORMAT §1.10).

Calls only count while the executor runs aggregation nodes (it sets a collector); elsewhere
they are ignored, as in promptflow. A later call with the same key overwrites.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

metrics_collector: ContextVar[dict[str, Any] | None] = ContextVar("pfl_metrics", default=None)


def log_metric(key: str, value: Any, variant_id: str | None = None) -> None:
    """Record ``value`` as metric ``key`` of the current run (``variant_id`` is accepted and ignored)."""
    collector = metrics_collector.get()
    if collector is None:
        return
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    collector[str(key)] = value


log_flow_metric = log_metric
