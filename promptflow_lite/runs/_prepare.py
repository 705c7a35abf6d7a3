"""The lines of a new run: data rows and base-run rows, joined and mapped to flow inputs (§4.2, §4.3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from promptflow_lite.runs import _model as model
from promptflow_lite.runs._data import check_data_path, empty_data, iter_data, load_data
from promptflow_lite.runs._errors import InvalidRunStatusError
from promptflow_lite.runs._log import RunLog
from promptflow_lite.runs._mapping import LINE_NUMBER, StreamedLines, map_lines, stream_lines
from promptflow_lite.runs._model import Run
from promptflow_lite.runs._spec import RunSpec
from promptflow_lite.runs._store import RunFolder

Line = tuple[int, dict[str, Any]]


def prepare_lines(spec: RunSpec, flow: Any, log: RunLog, get_run: Callable[[str], Run]) -> Iterable[Line]:
    """``(line_number, inputs)`` for every line, in line order; warnings (hidden columns, dropped lines) go to
    ``log``. With data alone the lines are streamed from the data file (iterating them reads it again)."""
    streaming = bool(spec.data and not spec.run and spec.lines is None)  # a sample (--lines) is mapped in memory
    if streaming:
        streamed = _streamed(spec, flow, log)
        if streamed is not None:
            return streamed
    sources, labels, origins = {}, {}, {}
    if spec.data:
        sources["data"] = load_data(spec.data, warn=None if streaming else log.warning)  # streaming: warned already
        origins["data"] = str(spec.data)
    if spec.run:
        base = _usable_base_run(spec.run, get_run)
        folder = RunFolder(base.output_path)
        sources["run.outputs"] = [{"line_number": n, **row} for n, row in sorted(folder.resolved_outputs().items())]
        sources["run.inputs"] = base_inputs(base, folder, log)
        labels["run.outputs"] = f"base run '{base.name}' (the line failed there)"
        origins["run.outputs"] = origins["run.inputs"] = f"run {base.name}"
    if not spec.column_mapping:
        log.info("No column mapping given: every flow input without a default reads the data column "
                 "of the same name.")
    lines = map_lines(flow.inputs, sources, spec.column_mapping, warn=log.warning, source_labels=labels,
                      origins=origins, only=None if spec.lines is None else set(spec.lines))
    beyond = sorted(n for n in set(spec.lines or ()) if not 0 <= n < len(sources.get("data", ())))
    if spec.data and beyond:
        log.warning(f"{len(beyond)} requested line(s) are not in the data ({len(sources['data'])} lines, numbered "
                    f"from 0): {', '.join(map(str, beyond[:20]))}{', ...' if len(beyond) > 20 else ''}.")
    return lines


def _streamed(spec: RunSpec, flow: Any, log: RunLog) -> StreamedLines | None:
    """The lines of a run on data alone, mapped as the data is read; None when the rows carry ``line_number``."""
    def rows(warn=None):
        return iter_data(spec.data, warn)

    columns: set[str] = set()
    count = 0
    for row in rows(log.warning):  # one pass: columns for the mapping's errors, the count for progress
        columns.update(row)
        count += 1
    if not count:
        raise empty_data(spec.data)
    if LINE_NUMBER in columns:  # rows joined by their line_number: sorted in memory
        return None
    if not spec.column_mapping:
        log.info("No column mapping given: every flow input without a default reads the data column "
                 "of the same name.")
    return stream_lines(flow.inputs, rows, columns, count, spec.column_mapping, warn=log.warning,
                        origin=str(spec.data))


def check_sources(spec: RunSpec, get_run: Callable[[str], Run]) -> None:
    """The data path and the base run exist and the base run is complete: a run failing this is
    never recorded (the error says what to fix; nothing was started)."""
    if spec.data and "://" not in str(spec.data):
        check_data_path(spec.data)
    if spec.run:
        _usable_base_run(spec.run, get_run)


def _usable_base_run(name: str, get_run: Callable[[str], Run]) -> Run:
    base = get_run(name)
    if base.status not in (model.COMPLETED, model.COMPLETED_WITH_ERRORS):
        raise InvalidRunStatusError(f"Base run '{base.name}' is {base.status}; an evaluation needs a "
                                    "completed base run.", hint=f"resume it: `pfl run resume {base.name}`.")
    return base


def base_inputs(base: Run, folder: RunFolder, log: RunLog) -> list[dict[str, Any]]:
    """``${run.inputs.x}`` reads the base run's data (as promptflow); its recorded inputs if the data is gone."""
    if base.data and Path(base.data).exists():
        return load_data(base.data)
    log.info(f"Base run data {base.data} not available: ${{run.inputs.*}} reads its recorded inputs.")
    return [{**inputs, "line_number": n} for n, inputs in folder.read_inputs()]
