"""What a batch run keeps of each succeeded line for its aggregation: the values aggregation reads, not the line.

A DAG's aggregation nodes read per-line node values (``aggregation_inputs``) and some flow inputs;
a flex flow's ``__aggregate__`` reads the line outputs. Everything else of a line (its other inputs,
node runs, usage) is dropped as soon as the line is journalled, so a million-line run holds one small
record per line, and only when the flow has aggregation. Lines reused from the journal (a resumed
run) are read back the same way, one entry at a time.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from promptflow_lite.engine._results import LineResult
from promptflow_lite.runs._journal_index import JournalIndex

Keep = Callable[[LineResult], LineResult]


def keeper(flow: Any) -> Keep:
    """A function giving, for one succeeded line, the small ``LineResult`` that ``flow.aaggregate`` needs."""
    plan = getattr(flow, "plan", None)
    if plan is None:  # flex: ``__aggregate__`` takes the outputs
        return lambda line: LineResult(status=line.status, inputs={}, outputs=line.outputs,
                                       line_number=line.line_number, aggregation_inputs=line.aggregation_inputs)
    names = plan.aggregation_input_names

    def keep(line: LineResult) -> LineResult:
        inputs = {k: v for k, v in line.inputs.items() if k in names} if names else {}
        return LineResult(status=line.status, inputs=inputs, line_number=line.line_number,
                          aggregation_inputs=line.aggregation_inputs)

    return keep


def journalled_lines(index: JournalIndex, keep: Keep, skip: Callable[[int], bool]) -> Iterator[LineResult]:
    """The completed lines of a journal (but those ``skip`` says), as ``keep`` keeps them."""
    for entry in index.entries(completed_only=True):
        if not skip(entry["line_number"]):
            result = LineResult.from_json(entry)
            result.outputs = dict(entry.get("outputs") or {})
            yield keep(result)
