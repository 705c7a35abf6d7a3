"""What running a line produces: per-node records and the line result.

Plain dataclasses, cheap to create (one per node per line) and easy to serialise for the run
store, traces, serving and the UI. Statuses use promptflow's names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RUNNING, COMPLETED, FAILED, BYPASSED, CANCELED = "Running", "Completed", "Failed", "Bypassed", "Canceled"

# Marker in LineResult.aggregation_inputs (persisted with the line): the flow returned one bare
# value (flex/prompty), stored as {"output": value}; serving and __aggregate__ unwrap it.
BARE_OUTPUT = "primitive_output"


@dataclass
class NodeRun:
    """One node's execution within a line (or the aggregation step)."""

    node: str
    status: str
    inputs: dict[str, Any] | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    start_time: float = 0.0
    end_time: float = 0.0
    usage: dict[str, int] = field(default_factory=dict)  # token counts of model calls made by the node
    cached: bool = False  # every model call of the node was answered from the cache
    model_calls: int = 0
    logs: str = ""
    trace_id: str | None = None  # the node's own trace, when it was traced outside any line

    @property
    def duration(self) -> float:
        return max(self.end_time - self.start_time, 0.0)

    def record_model_calls(self, calls: list) -> None:
        """Count the node's model calls (``tools.observe.ModelCall``): usage, cached."""
        self.model_calls = len(calls)
        self.usage = sum_usage(c.usage for c in calls)
        self.cached = all(c.cached for c in calls)


@dataclass
class LineResult:
    """A line's outcome: outputs (or error), node runs and what aggregation needs from it."""

    status: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    node_runs: dict[str, NodeRun] = field(default_factory=dict)
    line_number: int | None = None
    start_time: float = 0.0
    end_time: float = 0.0
    aggregation_inputs: dict[str, Any] = field(default_factory=dict)
    trace_id: str | None = None
    # the line's JSON text, made once when first needed (engine.line_json.encode_line): the run
    # journal and the trace writer share it, so a result is not changed after its line ended
    encoded: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED

    @property
    def duration(self) -> float:
        return max(self.end_time - self.start_time, 0.0)

    @property
    def usage(self) -> dict[str, int]:
        return sum_usage(run.usage for run in self.node_runs.values())

    @property
    def bare_output(self) -> bool:
        """The flow returned a single value, kept as ``outputs["output"]``."""
        return bool(self.aggregation_inputs.get(BARE_OUTPUT))

    @property
    def cached(self) -> bool:
        """True when the line made model calls and all were cache hits."""
        calls = [r for r in self.node_runs.values() if r.model_calls]
        return bool(calls) and all(r.cached for r in calls)


@dataclass
class AggregationResult:
    """The aggregation step of a run: metrics logged and the aggregation node runs."""

    metrics: dict[str, Any] = field(default_factory=dict)
    node_runs: dict[str, NodeRun] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    failed_node: str | None = None


def sum_usage(usages) -> dict[str, int]:
    total: dict[str, int] = {}
    for usage in usages:
        for key, value in usage.items():
            if isinstance(value, (int, float)):
                total[key] = total.get(key, 0) + int(value)
    return total
