"""Executing a batch run: prepare lines, run them through an engine, aggregate, record, conclude.

``Runner.create(spec)`` makes a new run (or, with ``spec.resume_from``, a new run reusing the
completed lines of an old one); ``Runner.resume(name)`` completes a run in place. All three
share ``_execute``: lines not yet done go to the engine, each result is persisted as it
arrives, then aggregation runs over every succeeded line (reused ones from the journal) and
the status is decided from the journal — the same code whether or not the run was resumed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from promptflow_lite.engine._results import LineResult
from promptflow_lite.errors import PflError, UserError, error_dict
from promptflow_lite.runs import _model as model
from promptflow_lite.runs._engine import DEFAULT_LINE_TIMEOUT, EngineFactory, FlowRecipe, LineTask, engine_for
from promptflow_lite.runs._errors import (
    InvalidRunStatusError, KeyRejectedError, RunExistsError, RunNotFoundError, RunStoreError, unwritable)
from promptflow_lite.runs._index import RunIndex
from promptflow_lite.runs._aggregation_lines import journalled_lines, keeper
from promptflow_lite.runs._finalize import finalize
from promptflow_lite.runs._finalize_process import BackgroundFinalize
from promptflow_lite.runs._journal import JournalWriteError
from promptflow_lite.runs._journal_index import JournalIndex
from promptflow_lite.runs._log import RunLog
from promptflow_lite.runs._model import Run
from promptflow_lite.runs._prepare import check_sources, prepare_lines
from promptflow_lite.runs._records import bulk_error, error_message
from promptflow_lite.runs._spec import RunSpec, check_resumable, unmask_environment
from promptflow_lite.runs._store import RunFolder

POLL_SECONDS = 0.5  # how often a running run saves progress and checks for a cancel request
KEY_REJECTIONS_TO_STOP = 3  # lines in a row failing with HTTP 401/403 that stop the run: a dead key stays dead


@dataclass
class _Context:
    """One execution of a run: where it writes, what it counts."""

    name: str
    spec: RunSpec
    folder: RunFolder
    log: RunLog
    total: int = 0
    completed: int = 0
    failed: int = 0
    cached: int = 0
    fresh: dict[int, LineResult] = field(default_factory=dict)  # what aggregation reads of this execution's lines
    keep: Any = None  # makes those small records (aggregation_lines.keeper), when the flow aggregates
    progress: Any = None
    outcome_from: int | None = None  # index in log.warnings where this execution's own warnings start
    stop: "_Stop | None" = None  # why the run stopped before its last line, if it did
    rejected: int = 0  # lines failed with HTTP 401/403 since the last line that succeeded
    execution: Any = None  # the future running the lines (cancelled to stop the run)
    recipe: FlowRecipe | None = None  # how the flow was loaded (engines load it again elsewhere)
    background: Any = None  # the process finalising the run's files alongside its lines (a big run)


@dataclass(frozen=True)
class _Stop:
    """A run stopped on purpose: the status it ends with and the error that says why and how to go on."""

    status: str
    error: dict[str, Any]
    unwritable: RunStoreError | None = None  # the run folder cannot be written: leave it as it is for the resume

class Runner:
    def __init__(self, home: Path, *, engine: EngineFactory | None = None, progress: bool | None = None):
        self.home = Path(home)
        self.runs_dir = self.home / "runs"
        self.index = RunIndex(self.home / "runs.sqlite")
        self._engine = engine or engine_for
        self._progress = progress

    # public -------------------------------------------------------------------------------
    def get(self, name: str) -> Run:
        row = self.index.get(name)
        if row is None:
            raise RunNotFoundError(f"Run '{name}' does not exist.", hint="see `pfl run list` for the runs in "
                                   f"{self.home}.")
        return Run.from_row(row)

    def create(self, spec: RunSpec) -> Run:
        """Execute a new run to its end and return it (its status tells how it went)."""
        if spec.resume_from:
            return self._create_from(spec)
        if not spec.flow:
            raise UserError("No flow given.", hint="pass --flow FOLDER (or flow: in the run.yml).")
        if not spec.data and not spec.run:
            raise UserError("Either data or a base run must be given.",
                            hint="pass --data FILE, --run BASE_RUN, or --resume-from RUN.")
        spec = _absolute(_checked(spec))
        check_sources(spec, self.get)
        flow_file, kind = _flow_kind(spec.flow)
        context = self._start(spec, model.default_run_name(flow_file, spec.variant, kind), kind)
        try:
            flow = self._load_flow(context)
            lines = prepare_lines(context.spec, flow, context.log, self.get)
        except PflError as exc:
            return self._fail_to_start(context, exc)
        except Exception as exc:
            self._fail_to_start(context, exc)
            raise
        try:
            total = context.folder.write_start(flow, lines)
        except OSError as exc:
            return self._fail_unwritable(context, exc)
        except PflError as exc:  # the data changed while it was read again
            return self._fail_to_start(context, exc)
        return self._execute(context, flow, lines, total, None)

    def resume(self, name: str, *, connections: Any = None, environment_variables: dict[str, Any] | None = None,
               max_concurrency: int | None = None, line_timeout: float | None = None,
               stream: bool = False, engine: str | None = None, ray_address: str | None = None,
               ray_actors: int | None = None) -> Run:
        """Complete run ``name`` in place: execute its missing and failed lines, then aggregate again."""
        run = self.get(name)
        if run.status in (model.RUNNING, model.PREPARING):
            raise InvalidRunStatusError(f"Run '{name}' is still running.",
                                        hint=f"wait for it, or stop it with `pfl run cancel {name}` first.")
        folder = RunFolder(run.output_path)
        if not folder.inputs_file.is_file():
            raise InvalidRunStatusError(f"Run '{name}' never started ({error_message(run.error)}).",
                                        hint="fix the problem and create a new run.")
        if run.status == model.COMPLETED and folder.holds_every_line():
            return run
        spec = _checked(check_resumable(RunSpec.from_stored(run.properties), name).merged(
            connections=connections, max_concurrency=max_concurrency, line_timeout=line_timeout, stream=stream,
            engine=engine, ray_address=ray_address, ray_actors=ray_actors))
        spec.environment_variables = unmask_environment(spec.environment_variables, environment_variables)
        if not self.index.claim(name):
            raise InvalidRunStatusError(f"Run '{name}' was just claimed by another process.")
        context = _Context(name, spec, folder, RunLog(folder.log_file, stream=stream))
        try:
            flow = self._load_flow(context)
        except BaseException:
            self.index.update(name, status=run.status, pid=None)
            context.log.close()
            raise
        total = folder.count_inputs()
        done = JournalIndex.build(folder.journal_file)
        context.log.info(f"Resuming run {name}: {done.completed_count} of {total} lines already completed.")
        if done.damaged:
            context.log.warning(f"The run journal held {done.damaged} torn or damaged record(s) (a killed process "
                                "or a full disk); their lines run again.")
        self.index.update(name, ended_on=None, error=None)
        return self._execute(context, flow, folder.read_inputs(), total, done)

    # creating -----------------------------------------------------------------------------
    def _start(self, spec: RunSpec, default_name: str, kind: str) -> _Context:
        name = model.check_name(spec.name) if spec.name else default_name
        path = self.runs_dir / name
        if path.exists():
            raise RunExistsError(f"A run folder named '{name}' already exists: {path}.",
                                 hint="choose another --name, or delete the old run.")
        spec = spec.merged(display_name=spec.display_name_for(kind))
        properties = {**(spec.properties or {}), **spec.stored(), "flow_kind": kind, "output_path": str(path)}
        self.index.insert({
            "name": name, "display_name": spec.display_name or name, "description": spec.description,
            "status": model.PREPARING, "flow": spec.flow, "flow_name": _flow_name(spec.flow), "data": spec.data,
            "variant": spec.variant, "run": spec.run, "created_on": model.now_iso(), "tags": spec.tags or {},
            "properties": properties, "output_path": str(path), "pid": os.getpid(), "host": socket.gethostname()})
        folder = RunFolder(path).create()
        context = _Context(name, spec, folder, RunLog(folder.log_file, stream=spec.stream))
        context.log.info(f"Run {name}: flow {spec.flow}, data {spec.data}, variant {spec.variant}, base run {spec.run}.")
        for note in spec.notes:
            context.log.warning(note)
        return context

    def _create_from(self, spec: RunSpec) -> Run:
        """``--resume-from``: a new run with the old one's settings, reusing its completed lines."""
        source = self.get(spec.resume_from)
        if source.status in (model.RUNNING, model.PREPARING):
            raise InvalidRunStatusError(f"Run '{source.name}' is still running; it cannot be resumed from.")
        old = RunFolder(source.output_path)
        if not old.inputs_file.is_file():
            raise InvalidRunStatusError(f"Run '{source.name}' never started, so there is nothing to resume from.")
        base = check_resumable(RunSpec.from_stored(source.properties), source.name)
        spec = base.merged(**{k: getattr(spec, k) for k in (
            "name", "display_name", "description", "tags", "connections", "max_concurrency", "line_timeout",
            "stream", "engine", "ray_address", "ray_actors")}, resume_from=source.name)
        spec = _checked(spec)
        spec.environment_variables = unmask_environment(base.environment_variables, None)
        spec.use_cache, spec.repeat_index = base.use_cache, base.repeat_index
        flow_file, kind = _flow_kind(spec.flow)
        context = self._start(spec, model.default_run_name(flow_file, spec.variant, kind), kind)
        try:
            flow = self._load_flow(context)
        except PflError as exc:
            return self._fail_to_start(context, exc)
        try:
            total = context.folder.write_start(flow, old.read_inputs())
        except OSError as exc:
            return self._fail_unwritable(context, exc)
        journal = JournalIndex.build(old.journal_file)  # each line's latest entry, in first-seen order
        context.folder.open()
        context.folder.append_reused({**entry, "source_run": source.name}
                                     for entry in journal.entries(journal.first_seen(), completed_only=True))
        context.folder.close()
        done = JournalIndex.build(context.folder.journal_file)
        context.log.info(f"Resumed from run {source.name}: reusing {done.completed_count} of {total} lines.")
        return self._execute(context, flow, context.folder.read_inputs(), total, done)

    def _load_flow(self, context: _Context):
        from promptflow_lite.tools._llm_client import sdk_with_flow

        spec = context.spec
        source = spec.flow
        if not Path(source).exists() and context.folder.snapshot.is_dir():
            context.log.warning(f"The flow {source} is gone; running the run's snapshot instead.")
            source, spec = str(context.folder.snapshot), replace(spec, variant=None)  # the snapshot is resolved
        context.recipe = FlowRecipe(source, variant=spec.variant, connections=spec.connections,
                                    environment_variables=spec.environment_variables,
                                    connection_overrides=spec.connection_overrides, init=spec.init)
        token = sdk_with_flow.set(False)  # where the lines run, the engine decides (a worker process, or here)
        try:
            return context.recipe.load()
        finally:
            sdk_with_flow.reset(token)

    def _fail_to_start(self, context: _Context, exc: BaseException) -> Run:
        error = error_dict(exc)
        context.log.error(f"The run could not start: {error['message']}")
        try:
            context.folder.write_error(error)
        except OSError:
            pass  # e.g. a full disk: the index holds the error too
        return self._conclude(context, model.FAILED, time.time(), error=error)

    def _fail_unwritable(self, context: _Context, exc: OSError) -> Run:
        """A run that cannot write its snapshot or inputs (e.g. the disk is full) fails before its first line."""
        return self._fail_to_start(context, RunStoreError(
            f"Run {context.name} could not write its files ({exc.strerror or exc}); no line ran.",
            file=exc.filename, hint=f"free disk space, then create the run again (`pfl run delete {context.name}` "
                                    "removes this one)."))

    # executing ----------------------------------------------------------------------------
    def _execute(self, context: _Context, flow, lines: Iterable[tuple[int, dict[str, Any]]], total: int,
                 done: JournalIndex | None) -> Run:
        """Run ``lines`` (``total`` of them, streamed) but those ``done`` says completed; aggregate; finish."""
        from promptflow_lite._gc import batch_collection
        from promptflow_lite.engine._flow import working_directory
        from promptflow_lite.engine._sync import run_sync
        from promptflow_lite.runs._progress import Progress

        name, spec, folder, log = context.name, context.spec, context.folder, context.log
        reused = done.completed_count if done is not None else 0
        context.total, context.completed = total, reused
        context.keep = keeper(flow) if flow.has_aggregation else None
        todo = ((n, inputs) for n, inputs in lines if done is None or not done.completed(n))
        started = time.time()
        context.outcome_from = len(log.warnings)
        self.index.update(name, status=model.RUNNING, started_on=model.now_iso(), total_lines=context.total,
                          pid=os.getpid(), host=socket.gethostname())
        log.notice(f"Run {name}: executing {total - reused} of {context.total} lines; results in {folder.path}")
        show = False if spec.stream else self._progress
        context.progress = Progress(context.total, done=reused, name=name, enabled=show)
        folder.open()
        context.background = BackgroundFinalize.start(folder, name, context.total)
        try:
            try:
                with working_directory(Path(getattr(flow, "run_dir", None) or flow.working_dir)), batch_collection():
                    canceled, aggregation = run_sync(self._run(context, flow, todo, done))
            except BaseException as exc:
                folder.close()
                context.progress.close()
                self._conclude(context, model.FAILED, started, error=error_dict(exc))
                raise
            folder.close()
            context.progress.close()
            try:
                return self._finish(context, canceled, aggregation, started)
            except (OSError, sqlite3.Error) as exc:  # e.g. the disk is full
                raise self._unsaved(context, exc) from exc
        finally:
            if context.background is not None:
                context.background.abort()  # nothing left to do once it finished

    async def _run(self, context: _Context, flow, todo, done: JournalIndex | None):
        """Execute ``todo`` then aggregate; returns ``(canceled, aggregation)``."""
        from promptflow_lite.tools._llm_cache import LLMCache, use_cache

        spec = context.spec
        cache = LLMCache(self.home / "cache" / "llm.sqlite") if spec.use_cache else None
        with use_cache(cache, repeat=spec.repeat_index):
            try:
                await self._run_lines(context, flow, todo)
                return False, await self._aggregate(context, flow, done)
            except asyncio.CancelledError:  # `pfl run cancel`, Ctrl+C, or a stop decided in _on_result
                if context.stop is None:
                    context.log.warning("The run was canceled; the lines finished so far are kept.")
                return True, None
            except JournalWriteError as exc:  # e.g. the disk is full: no line may count as done unwritten
                _stop_unwritable(context, exc)
                return True, None
            finally:
                if cache is not None:
                    cache.close()
                    if cache.unusable:
                        context.log.warning(cache.unusable)

    async def _run_lines(self, context: _Context, flow, todo) -> None:
        spec = context.spec
        engine = self._engine(spec)
        tasks = (LineTask(n, inputs, _attributes(context.name, spec.run, n)) for n, inputs in todo)
        execution = context.execution = asyncio.ensure_future(engine.execute(
            flow, tasks, lambda result: self._on_result(context, flow, result),
            line_timeout=spec.line_timeout or DEFAULT_LINE_TIMEOUT, recipe=context.recipe, log=context.log.notice))
        watcher = asyncio.ensure_future(self._watch(context, execution))
        try:
            await execution
        finally:
            watcher.cancel()

    @staticmethod
    async def _aggregate(context: _Context, flow, done: JournalIndex | None):
        if not flow.has_aggregation:
            return None
        lines = list(context.fresh.values())
        if done is not None:  # lines completed before: read back from the journal, a record at a time
            for line in journalled_lines(done, context.keep, skip=context.fresh.__contains__):
                line.aggregation_inputs = flow.media.load(line.aggregation_inputs)  # images were written as files
                lines.append(line)
        if not lines:
            context.log.warning("No line succeeded: the aggregation nodes did not run.")
            return None
        return await flow.aaggregate(sorted(lines, key=lambda line: line.line_number))

    def _on_result(self, context: _Context, flow, result: LineResult) -> None:
        context.folder.record_line(result, flow.media)
        context.log.line_output(result.line_number, result.node_runs)
        if result.ok:
            context.completed += 1
            if context.keep is not None:
                context.fresh[result.line_number] = context.keep(result)
        else:
            context.failed += 1
            context.log.error(f"Line {result.line_number} failed: {error_message(result.error)}")
        context.cached += int(result.cached)
        context.progress.update(result.ok)
        self._stop_on_a_dead_key(context, result)

    @staticmethod
    def _stop_on_a_dead_key(context: _Context, result: LineResult) -> None:
        """Cancel the run once ``KEY_REJECTIONS_TO_STOP`` lines in a row failed because the endpoint refused
        the key: every other line would fail the same way (the lines done so far are kept)."""
        from promptflow_lite.tools._retry import key_rejected

        if result.ok:
            context.rejected = 0
            return
        if not key_rejected(result.error):
            return
        context.rejected += 1
        if context.rejected < KEY_REJECTIONS_TO_STOP or context.stop is not None:
            return
        error = KeyRejectedError(
            f"The endpoint rejected the key: {context.rejected} lines in a row failed with HTTP 401/403, so the run "
            f"stopped instead of sending its remaining lines. Last error: {error_message(result.error)}",
            hint=f"fix the key, then `pfl run resume {context.name}` (the lines finished so far are kept).")
        context.log.warning(str(error))
        context.stop = _Stop(model.CANCELED, error_dict(error))
        context.execution.cancel()

    async def _watch(self, context: _Context, execution: asyncio.Future) -> None:
        """Save progress to the index and stop the run when ``pfl run cancel`` asked for it."""
        while not execution.done():
            await asyncio.sleep(POLL_SECONDS)
            fields = {"completed_lines": context.completed, "failed_lines": context.failed,
                      "cached_lines": context.cached}
            try:
                await asyncio.to_thread(self.index.update, context.name, **fields)
                canceled = await asyncio.to_thread(self.index.cancel_requested, context.name)
            except (OSError, sqlite3.Error) as exc:  # e.g. the disk is full: the same stop as a journal write
                _stop_unwritable(context, unwritable(context.name, "the run's progress", exc, file=self.index.path))
                canceled = True
            if canceled:
                execution.cancel()
                return

    def _finish(self, context: _Context, canceled: bool, aggregation, started: float) -> Run:
        folder, log = context.folder, context.log
        if context.stop is not None and context.stop.unwritable is not None:  # counts as written; the resume finalizes
            return self._conclude(context, context.stop.status, started, error=context.stop.error,
                                  completed=context.completed, failed=context.failed, cached=context.cached)
        errors = []
        if aggregation is not None:
            folder.record_aggregation(context.name, aggregation)
            log.line_output(None, aggregation.node_runs)
            if aggregation.error:
                log.error(f"Aggregation node '{aggregation.failed_node}' failed: {error_message(aggregation.error)}")
                errors.append({"error": aggregation.error, "aggregation_node_name": aggregation.failed_node})
        metrics = None
        if not canceled:
            metrics = aggregation.metrics if aggregation is not None else {}
            folder.write_metrics(metrics)
        summary = context.background.finish() if context.background is not None else None
        if summary is None:  # a small run, or the finalising process could not vouch for its files
            summary = finalize(folder, context.name)
        failed, completed = summary.failed, summary.completed
        line_errors = [{"line_number": n, "error": e} for n, e in failed]
        error = bulk_error(line_errors + errors, len(failed), context.total) if failed or errors else None
        if context.stop is not None:
            error = context.stop.error
        folder.write_error(error)
        if context.stop is not None:
            status = context.stop.status
        elif canceled:
            status = model.CANCELED
        elif completed == context.total and not errors:
            status = model.COMPLETED
        elif completed == 0:
            status = model.FAILED
        else:
            status = model.COMPLETED_WITH_ERRORS
        if failed:
            log.warning(f"{len(failed)}/{context.total} lines failed: {_numbers([n for n, _ in failed])}. "
                        f"First error: {error_message(failed[0][1])}")
        return self._conclude(context, status, started, error=error, completed=completed, failed=len(failed),
                              cached=summary.cached, tokens=summary.tokens, metrics=metrics)

    def _unsaved(self, context: _Context, exc: BaseException) -> RunStoreError:
        """The error for a run whose results or status cannot be saved; records Failed if the index still can."""
        error = context.stop.unwritable if context.stop is not None else None
        if error is None:
            error = unwritable(context.name, "the run's results", exc)
        try:
            self.index.update(context.name, status=model.FAILED, error=error_dict(error), pid=None)
        except sqlite3.Error:
            pass  # the run shows as NotResponding once this process ends: resumable all the same
        context.log.close()
        return error

    def _conclude(self, context: _Context, status: str, started: float, *, error=None, completed=None, failed=None,
                  cached=None, tokens=None, metrics=None) -> Run:
        duration = time.time() - started
        previous = self.get(context.name)
        properties = {**previous.properties, **_warnings(previous, context)}
        fields = {"status": status, "ended_on": model.now_iso(), "error": error, "pid": None,
                  "duration": (previous.duration or 0.0) + duration, "properties": properties}
        if completed is not None:
            fields.update(completed_lines=completed, failed_lines=failed, cached_lines=cached, **(tokens or {}))
        if metrics is not None:  # the run list shows them without opening the folder
            fields["metrics"] = _jsonable_metrics(metrics)
        self.index.update(context.name, **fields)
        context.log.info(f"Run {context.name} ended: {status}.")
        context.log.close()
        return self.get(context.name)


def _stop_unwritable(context: _Context, error: RunStoreError) -> None:
    """Stop the run because its files or index cannot be written: Failed, resumable, whatever failed first."""
    if context.stop is None or context.stop.unwritable is None:
        context.log.error(str(error))
        context.stop = _Stop(model.FAILED, error_dict(error), unwritable=error)


def _warnings(previous: Run, context: _Context) -> dict[str, list[str]]:
    """The run's warnings: those about its setup (kept across resumes) plus the latest execution's own."""
    logged = context.log.warnings
    mark = len(logged) if context.outcome_from is None else context.outcome_from
    setup = list(dict.fromkeys(previous.properties.get("setup_warnings", []) + logged[:mark]))
    return {"setup_warnings": setup, "warnings": setup + logged[mark:]}


def _jsonable_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics as ``metrics.json`` holds them (numpy numbers and the like as plain JSON)."""
    import json

    return json.loads(json.dumps(metrics, ensure_ascii=False, default=str))


def _attributes(name: str, base: str | None, line_number: int) -> dict[str, Any]:
    attributes = {"batch_run_id": name, "line_number": line_number}
    if base:
        attributes["referenced.batch_run_id"] = base
        attributes["referenced.line_run_id"] = f"{base}_{line_number}"
    return attributes


def _checked(spec: RunSpec) -> RunSpec:
    """Settings errors surface before anything is created."""
    from promptflow_lite.runs._engine import resolve_concurrency

    resolve_concurrency(spec.max_concurrency)
    if spec.engine:
        engine_for(spec)  # an unknown engine, or one that is not installed, stops here
    if spec.line_timeout is not None and spec.line_timeout <= 0:
        raise UserError(f"The line timeout must be positive, not {spec.line_timeout}.",
                        hint="pass --line-timeout SECONDS, e.g. 600.")
    if spec.repeat_index is not None and spec.repeat_index < 0:
        raise UserError(f"The repeat index must be 0 or more, not {spec.repeat_index}.")
    return spec


def _absolute(spec: RunSpec) -> RunSpec:
    """Paths made absolute; a ``module:function`` entry becomes a flex flow file for the current folder."""
    from promptflow_lite.flow._loader import resolve_flow_path

    data = spec.data
    if data and "://" not in data:
        data = str(Path(data).expanduser().resolve())
    flow = Path(spec.flow).expanduser()
    if not flow.exists():
        flow = resolve_flow_path(spec.flow)[0]  # an entry (else: the clear "no such flow" error)
    return spec.merged(flow=str(flow.resolve()), data=data)


def _flow_kind(flow: str) -> tuple[Path, str]:
    from promptflow_lite.flow._loader import flow_kind, resolve_flow_path

    file, _ = resolve_flow_path(flow)
    return file, flow_kind(file)


def _flow_name(flow: str) -> str:
    path = Path(flow)
    return path.stem if path.is_file() and path.suffix == ".prompty" else (path.parent.name if path.is_file() else path.name)


def _numbers(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:20])) + (", ..." if len(numbers) > 20 else "")

