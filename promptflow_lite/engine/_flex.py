"""Flex flows (FLOW_FORMAT §8.1): a line is one call of a Python function or class instance.

``FlexFlow.from_file("flow.flex.yaml", init={...})`` imports the entry once (a class entry is
instantiated once and shared by all lines); ``await flow.arun(inputs)`` calls it - sync entries
in the thread pool, async ones on the event loop - and ``await flow.aaggregate(lines)`` calls
the class's ``__aggregate__`` over the successful lines' outputs.

Outputs take promptflow's batch form: a dict as is, a dataclass as a dict of its fields, any
other value as ``{"output": value}``; generators (also inside dicts and dataclass fields) are
joined into strings unless the caller streams. ``ScriptFlow`` holds this line machinery and is
shared with ``PromptyFlow``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import os
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable

from promptflow_lite.engine import _hooks as hooks
from promptflow_lite.engine._deadline import within
from promptflow_lite.engine._entry import (
    check_entry_interface, create_entry, entry_inputs, entry_name, import_entry, output_names,
)
from promptflow_lite.engine._flow import Flow, line_context, working_directory
from promptflow_lite.engine._invoke import run_node
from promptflow_lite.engine._outputs import ensure_serializable, join_generators
from promptflow_lite.engine._connections import active_connections
from promptflow_lite.engine._results import (
    BARE_OUTPUT, COMPLETED, FAILED, RUNNING, AggregationResult, LineResult, NodeRun,
)
from promptflow_lite.engine._inputs import typed_input
from promptflow_lite.engine._threads import run_in_thread
from promptflow_lite.errors import (
    RAISE_TIMEOUT, InputError, LineTimeoutError, ToolExecutionError, UserError, error_dict)
from promptflow_lite.flow._flex import EntryInput, FlexYaml, load_flex_yaml
from promptflow_lite.flow._includes import merge_includes, resolve_includes
from promptflow_lite.tools._metrics import metrics_collector

AGGREGATE = "__aggregate__"


class ScriptExecutionError(ToolExecutionError):
    """The flow's Python code raised; keeps the exception and the user's traceback."""

    def __init__(self, func_name: str, exc: BaseException, user_traceback: str = ""):
        self.inner, self.user_traceback = exc, user_traceback
        UserError.__init__(self, f"Execution failure in '{func_name}': ({type(exc).__name__}) {exc}")


class AttrDict(dict):
    """A line output given to ``__aggregate__``: items are also attributes (``r.answer``)."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


class ScriptFlow(Flow):
    """A flow whose line is one call of ``func`` (sync, async, or an async generator function)."""

    def __init__(self, *, func: Callable[..., Any], func_name: str, name: str, path: Path | None,
                 working_dir: Path, inputs: dict[str, EntryInput],
                 outputs: list[str] | None = None,
                 sample_inputs: dict[str, Any] | Callable[[], dict[str, Any]] | None = None,
                 aggregate: Callable[..., Any] | None = None, connections: Any = None):
        self.func, self.func_name = func, func_name
        self.connections = connections  # what prompties loaded by the flow's code use
        self.name, self.path, self.working_dir = name, path, working_dir
        self._inputs = inputs
        self._outputs = list(outputs or [])
        self._sample = sample_inputs  # inputs of a call without any (a callable reads them only then)
        self._aggregate = aggregate
        target = inspect.unwrap(func)
        self._is_async = (inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)
                          or inspect.iscoroutinefunction(getattr(target, "__call__", None)))

    # interface ---------------------------------------------------------------------------
    @property
    def inputs(self) -> dict[str, EntryInput]:
        return self._inputs

    @property
    def output_names(self) -> list[str]:
        return list(self._outputs)

    @property
    def has_aggregation(self) -> bool:
        return self._aggregate is not None

    def resolve_inputs(self, given: dict[str, Any], line_number: int | None = None) -> dict[str, Any]:
        """The call's keyword arguments: the sample when nothing is given to a single test (a batch line,
        which has a line number, takes the defaults, as promptflow's), declared defaults, then values converted
        to their types; keys the entry does not take are dropped."""
        if not given and self._sample and line_number is None:
            given = dict(self._sample() if callable(self._sample) else self._sample)
        where = f" in line {line_number} of the input data" if line_number is not None else ""
        resolved = {k: v for k, v in given.items() if k in self._inputs}
        for name, spec in self._inputs.items():
            if name not in resolved:
                if spec.required:
                    raise InputError(f"The value for flow input '{name}' is not provided{where}.", line=line_number,
                                     hint=f"pass it (e.g. --inputs {name}=...), map a data column to it, "
                                          "or give the parameter a default.")
                if spec.default is not None:  # converted too: a default that does not fit its type fails the line
                    resolved[name] = typed_input(name, spec.type.value, spec.default, line_number=line_number,
                                                 convert=spec.convert, hint=f"fix the default of '{name}'.")
                continue
            resolved[name] = typed_input(name, spec.type.value, resolved[name], line_number=line_number,
                                         convert=spec.convert, hint=f"pass a valid {spec.type.value}.")
        return resolved

    async def arun(self, inputs: dict[str, Any], *, line_number: int | None = None, stream: bool = False,
                   timeout: float | None = None, echo=None, attributes: dict[str, Any] | None = None,
                   **_: Any) -> LineResult:
        result = LineResult(status=COMPLETED, inputs=dict(inputs), line_number=line_number, start_time=time.time())
        tracer = hooks.active()
        span = tracer.start_line(self.name, dict(inputs), attributes or {}) if tracer else None
        try:
            result.inputs = self.resolve_inputs(dict(inputs), line_number)
            call = self._run_entry(result, stream, echo)
            with working_directory(), line_context(None, self.kind, attributes):
                output = await within(call, timeout)
            result.outputs = result.node_runs[self.func_name].output
            if not stream:
                ensure_serializable(result.outputs)
            if not (isinstance(output, dict) or dataclasses.is_dataclass(output)):
                result.aggregation_inputs = {BARE_OUTPUT: True}
        except asyncio.TimeoutError:
            _fail(result, LineTimeoutError(f"Line execution timeout after {timeout} seconds.", line=line_number,
                                           hint=f"{RAISE_TIMEOUT} or make the flow faster."))
        except Exception as exc:  # the line fails, the caller goes on
            _fail(result, exc)
        result.end_time = time.time()
        if span is not None:
            result.trace_id = tracer.end_line(span, result)
        return result

    async def _run_entry(self, result: LineResult, stream: bool, echo) -> Any:
        """Call the entry as one node-like run (for logs, token counts and its trace span)."""
        run = NodeRun(self.func_name, RUNNING, start_time=time.time())
        result.node_runs[self.func_name] = run
        output = await run_node(run, self.kind, lambda: result.inputs, partial(self._call, stream), echo=echo,
                                error=ScriptExecutionError, locate=False)
        run.output = to_output_dict(output)
        return output

    async def _call(self, stream: bool, inputs: dict[str, Any]) -> Any:
        token = active_connections.set(self.connections)  # for prompties the flow's code loads
        try:
            output = await _called(self.func, self._is_async, inputs)
            return output if stream else await join_generators(output)
        finally:
            active_connections.reset(token)

    # aggregation -------------------------------------------------------------------------
    async def aaggregate(self, lines: Iterable[LineResult], echo=None) -> AggregationResult:
        """``__aggregate__`` over the successful lines (in line order); a dict it returns becomes the
        metrics. Its failure never fails the run: the error is reported, metrics stay empty."""
        result = AggregationResult()
        if self._aggregate is None:
            return result
        succeeded = sorted((line for line in lines if line.ok), key=lambda line: line.line_number or 0)
        values = [_aggregation_value(line) for line in succeeded]
        name = f"{self.func_name}.{AGGREGATE}"
        run = NodeRun(AGGREGATE, RUNNING, start_time=time.time())
        result.node_runs[AGGREGATE] = run
        token = metrics_collector.set(result.metrics)
        try:
            output = await run_node(run, AGGREGATE, lambda: {_only_param(self._aggregate): values},
                                    partial(_called, self._aggregate, _is_async(self._aggregate)), echo=echo,
                                    error=lambda _, exc, tb: ScriptExecutionError(name, exc, tb), locate=False,
                                    traced=False)
            if isinstance(output, dict):
                result.metrics.update(output)
        except Exception:
            result.error, result.failed_node, result.metrics = run.error, AGGREGATE, {}
        finally:
            metrics_collector.reset(token)
        return result


class FlexFlow(ScriptFlow):
    kind = "flex"

    @classmethod
    def from_file(cls, file: Path, *, connections: Any = None, environment_variables: dict[str, Any] | None = None,
                  init: dict[str, Any] | None = None, data: dict[str, Any] | None = None) -> "FlexFlow":
        """Load ``file`` (``flow.flex.yaml`` or any YAML with ``entry:``) and create its entry once.

        ``init`` (else ``sample.init``) are the class entry's init arguments; connection and model
        configuration arguments may be given by connection name.
        """
        flex = load_flex_yaml(Path(file), data)
        return cls._create(flex, connections, environment_variables, init)

    @classmethod
    def from_entry(cls, entry: str, working_dir: str | Path = ".", *, connections: Any = None,
                   environment_variables: dict[str, Any] | None = None,
                   init: dict[str, Any] | None = None) -> "FlexFlow":
        """A flex flow for ``module:function`` without a YAML file (``pfl run create --flow module:fn``)."""
        folder = Path(working_dir).resolve()
        flex = load_flex_yaml(folder / "flow.flex.yaml", {"entry": entry})
        flex.path = None  # type: ignore[assignment]
        return cls._create(flex, connections, environment_variables, init)

    @classmethod
    def _create(cls, flex: FlexYaml, connections: Any, environment_variables: dict[str, Any] | None,
                init: dict[str, Any] | None) -> "FlexFlow":
        from promptflow_lite.engine._connections import connection_provider

        provider = connection_provider(connections)
        where = _str(flex.path)
        _export_environment({**(flex.data.get("environment_variables") or {}), **(environment_variables or {})},
                            provider)
        run_dir = merge_includes(flex.working_dir, resolve_includes(flex.path.parent if flex.path else flex.working_dir,
                                                                    flex.data.get("additional_includes")), flex.path)
        with working_directory(run_dir):
            target = import_entry(flex.entry, run_dir, where)
            check_entry_interface(target, where)
            if init and not inspect.isclass(target):
                raise UserError(f"The entry '{flex.entry}' is a function; init arguments only apply to a class "
                                "entry.", file=where, hint="drop --init, or make the entry a class with __init__.")
            token = active_connections.set(provider)  # for prompties loaded by __init__
            try:
                func, instance = create_entry(target, dict(init or flex.sample.get("init") or {}),
                                              flex.declared("init"), provider, where)
            finally:
                active_connections.reset(token)
        inputs = entry_inputs(func, flex.declared("inputs"))
        flow = cls(func=func, func_name=entry_name(func), name=flex.name, path=flex.path,
                   working_dir=flex.working_dir, inputs=inputs,
                   outputs=output_names(func, flex.data.get("outputs") or {}),
                   sample_inputs=flex.sample.get("inputs"), aggregate=getattr(instance, AGGREGATE, None),
                   connections=provider)
        flow.run_dir = run_dir  # the folder it runs from: the code folder, or a copy with the includes merged in
        return flow


# ---------------------------------------------------------------------------------------------
# outputs


def to_output_dict(value: Any) -> dict[str, Any]:
    """promptflow's batch form: dict as is, dataclass → its fields, anything else → ``{"output": value}``;
    nested dataclasses and pydantic models become plain dicts."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return {"output": _plain(value)}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump") and callable(value.model_dump) and not isinstance(value, type):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------------------------------------


def _aggregation_value(line: LineResult) -> Any:
    outputs = line.outputs or {}
    if line.bare_output:
        return outputs.get("output")
    return AttrDict(outputs)


async def _called(func: Callable[..., Any], is_async: bool, kwargs: dict[str, Any]) -> Any:
    """``func(**kwargs)``: an async function on the loop, a sync one in the thread pool."""
    output = func(**kwargs) if is_async else await run_in_thread(func, **kwargs)
    return await output if inspect.isawaitable(output) else output


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(inspect.unwrap(func))


def _only_param(func: Callable[..., Any]) -> str:
    return next(iter(inspect.signature(func).parameters))


def _fail(result: LineResult, exc: BaseException) -> None:
    result.status, result.outputs, result.error = FAILED, None, error_dict(exc)


def _str(path: Path | None) -> str | None:
    return str(path) if path is not None else None


def _export_environment(variables: dict[str, Any], connections: Any) -> None:
    """The flow's ``environment_variables`` (``${conn.key}`` resolved) into ``os.environ`` (§1.11)."""
    if variables:
        from promptflow_lite.connections._provider import resolve_connection_references

        os.environ.update(resolve_connection_references(variables, connections))


__all__ = ["FlexFlow", "ScriptFlow", "ScriptExecutionError", "AttrDict", "to_output_dict"]
