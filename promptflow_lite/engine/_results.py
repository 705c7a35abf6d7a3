"""What running a line produces - per-node records and the line result - and its versioned JSON record.

Plain dataclasses, cheap to create (one per node per line). ``LineResult.to_json`` /
``LineResult.from_json`` are the one record of a line that the run journal, the trace writer, the
UI and the Ray engine read. It carries ``"format": LINE_FORMAT`` (run folders note it in
``meta.json`` too); a record without one comes from a release before formats were numbered and
reads as format 1, the same shape. A later format adds an upgrade of the older ones to
``_UPGRADES``. Statuses use promptflow's names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, NamedTuple

from promptflow_lite.errors import UserError
from promptflow_lite.masking import mask_secrets

RUNNING, COMPLETED, FAILED, BYPASSED, CANCELED = "Running", "Completed", "Failed", "Bypassed", "Canceled"

# Marker in LineResult.aggregation_inputs (persisted with the line): the flow returned one bare
# value (flex/prompty), stored as {"output": value}; serving and __aggregate__ unwrap it.
BARE_OUTPUT = "primitive_output"

LINE_FORMAT = 1  # the line record's format (key "format"); records without the key are format 1
_UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}  # format n -> n + 1


class UnsupportedLineFormat(UserError):
    """A line record was written by a newer promptflow_lite than this one."""


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
    # per model (deployment) the node called: {"calls": n, "cached": k, "prompt_tokens": p, "completion_tokens": c,
    # "cached_seconds": s} (s: how long the cached answers' requests took when they were made)
    models: dict[str, dict[str, int]] = field(default_factory=dict)
    reused_from: str | None = None  # the run whose result of this node on this line was taken (engine._node_reuse)
    trace_id: str | None = None  # the node's own trace, when it was traced outside any line (not recorded)
    # the node's model calls while it runs (the list in ``tools._observe.calls_collector``; not recorded):
    # tracing finds the running node by it
    calls: list | None = field(default=None, repr=False, compare=False)

    @property
    def duration(self) -> float:
        return max(self.end_time - self.start_time, 0.0)

    def record_model_calls(self, calls: list) -> None:
        """Count the node's model calls (``tools._observe.ModelCall``): usage, cached, and both per model."""
        self.model_calls = len(calls)
        self.usage = sum_usage(c.usage for c in calls)
        self.cached = all(c.cached for c in calls)
        for call in calls:
            counts = self.models.setdefault(str(call.request.get("model") or "unknown"), {"calls": 0, "cached": 0})
            counts["calls"] += 1
            counts["cached"] += int(call.cached)
            if call.cached and call.replayed_seconds:
                counts["cached_seconds"] = round(counts.get("cached_seconds", 0) + call.replayed_seconds, 4)
            for key, value in sum_usage([call.usage]).items():
                counts[key] = counts.get(key, 0) + value

    def to_dict(self) -> dict[str, Any]:
        """The node's part of its line's record (``models`` and ``reused_from`` only when there are any)."""
        record = {"node": self.node, "status": self.status, "inputs": self.inputs, "output": self.output,
                  "error": self.error, "start_time": self.start_time, "end_time": self.end_time, "usage": self.usage,
                  "cached": self.cached, "model_calls": self.model_calls, "logs": self.logs}
        if self.models:
            record["models"] = self.models
        if self.reused_from:
            record["reused_from"] = self.reused_from
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "NodeRun":
        return cls(node=data["node"], status=data["status"], inputs=data.get("inputs"), output=data.get("output"),
                   error=data.get("error"), start_time=data.get("start_time") or 0.0,
                   end_time=data.get("end_time") or 0.0, usage=data.get("usage") or {},
                   cached=bool(data.get("cached")), model_calls=data.get("model_calls") or 0,
                   logs=data.get("logs") or "", models=data.get("models") or {}, reused_from=data.get("reused_from"))


class _Encoded(NamedTuple):
    text: str
    exact: bool  # every value was plain JSON (no repr or other stand-in)


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
    # the record's JSON text, made once when first needed: the run journal and the trace writer share
    # it, so a result does not change once its line has ended
    _encoded: _Encoded | None = field(default=None, init=False, repr=False, compare=False)

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

    # the record ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The line's record (format ``LINE_FORMAT``): status, inputs, outputs and aggregation inputs
        (or the error), usage, cache hit, trace id and its node runs."""
        record = {"format": LINE_FORMAT, "line_number": self.line_number, "status": self.status,
                  "inputs": self.inputs, "start_time": self.start_time, "end_time": self.end_time,
                  "usage": self.usage, "cached": self.cached, "trace_id": self.trace_id,
                  "nodes": [run.to_dict() for run in self.node_runs.values()]}
        if self.status == COMPLETED:
            record["outputs"] = self.outputs
            record["aggregation_inputs"] = self.aggregation_inputs
        else:
            record["error"] = self.error
        return record

    def to_json(self) -> str:
        """The record as one line of JSON (values JSON cannot hold: see :func:`dumps`), made once and
        masked (:func:`~promptflow_lite.masking.mask_secrets`): no known secret is written."""
        return self._encode().text

    @property
    def json_is_exact(self) -> bool:
        """Whether :meth:`to_json` holds every value exactly (no ``repr`` or other stand-in)."""
        return self._encode().exact

    def _encode(self) -> _Encoded:
        encoded = self._encoded
        if encoded is None:
            record = self.to_dict()
            try:
                encoded = _Encoded(mask_secrets(_strict(record), tokens=False), True)
            except TypeError:  # a value JSON cannot hold
                encoded = _Encoded(mask_secrets(_lenient(record), tokens=False), False)
            self._encoded = encoded
        return encoded

    @classmethod
    def from_json(cls, record: str | Mapping[str, Any], *, exact: bool | None = None) -> "LineResult":
        """The line result a record (JSON text or its dict, any format up to ``LINE_FORMAT``) holds.

        With ``exact`` (what :attr:`json_is_exact` said where the text was made, e.g. in another
        process), a record in this format keeps its text, masked with this process's secrets too, as
        the result's :meth:`to_json`: it is not encoded again."""
        text = mask_secrets(record, tokens=False) if exact is not None and isinstance(record, str) else None
        raw = json.loads(text or record) if isinstance(record, str) else record
        data = upgraded(raw)
        result = cls(status=data["status"], inputs=data.get("inputs") or {}, outputs=data.get("outputs"),
                     error=data.get("error"), node_runs={n["node"]: NodeRun.from_dict(n) for n in data.get("nodes") or ()},
                     line_number=data.get("line_number"), start_time=data.get("start_time") or 0.0,
                     end_time=data.get("end_time") or 0.0, aggregation_inputs=data.get("aggregation_inputs") or {},
                     trace_id=data.get("trace_id"))
        if text is not None and raw.get("format") == LINE_FORMAT:
            result._encoded = _Encoded(text, exact)
        return result


def upgraded(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """``record`` in format ``LINE_FORMAT``: older formats upgraded, newer ones refused."""
    number = record.get("format", 1)
    if number > LINE_FORMAT:
        raise UnsupportedLineFormat(f"A line record has format {number}; this promptflow_lite reads formats up to "
                                    f"{LINE_FORMAT}.", hint="upgrade promptflow_lite to read runs made by newer releases.")
    while number < LINE_FORMAT:
        record, number = _UPGRADES[number](dict(record)), number + 1
    return record


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


# JSON ----------------------------------------------------------------------------------------
def _fallback(value: Any) -> Any:
    from promptflow_lite.tools._multimedia import Multimedia, PFBytes, Text

    if isinstance(value, PFBytes):  # a run writes images as files before; this keeps any other image whole
        return Multimedia().base64_reference(value)
    if isinstance(value, Text):
        return value.serialize()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "model_dump"):
        try:
            return value.model_dump()
        except Exception:  # noqa: BLE001 - fall through to repr
            pass
    return repr(value)


_strict = json.JSONEncoder(ensure_ascii=False).encode
_lenient = json.JSONEncoder(ensure_ascii=False, default=_fallback).encode


def dumps(value: Any) -> str:
    """One line of JSON for any run record: images as promptflow's dicts, numpy values as lists, sets
    sorted, times in ISO form, anything else JSON cannot hold as its ``repr``."""
    return _lenient(value)
