"""The Python API of batch runs; also what ``from promptflow.client import PFClient`` gives flow code.

    from promptflow_lite.runs._client import Client
    client = Client()
    run = client.run(flow="flows/qa", data="data.jsonl", column_mapping={"question": "${data.q}"})
    run.status, run.metrics
    client.get_details(run)             # pandas DataFrame, one row per line
    evaluation = client.run(flow="evaluators/exact_match", run=run,
                            column_mapping={"answer": "${run.outputs.answer}", "ground_truth": "${data.truth}"},
                            data="data.jsonl")

``Client.run`` executes the run to its end and returns a ``Run`` whose ``status`` says how it
went (``Completed``, ``CompletedWithErrors``, ``Failed``, ``Canceled``); with ``stream=True`` the
log is echoed and a ``Failed``/``Canceled`` run raises, as promptflow does. ``engine="ray"`` (on
``Client(...)`` for all its runs, or on one ``run``) spreads the lines over a Ray cluster.
"""

from __future__ import annotations

import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from promptflow_lite.runs import _model as model
from promptflow_lite.runs._errors import InvalidRunStatusError
from promptflow_lite.runs._model import Run
from promptflow_lite.runs._operations import ConnectionOperations, FlowOperations
from promptflow_lite.runs._spec import RunSpec, load_run, split_connections

@contextmanager
def _traced() -> Iterator[None]:
    """Trace the run's lines (on unless PFL_TRACING=off); spans are stored when the run returns."""
    from promptflow_lite.tracing import enable_tracing, flush_tracing

    traced = enable_tracing()
    try:
        yield
    finally:
        if traced:
            flush_tracing()


class Client:
    """Runs under ``home`` (default: ``PFL_HOME``). ``connection_provider`` is the default for ``connections``;
    ``engine`` (``"local"``, ``"ray"``...), ``ray_address`` and ``ray_actors`` are the defaults of ``run``
    (``engine`` may also be a callable making a ``LineEngine`` from a ``RunSpec``)."""

    def __init__(self, home: str | Path | None = None, *, connection_provider: Any = None, progress: bool | None = None,
                 engine: Any = None, ray_address: str | None = None, ray_actors: int | None = None,
                 **_promptflow_options: Any):
        from promptflow_lite.home import pfl_home
        from promptflow_lite.runs._runner import Runner

        self.home = Path(home).expanduser() if home else pfl_home()
        self._connections = connection_provider
        named = engine is None or isinstance(engine, str)
        self._engine = {"engine": engine if named else None, "ray_address": ray_address, "ray_actors": ray_actors}
        self._runner = Runner(self.home, engine=None if named else engine, progress=progress)
        self.runs = RunOperations(self)
        self.flows = FlowOperations(connection_provider)

    @property
    def connections(self) -> ConnectionOperations:
        """promptflow's ``pf.connections``: list, get, create_or_update, delete stored connections."""
        return ConnectionOperations(self.home)

    def test(self, flow: str | Path, *, inputs: dict[str, Any] | str | Path | None = None, variant: str | None = None,
             node: str | None = None, environment_variables: dict[str, Any] | None = None,
             init: dict[str, Any] | None = None) -> Any:
        """The outputs of one line of ``flow`` (promptflow's ``pf.test``); raises when the line fails."""
        return self.flows.test(flow, inputs=inputs, variant=variant, node=node,
                               environment_variables=environment_variables, init=init)

    def run(self, flow: str | Path | RunSpec | None = None, data: str | Path | None = None, run: Any = None,
            column_mapping: dict[str, Any] | None = None, variant: str | None = None, name: str | None = None,
            display_name: str | None = None, tags: dict[str, str] | None = None, description: str | None = None,
            environment_variables: dict[str, Any] | None = None, connections: Any = None,
            connection_overrides: dict[str, str] | None = None, max_concurrency: int | None = None,
            line_timeout: float | None = None, resume_from: Any = None, use_cache: bool | None = None,
            repeat_index: int | None = None, init: dict[str, Any] | None = None, stream: bool | None = None,
            properties: dict[str, Any] | None = None, lines: list[int] | None = None, engine: str | None = None,
            ray_address: str | None = None, ray_actors: int | None = None, **_ignored: Any) -> Run:
        """Execute a batch run of ``flow`` over ``data`` (and/or base run ``run``) and return it when done.

        ``column_mapping`` maps flow inputs to ``${data.col}``, ``${run.outputs.col}``, ``${run.inputs.col}`` or
        literals. ``connections`` is a ``{name: Connection}`` dict or a provider — or, as in promptflow,
        ``{node: {"connection": name, "deployment_name": d}}`` overrides (same as ``connection_overrides``).
        ``use_cache`` (default True) answers repeated LLM requests from the local cache; ``repeat_index``
        (default 0) keys independent samples of the same request. ``resume_from`` makes a new run reusing another run's completed lines.
        ``lines`` runs only those line numbers of the data (a sample; they keep their numbers).
        ``engine="ray"`` runs the lines on a Ray cluster (or names another registered engine, see ``runs.register_engine``): ``ray_address`` ``"local"`` (default: a private cluster on
        this machine), ``"auto"``, ``"HOST:PORT"`` or ``"ray://HOST:PORT"``; ``ray_actors`` workers (default: one per CPU).
        """
        base = flow if isinstance(flow, RunSpec) else RunSpec()
        providers, overrides = split_connections(connections)
        spec = base.merged(
            flow=None if isinstance(flow, RunSpec) or flow is None else str(flow),
            data=str(data) if data is not None else None, run=_name(run), column_mapping=column_mapping,
            variant=variant, name=name, display_name=display_name, tags=tags, description=description,
            environment_variables=environment_variables, connections=providers or self._connections,
            connection_overrides={**(overrides or {}), **(connection_overrides or {})} or None,
            max_concurrency=max_concurrency, line_timeout=line_timeout, resume_from=_name(resume_from), init=init,
            properties=properties, use_cache=use_cache, repeat_index=repeat_index, stream=stream,
            lines=sorted(set(lines)) if lines is not None else None,
            **self._engine_options(engine, ray_address, ray_actors))
        with _traced():
            result = self._runner.create(spec)
        return self._streamed(result) if spec.stream else result

    def resume(self, name: Any, *, connections: Any = None, environment_variables: dict[str, Any] | None = None,
               max_concurrency: int | None = None, line_timeout: float | None = None, stream: bool = False,
               engine: str | None = None, ray_address: str | None = None, ray_actors: int | None = None) -> Run:
        """Complete run ``name`` in place (its missing and failed lines), then aggregate over all lines again.
        The run's engine settings apply unless given here."""
        with _traced():
            result = self._runner.resume(_name(name), connections=connections or self._connections,
                                         environment_variables=environment_variables, max_concurrency=max_concurrency,
                                         line_timeout=line_timeout, stream=stream,
                                         **self._engine_options(engine, ray_address, ray_actors))
        return self._streamed(result) if stream else result

    def _engine_options(self, engine: str | None, ray_address: str | None, ray_actors: int | None) -> dict[str, Any]:
        """The engine settings of one call, the client's where the call gives none."""
        given = {"engine": engine, "ray_address": ray_address, "ray_actors": ray_actors}
        return {key: value if value is not None else self._engine[key] for key, value in given.items()}

    def get_details(self, run: Any, failed_only: bool = False, max_results: int | None = None,
                    all_results: bool = False):
        """A pandas DataFrame, one row per line: ``inputs.*``, ``outputs.*``, status, error, cached, trace_id."""
        from promptflow_lite.runs._details import detail_frame
        from promptflow_lite.runs._store import RunFolder

        found = self.runs.get(run)
        return detail_frame(RunFolder(found.output_path), failed_only=failed_only,
                            max_results=None if all_results else max_results)

    def get_metrics(self, run: Any) -> dict[str, Any]:
        """The metrics logged by the run's aggregation nodes (over its succeeded lines)."""
        found = self.runs.get(run)
        if found.status not in (model.COMPLETED, model.COMPLETED_WITH_ERRORS):
            raise InvalidRunStatusError(f"Run '{found.name}' is {found.status}, so it has no metrics.",
                                        hint=f"metrics exist once a run completes; try `pfl run resume {found.name}`.")
        return found.metrics

    def visualize(self, runs: Any, html_path: str | Path | None = None) -> Path:
        """Write an HTML report of ``runs`` (one run or several) and return its path."""
        from promptflow_lite.runs._visualize import write_html

        found = [self.runs.get(r) for r in (runs if isinstance(runs, (list, tuple)) else [runs])]
        if html_path is None:
            html_path = Path(found[0].output_path) / "visualize.html"
        return write_html(found, html_path)

    def stream(self, run: Any, raise_on_error: bool = True) -> Run:
        """Print the run's log and summary (promptflow's ``pf.stream``); a failed run raises unless not asked to."""
        found = self.runs.get(run)
        log = Path(found.output_path) / "logs.txt"
        if log.is_file():
            sys.stderr.write(log.read_text(encoding="utf-8"))
        return self._streamed(found, raise_on_error)

    @staticmethod
    def _streamed(run: Run, raise_on_error: bool = True) -> Run:
        from promptflow_lite.runs._progress import summary

        print(summary(run), file=sys.stderr)
        if raise_on_error and run.status in (model.FAILED, model.CANCELED):
            raise InvalidRunStatusError(f"Run '{run.name}' is {run.status}: "
                                        f"{(run.error or {}).get('message', '') if isinstance(run.error, dict) else run.error}")
        return run


class RunOperations:
    """``client.runs``: find and manage runs."""

    def __init__(self, client: Client):
        self._client = client
        self._runner = client._runner
        self._index = client._runner.index

    def get(self, name: Any) -> Run:
        return self._runner.get(_name(name))

    def list(self, *, flow: str | None = None, status: str | None = None, archived_only: bool = False,
             include_archived: bool = False, max_results: int | None = 50, **_ignored: Any) -> list[Run]:
        """Newest first; archived runs only with ``archived_only``/``include_archived``."""
        archived = True if archived_only else (None if include_archived else False)
        rows = self._index.list(flow=flow, status=status, archived=archived, max_results=max_results)
        return [Run.from_row(row) for row in rows]

    def create_or_update(self, run: RunSpec, **overrides: Any) -> Run:
        """Execute a spec (``Run(flow=..., data=...)`` or ``load_run``); keyword arguments override its fields."""
        run = run.merged(run=_name(run.run), resume_from=_name(run.resume_from),
                         flow=str(run.flow) if run.flow is not None else None,
                         data=str(run.data) if run.data is not None else None)
        return self._client.run(run, **overrides)

    def stream(self, run: Any, raise_on_error: bool = True) -> Run:
        return self._client.stream(run, raise_on_error)

    def update(self, name: Any, *, display_name: str | None = None, description: str | None = None,
               tags: dict[str, str] | None = None, **_ignored: Any) -> Run:
        """Change a run's display name, description or tags (merged into the existing ones)."""
        found = self.get(name)
        fields: dict[str, Any] = {}
        if display_name is not None:
            fields["display_name"] = display_name
        if description is not None:
            fields["description"] = description
        if tags:
            fields["tags"] = {**(found.tags or {}), **tags}
        if fields:
            self._index.update(found.name, **fields)
        return self.get(found.name)

    def archive(self, name: Any) -> Run:
        found = self.get(name)
        self._index.update(found.name, archived=1)
        return self.get(found.name)

    def restore(self, name: Any) -> Run:
        found = self.get(name)
        self._index.update(found.name, archived=0)
        return self.get(found.name)

    def delete(self, name: Any) -> None:
        """Remove the run's folder and its index entry."""
        found = self.get(name)
        if found.status in (model.RUNNING, model.PREPARING):
            raise InvalidRunStatusError(f"Run '{found.name}' is running.",
                                        hint=f"cancel it first: `pfl run cancel {found.name}`.")
        if found.output_path and Path(found.output_path).is_dir():
            shutil.rmtree(found.output_path)
        self._index.delete(found.name)

    def cancel(self, name: Any, *, wait: float = 30.0) -> Run:
        """Ask the process running ``name`` to stop (it keeps finished lines); wait up to ``wait`` seconds."""
        found = self.get(name)
        if found.status == model.NOT_RESPONDING:  # its process is gone: nothing to stop
            self._index.update(found.name, status=model.CANCELED, pid=None)
            return self.get(found.name)
        if found.status not in (model.RUNNING, model.PREPARING):
            raise InvalidRunStatusError(f"Run '{found.name}' is {found.status}, not running.")
        self._index.request_cancel(found.name)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            current = self.get(found.name)
            if current.status not in (model.RUNNING, model.PREPARING):
                return current
            time.sleep(0.2)
        return self.get(found.name)

    def get_details(self, run: Any, **options: Any):
        return self._client.get_details(run, **options)

    def get_metrics(self, run: Any) -> dict[str, Any]:
        return self._client.get_metrics(run)

    def visualize(self, runs: Any, html_path: str | Path | None = None) -> Path:
        return self._client.visualize(runs, html_path)


def _name(run: Any) -> str | None:
    if run is None:
        return None
    return run.name if isinstance(run, Run) else str(run)


PFClient = Client

__all__ = ["Client", "PFClient", "Run", "RunOperations", "RunSpec", "load_run"]
