"""The lines of a new run: data rows and base-run rows, joined and mapped to flow inputs (§4.2, §4.3)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Iterable

from promptflow_lite.runs import _model as model
from promptflow_lite.runs._data import check_data_path, empty_data, iter_data
from promptflow_lite.runs._errors import InvalidRunStatusError
from promptflow_lite.runs._log import RunLog
from promptflow_lite.runs._join import LINE_NUMBER, Rows
from promptflow_lite.runs._mapping import MappedLines, mapped_lines
from promptflow_lite.runs._model import Run
from promptflow_lite.runs._spec import RunSpec
from promptflow_lite.runs._store import RunFolder


def prepare_lines(spec: RunSpec, flow: Any, log: RunLog, get_run: Callable[[str], Run]) -> MappedLines:
    """``(line_number, inputs)`` for every line, in line order, streamed from the data file and the base run
    (iterating the lines reads them again); warnings (hidden columns, dropped lines) go to ``log``."""
    sources: dict[str, Rows] = {}
    labels, origins = {}, {}
    if spec.data:
        sources["data"] = _warned_once(lambda warn: iter_data(spec.data, warn), log.warning)
        origins["data"] = str(spec.data)
    if spec.run:
        base = _usable_base_run(spec.run, get_run)
        folder = RunFolder(base.output_path)
        sources["run.outputs"] = folder.resolved_outputs_source()
        sources["run.inputs"] = base_inputs(base, folder, log)
        labels["run.outputs"] = f"base run '{base.name}' (the line failed there)"
        origins["run.outputs"] = origins["run.inputs"] = f"run {base.name}"
    if spec.data and next(iter_data(spec.data), None) is None:
        raise empty_data(spec.data)
    if not spec.column_mapping:
        log.info("No column mapping given: every flow input without a default reads the data column "
                 "of the same name.")
    lines = mapped_lines(flow.inputs, sources, spec.column_mapping, warn=log.warning, source_labels=labels,
                         origins=origins, only=None if spec.lines is None else set(spec.lines))
    if spec.data and spec.lines:
        count = lines.source_rows["data"]
        beyond = sorted(n for n in set(spec.lines) if not 0 <= n < count)
        if beyond:
            log.warning(f"{len(beyond)} requested line(s) are not in the data ({count} lines, numbered "
                        f"from 0): {', '.join(map(str, beyond[:20]))}{', ...' if len(beyond) > 20 else ''}.")
    return lines


def _warned_once(read: Callable[[Callable[[str], None] | None], Iterable[dict[str, Any]]],
                 warn: Callable[[str], None]) -> Rows:
    """A source reading the data with ``warn`` for skipped files the first time only (it is read again)."""
    reads = itertools.count()
    return lambda: read(warn if next(reads) == 0 else None)


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


def base_inputs(base: Run, folder: RunFolder, log: RunLog) -> Rows:
    """``${run.inputs.x}`` reads the base run's data (as promptflow); its recorded inputs if the data is gone."""
    if base.data and Path(base.data).exists():
        return lambda: iter_data(base.data)
    log.info(f"Base run data {base.data} not available: ${{run.inputs.*}} reads its recorded inputs.")
    return lambda: ({**inputs, LINE_NUMBER: n} for n, inputs in folder.read_inputs())
