"""One line of a DAG flow: the async scheduler (FLOW_FORMAT §1.6, §1.8).

Every node whose dependencies are done starts at once: async tools on the event loop, sync
tools in the thread pool. Activate conditions and bypass propagation follow promptflow: a
bypassed node's output is ``None`` downstream (or the parameter's default when it has one).
The first failing node fails the line and cancels the rest.

An async stream (an LLM node's ``stream: true`` answer) reaches the nodes that take it as a sync
generator, as promptflow's LLM tools stream: it is read once on the loop and each node gets a
generator over its chunks (FLOW_FORMAT §2.3). Only a user tool's async generator fed to a user
async tool is passed as is, as promptflow does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from promptflow_lite.engine import _hooks as hooks
from promptflow_lite.engine._deadline import within
from promptflow_lite.engine._invoke import ESCAPE_KEY, run_node
from promptflow_lite.engine._node_reuse import active_reuse
from promptflow_lite.engine._nodes import ASYNC, ASYNC_GEN, PreparedNode
from promptflow_lite.engine._outputs import ensure_serializable, join_generators
from promptflow_lite.engine._results import BYPASSED, CANCELED, COMPLETED, FAILED, RUNNING, LineResult, NodeRun
from promptflow_lite.errors import RAISE_TIMEOUT, LineTimeoutError, PflError, UserError, error_dict
from promptflow_lite.flow._reference import InputRef, NodeRef, PropertyError, resolve_property


_PLAIN = frozenset({str, int, float, bool, type(None), list, dict, tuple})  # never a stream (an ABC check is slow)


class InvalidReferenceProperty(UserError):
    """A reference's property path does not exist in the referenced output."""


class LinePlan:
    """What every line of a flow shares: nodes, dependency counts, dependents, outputs."""

    def __init__(self, spec, nodes: list[PreparedNode]):
        self.spec = spec
        self.flow_name = spec.flow_name
        self.line_nodes = [n for n in nodes if not n.aggregation]
        self.aggregation_nodes = [n for n in nodes if n.aggregation]
        names = {n.name for n in self.line_nodes}
        self.dep_counts = {n.name: len(n.deps & names) for n in self.line_nodes}
        self.dependents: dict[str, list[PreparedNode]] = {n.name: [] for n in self.line_nodes}
        for node in self.line_nodes:
            for dep in node.deps & names:
                self.dependents[dep].append(node)
        self.roots = [n for n in self.line_nodes if self.dep_counts[n.name] == 0]
        self.node_types = {n.name: n.spec.type or "python" for n in self.line_nodes}  # for the line's trace span
        referenced = {r.node for n in self.line_nodes for r in n.refs.values() if isinstance(r, NodeRef)}
        self.outputs = {}
        for name, output in spec.outputs.items():
            ref = output.ref
            if isinstance(ref, NodeRef) and ref.node not in names:
                continue  # an output of an aggregation node: dropped, as in promptflow
            self.outputs[name] = ref if ref is not None else output.reference
        output_nodes = {r.node for r in self.outputs.values() if isinstance(r, NodeRef)}
        self.streamable = {n.name for n in self.line_nodes
                           if n.stream_param and n.name in output_nodes and n.name not in referenced}
        self.aggregation_refs = sorted({str(r): r for n in self.aggregation_nodes for r in _all_refs(n)
                                        if isinstance(r, NodeRef) and r.node in names}.items())
        # the flow inputs the aggregation nodes read (a batch run keeps just these of each line)
        self.aggregation_input_names = {r.name for n in self.aggregation_nodes for r in _all_refs(n)
                                        if isinstance(r, InputRef)}
        # (node, input) pairs that take a user tool's async generator as is; other async streams are read
        by_name = {n.name: n for n in self.line_nodes}
        self.async_inputs = {(n.name, key) for n in self.line_nodes if _user_code(n) and n.mode in (ASYNC, ASYNC_GEN)
                             for key, r in n.refs.items() if isinstance(r, NodeRef) and _user_code(by_name.get(r.node))}


def _user_code(node: PreparedNode | None) -> bool:
    source = node.spec.source if node is not None else None
    return node is not None and node.spec.type == "python" and (source is None or source.type != "package")


def _all_refs(node: PreparedNode):
    yield from node.refs.values()
    if node.spec.activate_ref is not None:
        yield node.spec.activate_ref


async def run_line(plan: LinePlan, inputs: dict[str, Any], *, line_number: int | None = None,
                   stream: bool = False, timeout: float | None = None, echo=None,
                   attributes: dict[str, Any] | None = None) -> LineResult:
    """Run the line nodes for resolved flow ``inputs``; never raises for a node failure.

    ``attributes`` are added to the line's trace span (run name, line number, lineage).
    """
    result = LineResult(status=COMPLETED, inputs=inputs, line_number=line_number, start_time=time.time())
    tracer = hooks.active()
    span = tracer.start_line(plan.flow_name, inputs, attributes or {}, result, plan.node_types) if tracer else None
    state = _LineState(plan, inputs, result, stream, echo, span is not None and span.node_hooks)
    try:
        await within(state.run(), timeout)
        outputs, aggregation_inputs = state.outputs(), state.aggregation_inputs()
        if not stream:  # streamed outputs stay generators for the caller to read
            outputs = await join_generators(outputs)
            ensure_serializable(outputs)
            if aggregation_inputs:
                aggregation_inputs = await join_generators(aggregation_inputs)
        result.outputs, result.aggregation_inputs = outputs, aggregation_inputs
    except asyncio.CancelledError:  # the caller gave up (a served client left): stop the nodes too
        state.cancel_running()
        result.status, result.end_time = CANCELED, time.time()
        if span is not None:
            tracer.end_line(span, result)
        raise
    except asyncio.TimeoutError:
        state.cancel_running()
        _fail(result, LineTimeoutError(f"Line execution timeout after {timeout} seconds.", line=line_number,
                                       hint=f"{RAISE_TIMEOUT} or make the slow node faster."))
    except PflError as exc:
        _fail(result, exc)
    except Exception as exc:  # a bug of ours: report it, do not sink the run
        _fail(result, exc)
    result.end_time = time.time()
    if span is not None:
        result.trace_id = tracer.end_line(span, result)
    return result


def _fail(result: LineResult, exc: BaseException) -> None:
    result.status = FAILED
    result.outputs = None
    result.error = error_dict(exc)


class _LineState:
    __slots__ = ("plan", "inputs", "result", "values", "bypassed", "pending", "running", "stream", "echo", "read",
                 "reuse", "traced")

    def __init__(self, plan: LinePlan, inputs, result: LineResult, stream: bool, echo, traced: bool):
        self.plan, self.inputs, self.result = plan, inputs, result
        self.traced = traced  # the nodes call the tracing hooks (else the line's span learns them from the result)
        self.values: dict[str, Any] = {}
        self.bypassed: set[str] = set()
        self.pending = dict(plan.dep_counts)
        self.running: dict[asyncio.Task, PreparedNode] = {}
        self.stream, self.echo = stream, echo
        self.read: dict[int, tuple[AsyncIterator, asyncio.Task]] = {}  # id(stream) -> (stream, its chunks)
        self.reuse = active_reuse.get()  # None unless an evaluation of variant combinations installed one

    async def run(self) -> None:
        ready = list(self.plan.roots)
        while ready or self.running:
            while ready:
                node = ready.pop(0)
                if self._should_bypass(node):
                    self.bypassed.add(node.name)
                    self.values[node.name] = None
                    self.result.node_runs[node.name] = NodeRun(node.name, BYPASSED, start_time=time.time(),
                                                               end_time=time.time())
                    ready.extend(self._release(node))
                elif self.reuse is not None and self._reused(node):
                    ready.extend(self._release(node))
                elif not ready and not self.running:
                    await self._run_node(node)  # the only runnable node: no task needed
                    ready.extend(self._release(node))
                else:
                    task = asyncio.ensure_future(self._run_node(node))
                    self.running[task] = node
            if not self.running:
                break
            done, _ = await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                node = self.running.pop(task)
                if task.exception() is not None:
                    self.cancel_running()
                    raise task.exception()
                ready.extend(self._release(node))

    def cancel_running(self) -> None:
        for task, node in self.running.items():
            task.cancel()
            run = self.result.node_runs.get(node.name)
            if run is not None and run.status not in (COMPLETED, FAILED):
                run.status = CANCELED
                run.end_time = time.time()
        self.running.clear()

    def _release(self, node: PreparedNode) -> list[PreparedNode]:
        freed = []
        for child in self.plan.dependents[node.name]:
            self.pending[child.name] -= 1
            if self.pending[child.name] == 0:
                freed.append(child)
        return freed

    # values -------------------------------------------------------------------------------
    def _value(self, ref, node: str | None = None, *, output: str | None = None) -> Any:
        """The value ``ref`` points at, for ``node``'s inputs or for flow ``output``."""
        if isinstance(ref, InputRef):
            if ref.name not in self.inputs:
                raise UserError(f"Flow input '{ref.name}' is not provided.", node=node)
            return self.inputs[ref.name]
        try:
            return resolve_property(self.values[ref.node], ref.prop)
        except PropertyError as exc:
            used_by = f" for flow output '{output}'" if output else ""
            raise InvalidReferenceProperty(
                f"Invalid property '{ref.prop}' when accessing the output of node '{ref.node}'{used_by}: "
                f"'{exc}' does not exist.", node=node, hint=f"check what node '{ref.node}' returns.") from None

    def _should_bypass(self, node: PreparedNode) -> bool:
        activate = node.spec.activate
        if activate is not None:
            ref = node.spec.activate_ref
            if isinstance(ref, NodeRef) and ref.node in self.bypassed:
                return True
            when = self._value(ref, node.name) if ref is not None else activate.when
            return not (when == activate.is_)
        if not self.bypassed:  # the common case: nothing upstream was bypassed
            return False
        node_refs = [r.node for r in node.refs.values() if isinstance(r, NodeRef)]
        return bool(node_refs) and all(name in self.bypassed for name in node_refs)

    def _kwargs(self, node: PreparedNode) -> dict[str, Any]:
        kwargs = dict(node.literals)
        for key, ref in node.refs.items():
            if isinstance(ref, NodeRef) and ref.node in self.bypassed:
                if key not in node.with_default:
                    kwargs[key] = None
                continue
            kwargs[key] = self._value(ref, node.name)
        if node.escape_inputs:
            kwargs[ESCAPE_KEY] = list(node.escape_inputs)
        if node.name in self.plan.streamable:
            kwargs[node.stream_param] = self.stream
        return kwargs

    def _stream_keys(self, node: PreparedNode, kwargs: dict[str, Any]) -> list[str]:
        """The inputs of ``node`` holding an async stream it must get as a sync generator."""
        return [k for k, v in kwargs.items() if type(v) not in _PLAIN and isinstance(v, AsyncIterator)
                and (node.name, k) not in self.plan.async_inputs]

    async def _sync_streams(self, kwargs: dict[str, Any], keys: list[str]) -> dict[str, Any]:
        """``kwargs`` with the streams under ``keys`` as sync generators over their chunks (read on
        the loop, so a sync tool inline on the loop never waits on the loop)."""
        kwargs = dict(kwargs)
        for key in keys:
            stream = kwargs[key]
            if id(stream) not in self.read:  # several nodes may take one stream: it is read once
                self.read[id(stream)] = (stream, asyncio.ensure_future(_chunks(stream)))
            chunks = await self.read[id(stream)][1]
            kwargs[key] = (chunk for chunk in chunks)
        return kwargs

    def _replayed(self, value: Any) -> Any:
        """A stream that nodes have read, as a generator over its chunks; other values as they are."""
        read = self.read.get(id(value)) if self.read else None
        return value if read is None else (chunk for chunk in read[1].result())

    # execution ----------------------------------------------------------------------------
    def _reused(self, node: PreparedNode) -> bool:
        """Take the node's result from the reuse hook, if it has one for this line (its span takes no time)."""
        run = self.reuse.lookup(node.name, self.result.line_number)
        if run is None:
            return False
        self.result.node_runs[node.name] = run
        self.values[node.name] = run.output
        tracer = hooks.active() if self.traced else None
        span = tracer.start_node(node.name, node.spec.type or "python", run.inputs or {}) if tracer else None
        if span is not None:
            tracer.end_node(span, run)
        return True

    async def _run_node(self, node: PreparedNode) -> None:
        run = NodeRun(node.name, RUNNING, start_time=time.time())
        self.result.node_runs[node.name] = run
        self.values[node.name] = await run_node(run, node.spec.type or "python", partial(self._kwargs, node),
                                                partial(self._call, node), echo=self.echo, traced=self.traced)
        if self.reuse is not None:
            self.reuse.store(node.name, self.result.line_number, run)

    def _call(self, node: PreparedNode, kwargs: dict[str, Any]):
        streams = self._stream_keys(node, kwargs)
        if streams:  # rare: no coroutine of its own for the common case (per-node hot path)
            return self._call_with_streams(node, kwargs, streams)
        return node.invoke(kwargs)

    async def _call_with_streams(self, node: PreparedNode, kwargs: dict[str, Any], streams: list[str]) -> Any:
        return await node.invoke(await self._sync_streams(kwargs, streams))

    # results ------------------------------------------------------------------------------
    def outputs(self) -> dict[str, Any]:
        outputs = {}
        for name, ref in self.plan.outputs.items():
            if isinstance(ref, NodeRef):
                value = self._replayed(self._value(ref, output=name))  # None for a bypassed node, as in promptflow
            elif isinstance(ref, InputRef):
                value = self.inputs.get(ref.name)
            else:
                value = ref  # a literal string
            outputs[name] = value
        return outputs

    def aggregation_inputs(self) -> dict[str, Any]:
        captured = {}
        for key, ref in self.plan.aggregation_refs:
            captured[key] = None if ref.node in self.bypassed else self._replayed(self._value(ref))
        return captured


async def _chunks(stream: AsyncIterator) -> list:
    return [chunk async for chunk in stream]
