"""Column mapping (FLOW_FORMAT §4.3): which value each flow input gets on each line.

Sources are named row streams: ``data`` (the ``--data`` rows), ``run.outputs`` and ``run.inputs``
(of a base run). A mapping value that is exactly ``${source.column}`` is a reference, anything
else a literal. Sources are joined by ``line_number`` when their rows carry one (run outputs do)
and by position otherwise (:mod:`._join`); a line missing from any source is dropped. The default mapping
gives every input *without* a default ``${data.<input>}``; inputs with a default get none.

We follow promptflow, but say out loud what it does silently: a data column hidden by an
input's default, and lines dropped because a base run has no output for them.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping

from promptflow_lite.runs._data import UNREADABLE, UnreadableRow
from promptflow_lite.runs._errors import InputMappingError
from promptflow_lite.runs._join import LINE_NUMBER, JoinedLines, Rows, rows_of

_REFERENCE = re.compile(r"^\$\{([^{}]+)\}$")

Row = dict[str, Any]
Line = tuple[int, Row]


def parse_mapping(items: Mapping[str, Any] | None) -> dict[str, Any]:
    """Check a user's column mapping: a dict with at least one ``${...}`` binding (when not empty)."""
    if not items:
        return {}
    if not isinstance(items, Mapping):
        raise InputMappingError(f"The column mapping must be a mapping of input name to value, not "
                                f"{type(items).__name__}.", hint="write it as input='${data.column}'.")
    mapping = {str(k): v for k, v in items.items()}
    if not any(isinstance(v, str) and v.startswith("$") for v in mapping.values()):
        raise InputMappingError(f"The column mapping must contain at least one binding, but all values are "
                                f"literals: {mapping}.", hint="bind an input to data, e.g. question='${data.question}'.")
    return mapping


def effective_mapping(flow_inputs: Mapping[str, Any], column_mapping: Mapping[str, Any] | None) -> dict[str, Any]:
    """The default mapping (inputs without a default → ``${data.<name>}``) overridden by ``column_mapping``."""
    mapping = {name: f"${{data.{name}}}" for name, spec in flow_inputs.items() if not _has_default(spec)}
    mapping.update(column_mapping or {})
    mapping.pop(LINE_NUMBER, None)
    return mapping


def map_lines(flow_inputs: Mapping[str, Any], sources: Mapping[str, list[Row]],
              column_mapping: Mapping[str, Any] | None = None, **options: Any) -> list[Line]:
    """:func:`mapped_lines` over rows held in memory, as a list."""
    return list(mapped_lines(flow_inputs, {name: rows_of(rows) for name, rows in sources.items()}, column_mapping,
                             **options))


class MappedLines:
    """``(line_number, inputs)`` of every joined line, mapped as the sources are read again at each iteration;
    ``count`` lines, made of ``source_rows`` rows per source."""

    def __init__(self, joined: JoinedLines, bind: Callable[[dict[str, Row]], Row], count: int):
        self._joined, self._bind, self.count, self.source_rows = joined, bind, count, joined.counts

    def __iter__(self) -> Iterator[Line]:
        for line_number, rows in self._joined:
            yield line_number, self._bind(rows)


def mapped_lines(flow_inputs: Mapping[str, Any], sources: Mapping[str, Rows],
                 column_mapping: Mapping[str, Any] | None = None, *, warn: Callable[[str], None] = lambda _: None,
                 source_labels: Mapping[str, str] | None = None,
                 origins: Mapping[str, str] | None = None, only: Collection[int] | None = None) -> MappedLines:
    """``(line_number, inputs)`` for every line of the sources joined by line (:mod:`._join`), with the
    mapping applied; streamed, so no source is held in memory.

    Raises ``InputMappingError`` for references that match no column (all listed at once).
    ``warn`` receives the loud warnings; ``source_labels`` describe sources in them;
    ``origins`` name where each source comes from (a file, a run) in errors. ``only``: keep just
    these line numbers (a sample), as if the sources had no other lines.
    """
    joined = JoinedLines(sources, only)
    bind = binder(flow_inputs, joined.columns, column_mapping, warn=warn, origins=origins)
    count, warnings = joined.check(source_labels)
    for warning in warnings:
        warn(warning)
    return MappedLines(joined, bind, count)


def binder(flow_inputs: Mapping[str, Any], columns: dict[str, set[str]], column_mapping: Mapping[str, Any] | None,
           *, warn: Callable[[str], None], origins: Mapping[str, str] | None) -> Callable[[dict[str, Row]], Row]:
    """The function giving one line's inputs from its rows (``{source: row}``); raises ``InputMappingError``
    for references that match no column of ``columns`` (all listed at once)."""
    explicit = parse_mapping(column_mapping)
    mapping = effective_mapping(flow_inputs, explicit)
    _warn_hidden_columns(flow_inputs, explicit, columns.get("data"), warn)
    bindings = _bind(mapping, columns, explicit, origins or {})
    literals = {key: mapping[key] for key, binding in bindings.items() if binding is None}

    def bind(rows: dict[str, Row]) -> Row:
        for row in rows.values():
            if type(row) is UnreadableRow:
                return {UNREADABLE: row.problem}
        values: Row = {}
        for key, binding in bindings.items():
            if binding is None:
                values[key] = literals[key]
            else:
                source, column = binding
                if column in rows[source]:
                    values[key] = rows[source][column]
        return values

    return bind


def _has_default(spec: Any) -> bool:
    has_default = getattr(spec, "has_default", None)
    if has_default is not None:
        return bool(has_default)
    return getattr(spec, "default", None) is not None


def _warn_hidden_columns(flow_inputs, explicit: dict[str, Any], present: set[str] | None, warn) -> None:
    if not present:
        return
    for name, spec in flow_inputs.items():
        if _has_default(spec) and name not in explicit and name in present:
            warn(f"Data column '{name}' is NOT used: flow input '{name}' has a default "
                 f"({getattr(spec, 'default', None)!r}), and inputs with a default get no default mapping "
                 f"(promptflow's rule). To use the column, pass --column-mapping {name}='${{data.{name}}}'.")


def _bind(mapping: dict[str, Any], columns: dict[str, set[str]], explicit: dict[str, Any],
          origins: Mapping[str, str]):
    """For each key: ``(source, column)`` for a reference, None for a literal."""
    bindings: dict[str, tuple[str, str] | None] = {}
    missing = []
    for key, value in mapping.items():
        match = _REFERENCE.match(value) if isinstance(value, str) else None
        if match is None:
            bindings[key] = None
            continue
        parts = match.group(1).split(".")
        for i in range(1, len(parts)):  # shortest source name first, as promptflow
            source, column = ".".join(parts[:i]), ".".join(parts[i:])
            if source in columns and column in columns[source]:
                bindings[key] = (source, column)
                break
        else:
            missing.append((key, value))
    if missing:
        raise InputMappingError(_missing_message(missing, columns, explicit, origins),
                                hint=_missing_hint(missing, columns))
    return bindings


def _missing_message(missing, columns: dict[str, set[str]], explicit: dict[str, Any],
                     origins: Mapping[str, str]) -> str:
    parts = []
    for key, value in missing:
        origin = "mapped" if key in explicit else "has no default and no mapping, so it defaults to"
        parts.append(f"input '{key}' {origin} {value}")
    available = "; ".join(f"{source}{f' ({origins[source]})' if source in origins else ''}: "
                          f"{', '.join(sorted(cols)) or '(none)'}" for source, cols in columns.items())
    return (f"Couldn't find these mapping relations: {'; '.join(parts)}. "
            f"Available columns — {available or 'no data or base run was given'}.")


def _missing_hint(missing, columns: dict[str, set[str]]) -> str:
    key = missing[0][0]
    if not columns:
        return "pass --data FILE (or --run BASE) so the inputs have values."
    source = "data" if "data" in columns else next(iter(columns))
    example = sorted(columns[source])[0] if columns[source] else "column"
    return f"map each input to an existing column, e.g. --column-mapping {key}='${{{source}.{example}}}'."
