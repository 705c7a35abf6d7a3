"""``pfl flow test`` as a library call: one line (or one node), plus aggregation over it.

Results are also written where promptflow writes them (``<flow>/.promptflow/flow.output.json``,
``flow.detail.json``, ``flow.metrics.json``) so existing tooling keeps finding them, secrets masked.
Images are written as files there too (``.promptflow/output`` for outputs, ``.promptflow/intermediate``
for the rest) and referenced in the flow's message format, e.g. ``{"data:image/png;path": "..."}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from promptflow_lite.engine._flow import working_directory
from promptflow_lite.engine._load import load_flow
from promptflow_lite.engine._sync import run_sync
from promptflow_lite.engine._results import LineResult, NodeRun
from promptflow_lite.masking import mask_secrets
from promptflow_lite.tools._multimedia import Multimedia, has_images


@dataclass
class FlowTestOutcome:
    """What a flow test produced: outputs or the error, metrics, and the raw records."""

    ok: bool
    outputs: Any = None  # the flow's output dict; for a node test, the node's output as is
    error: dict[str, Any] | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    line: LineResult | None = None
    node_run: NodeRun | None = None
    streamed: bool = False  # the outputs were already written to ``stream_to``
    media: Multimedia = field(default_factory=Multimedia)
    image_folder: Path | None = None  # where output images are written (``<flow>/.promptflow/output``)

    def shown_outputs(self) -> Any:
        """The outputs as JSON values: images written to ``image_folder`` and referenced by absolute
        path, as ``pf flow test`` prints them."""
        if not has_images(self.outputs):
            return self.outputs
        import tempfile

        folder = self.image_folder or Path(tempfile.gettempdir()) / "promptflow_lite-images"
        return self.media.persist(self.outputs, folder)

    @property
    def trace_id(self) -> str | None:
        """The trace of the tested line (or node); None when tracing is off."""
        run = self.line if self.line is not None else self.node_run
        return run.trace_id if run is not None else None


def run_flow_test(source: str | Path, inputs: dict[str, Any], *, node: str | None = None, variant: str | None = None,
              environment_variables: dict[str, Any] | None = None, init: dict[str, Any] | None = None,
              connections: Any = None, stream_to: TextIO | None = None, echo=None) -> FlowTestOutcome:
    """Load ``source`` and run one line (or ``node``) with ``inputs``.

    With ``stream_to``, LLM outputs stream: each output is written there as ``name: value`` while
    it arrives (and kept, joined, in the outcome). ``echo`` receives what tools print.
    """
    flow = load_flow(source, variant=variant, connections=connections,
                     environment_variables=environment_variables, init=init)
    return run_loaded_flow_test(flow, inputs, node=node, variant=variant, stream_to=stream_to, echo=echo)


def run_loaded_flow_test(flow, inputs: dict[str, Any], *, node: str | None = None, variant: str | None = None,
                         stream_to: TextIO | None = None, echo=None) -> FlowTestOutcome:
    """:func:`run_flow_test` of a flow :func:`load_flow` gave (``variant``: the one it was loaded with)."""
    with working_directory(getattr(flow, "run_dir", flow.working_dir)):
        if node:
            outcome = _test_node(flow, node, inputs, echo)
        else:
            outcome = run_sync(_run(flow, inputs, stream_to, echo))
    outcome.media = getattr(flow, "media", None) or outcome.media
    outcome.image_folder = Path(flow.working_dir) / ".promptflow" / "output"
    if not node:
        _save(flow, outcome, variant)
    return outcome


async def _run(flow, inputs: dict[str, Any], stream_to: TextIO | None, echo) -> FlowTestOutcome:
    # chat_mode: a chat history input without default gets [] (promptflow's flow test does that too)
    line = await flow.arun(inputs, stream=stream_to is not None, echo=echo, chat_mode=True)
    if not line.ok:
        return FlowTestOutcome(False, error=line.error, line=line)
    if stream_to is not None:
        await _write_streaming(line.outputs, stream_to)
    outcome = FlowTestOutcome(True, outputs=line.outputs, line=line, streamed=stream_to is not None)
    if flow.has_aggregation:
        aggregation = await flow.aaggregate([line], echo=echo)
        outcome.metrics = aggregation.metrics
    return outcome


async def _write_streaming(outputs: dict[str, Any], out: TextIO) -> None:
    """Write every output as ``name: value``, generators chunk by chunk; keep the joined text."""
    import inspect

    for key, value in outputs.items():
        out.write(f"{key}: ")
        if inspect.isasyncgen(value) or inspect.isgenerator(value):
            parts = []
            chunks = value if inspect.isasyncgen(value) else _as_async(value)
            async for chunk in chunks:
                parts.append(str(chunk))
                out.write(str(chunk))
                out.flush()
            outputs[key] = "".join(parts)
        else:
            out.write(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str))
        out.write("\n")


async def _as_async(items):
    for item in items:
        yield item


def _test_node(flow, node: str, inputs: dict[str, Any], echo) -> FlowTestOutcome:
    from promptflow_lite.engine._single_node import run_single_node
    from promptflow_lite.errors import UserError

    if flow.kind != "dag":
        raise UserError("--node only applies to DAG flows.", hint="drop --node for flex and prompty flows.")
    run = run_sync(run_single_node(flow, node, inputs, echo))
    if run.error:
        return FlowTestOutcome(False, error=run.error, node_run=run)
    return FlowTestOutcome(True, outputs=run.output, node_run=run)


def _save(flow, outcome: FlowTestOutcome, variant: str | None) -> None:
    """Best effort: a read-only flow folder must not fail the test."""
    if outcome.outputs is not None and any(not _jsonable(v) for v in outcome.outputs.values()):
        return  # streamed generators: nothing to save yet
    folder = Path(flow.working_dir) / ".promptflow"
    relative = partial(outcome.media.persist, relative_to=flow.working_dir)
    suffix = ""
    if variant:
        from promptflow_lite.flow._variants import parse_variants

        suffix = "".join(f"-{node}-{variant_id}" for node, variant_id in parse_variants(variant).items())
    try:
        folder.mkdir(exist_ok=True)
        (folder / f"flow{suffix}.output.json").write_text(_dump(relative(outcome.outputs or {}, folder / "output")))
        (folder / f"flow{suffix}.metrics.json").write_text(_dump(outcome.metrics))
        detail = {"flow_runs": [_line_dict(outcome.line)] if outcome.line else [],
                  "node_runs": [_node_dict(r) for r in (outcome.line.node_runs.values() if outcome.line else [])]}
        (folder / f"flow{suffix}.detail.json").write_text(_dump(relative(detail, folder / "intermediate")))
    except OSError:
        pass


def _jsonable(value: Any) -> bool:
    import inspect

    return not (inspect.isgenerator(value) or inspect.isasyncgen(value))


def _dump(data: Any) -> str:
    return mask_secrets(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _line_dict(line: LineResult) -> dict[str, Any]:
    return {"status": line.status, "inputs": line.inputs, "output": line.outputs, "error": line.error,
            "start_time": line.start_time, "end_time": line.end_time,
            "system_metrics": {"duration": line.duration, **line.usage}}


def _node_dict(run: NodeRun) -> dict[str, Any]:
    return {"node": run.node, "status": run.status, "inputs": run.inputs, "output": run.output, "error": run.error,
            "start_time": run.start_time, "end_time": run.end_time,
            "system_metrics": {"duration": run.duration, **run.usage}, "logs": {"stdout": run.logs}}
