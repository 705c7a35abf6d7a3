"""What each line of a run used, read from its journal: tokens per model, calls made, node timings, reuse.

A node's ``models`` record (per model: calls, cached calls, prompt and completion tokens) says what
it would cost as deployed (tokens of cached and reused results count) and what this evaluation
really sent (calls answered neither from the response cache nor reused from another run: the
requests the endpoint saw, retries aside). :func:`line_latency` is the line's critical path over
its nodes' durations: an answer from the response cache counts at the time its request took when it
was made (the cache keeps it), a node reused from another run at the time it took there
(:func:`resolve_reused` looks it up in that run's lines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

Tokens = dict[str, list[int]]  # model -> [prompt tokens, completion tokens]


@dataclass
class NodeUse:
    node: str
    status: str
    duration: float  # as it would take live: cached answers count at the time their requests took
    reused: bool  # taken from another run of the evaluation
    source: str | None  # that run
    calls: int  # model calls of the result (however it was obtained)
    sent: int  # model calls sent to an endpoint for this line (0 when cached or reused)
    tokens: Tokens = field(default_factory=dict)  # of every call of the result
    sent_tokens: Tokens = field(default_factory=dict)  # of the calls sent
    untimed: bool = False  # some answers came from the cache without their request's time: duration too short


@dataclass
class LineUse:
    line: int
    ok: bool
    duration: float
    nodes: list[NodeUse]

    def tokens(self) -> Tokens:
        return _sum(node.tokens for node in self.nodes)

    def sent_tokens(self) -> Tokens:
        return _sum(node.sent_tokens for node in self.nodes)

    @property
    def sent(self) -> int:
        return sum(node.sent for node in self.nodes)


def uses_from_journal(journal: dict[int, dict[str, Any]]) -> dict[int, LineUse]:
    """What each line of a journal (``RunFolder.read_journal()``) used, by line number."""
    from promptflow_lite.engine._results import COMPLETED

    uses = {}
    for number, entry in journal.items():
        nodes = [_node_use(node) for node in entry.get("nodes") or []]
        duration = max((entry.get("end_time") or 0.0) - (entry.get("start_time") or 0.0), 0.0)
        uses[number] = LineUse(number, entry["status"] == COMPLETED, duration, nodes)
    return uses


def resolve_reused(uses: dict[int, LineUse], runs: dict[str, dict[int, LineUse]]) -> None:
    """Give each reused node of ``uses`` the duration (and timing flag) it had in its source run (in ``runs``)."""
    for number, line in uses.items():
        for node in line.nodes:
            if node.reused:
                source = runs.get(node.source or "", {}).get(number)
                found = next((n for n in source.nodes if n.node == node.node), None) if source else None
                if found is not None:
                    node.duration, node.untimed = found.duration, found.untimed


def line_latency(line: LineUse, dependencies: dict[str, set[str]] | None) -> float:
    """The longest chain of node durations (``dependencies``: node → the nodes it waits for); without a
    DAG (flex flows, prompties) the line's own duration."""
    if not dependencies:
        return line.duration
    durations = {node.node: node.duration for node in line.nodes}
    finish: dict[str, float] = {}

    def done(name: str) -> float:
        if name not in finish:
            finish[name] = 0.0  # guards a cycle
            start = max((done(dep) for dep in dependencies.get(name, ()) if dep in durations), default=0.0)
            finish[name] = start + durations[name]
        return finish[name]

    return max((done(name) for name in durations), default=line.duration)


def _node_use(entry: dict[str, Any]) -> NodeUse:
    reused = bool(entry.get("reused_from"))
    tokens: Tokens = {}
    sent_tokens: Tokens = {}
    sent, replayed, untimed = 0, 0.0, False
    for model, counts in (entry.get("models") or {}).items():
        calls, cached = int(counts.get("calls", 0)), int(counts.get("cached", 0))
        pair = [int(counts.get("prompt_tokens", 0)), int(counts.get("completion_tokens", 0))]
        tokens[model] = pair
        replayed += float(counts.get("cached_seconds", 0.0))
        untimed = untimed or (cached > 0 and not counts.get("cached_seconds"))
        if not reused and calls > cached:
            share = (calls - cached) / calls  # tokens are kept per model, not per call: split evenly
            sent += calls - cached
            sent_tokens[model] = [round(pair[0] * share), round(pair[1] * share)]
    if not entry.get("models") and entry.get("usage"):  # a record from before models were kept
        usage = entry["usage"]
        tokens["unknown"] = [int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))]
        if not reused and not entry.get("cached"):
            sent = int(entry.get("model_calls") or 0)
            sent_tokens = {"unknown": list(tokens["unknown"])}
    duration = 0.0 if reused else max((entry.get("end_time") or 0.0) - (entry.get("start_time") or 0.0), 0.0) + replayed
    return NodeUse(entry["node"], entry.get("status", ""), duration, reused, entry.get("reused_from"),
                   int(entry.get("model_calls") or 0), sent, tokens, sent_tokens, untimed and not reused)


def _sum(items: Iterable[Tokens]) -> Tokens:
    total: Tokens = {}
    for tokens in items:
        for model, (prompt, completion) in tokens.items():
            pair = total.setdefault(model, [0, 0])
            pair[0] += prompt
            pair[1] += completion
    return total
