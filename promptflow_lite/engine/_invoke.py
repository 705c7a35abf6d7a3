"""Running a callable as a node: the one place that captures prints, opens the span, times the run,
counts model calls and classifies errors - for DAG nodes, aggregation nodes, single-node tests and
flex entries alike. It runs for every node of every line, so it allocates little and awaits once.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from pathlib import Path
from typing import Any, Awaitable, Callable

from promptflow_lite.engine import _hooks as hooks
from promptflow_lite.engine._capture import captured_output
from promptflow_lite.engine._results import CANCELED, COMPLETED, FAILED, NodeRun
from promptflow_lite.errors import PflError, ToolExecutionError, error_dict
from promptflow_lite.tools._observe import calls_collector

ESCAPE_KEY = "_inputs_to_escape"  # passed to template tools, not an input a user gave
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


async def run_node(run: NodeRun, node_type: str, inputs: Callable[[], dict[str, Any]],
                   call: Callable[[dict[str, Any]], Awaitable[Any]], *, echo: Any = None,
                   error: type[ToolExecutionError] = ToolExecutionError, locate: bool = True,
                   traced: bool = True) -> Any:
    """Run ``call(inputs())`` as node ``run.node`` and return its output; ``run`` gets the inputs,
    status, output or error, end time, printed logs and model-call counts.

    ``inputs()`` builds the keyword arguments (a problem there is the node's, raised as is);
    anything ``call`` raises becomes ``error(name, exc, user traceback)``, except our own errors
    (given the node's name when ``locate``) and cancellation. ``echo`` also receives what the node
    prints; ``traced`` opens the node's span through the tracing hooks (``run.trace_id`` is set for
    a node traced on its own). Raises what failed the node, after recording it in ``run``.
    """
    calls: list = []
    run.calls = calls
    token = calls_collector.set(calls)
    tracer = hooks.active() if traced else None
    span = logs = None
    try:
        with captured_output(echo) as logs:
            kwargs = inputs()
            run.inputs = {k: v for k, v in kwargs.items() if k != ESCAPE_KEY}
            if tracer:
                span = tracer.start_node(run.node, node_type, run.inputs)
            try:
                output = await call(kwargs)
            except PflError as exc:
                if locate:
                    exc.locate(node=run.node)
                raise
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise error(run.node, exc, user_traceback(exc)) from exc
    except BaseException as exc:
        run.status = CANCELED if isinstance(exc, asyncio.CancelledError) else FAILED
        if run.status == FAILED:
            run.error = error_dict(exc)
        raise
    else:
        run.status, run.output = COMPLETED, output
        return output
    finally:
        run.end_time = time.time()
        run.logs = logs.getvalue() if logs is not None else ""
        calls_collector.reset(token)
        run.calls = None  # held only while the node runs (the calls hold the credentials they used)
        if calls:
            run.record_model_calls(calls)
        if span is not None:
            run.trace_id = tracer.end_node(span, run)


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` limited to frames of user code (not promptflow_lite, not asyncio)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith(_PACKAGE_DIR) and "/asyncio/" not in f.filename
              and "/concurrent/" not in f.filename]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc)
    return "Traceback (most recent call last):\n" + "".join(lines)
