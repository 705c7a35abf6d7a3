"""Column mapping (FLOW_FORMAT §4.3): which value each flow input gets on each line.

Sources are named row lists: ``data`` (the ``--data`` rows), ``run.outputs`` and ``run.inputs``
(of a base run). A mapping value that is exactly ``${source.column}`` is a reference, anything
else a literal. Sources are merged by ``line_number`` when their rows carry one (run outputs do)
and by position otherwise; a line missing from any source is dropped. The default mapping
gives every input *without* a default ``${data.<input>}``; inputs with a default get none.

We follow promptflow, but say out loud what it does silently: a data column hidden by an
input's default, and lines dropped because a base run has no output for them.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping

from promptflow_lite.runs._errors import InputMappingError

LINE_NUMBER = "line_number"
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
              column_mapping: Mapping[str, Any] | None = None, *, warn: Callable[[str], None] = lambda _: None,
              source_labels: Mapping[str, str] | None = None,
              origins: Mapping[str, str] | None = None, only: Collection[int] | None = None) -> list[Line]:
    """``(line_number, inputs)`` for every line of the merged sources, with the mapping applied.

    Raises ``InputMappingError`` for references that match no column (all listed at once).
    ``warn`` receives the loud warnings; ``source_labels`` describe sources in them;
    ``origins`` name where each source comes from (a file, a run) in errors. ``only``: keep just
    these line numbers (a sample), as if the sources had no other lines.
    """
    columns = {name: _columns(rows) for name, rows in sources.items()}
    bind = binder(flow_inputs, columns, column_mapping, warn=warn, origins=origins)
    return [(line_number, bind(rows)) for line_number, rows in _merge(sources, warn, source_labels or {}, only)]


class StreamedLines:
    """The mapped lines of one positional source (``--data`` alone), read again from it each time they are
    iterated (``rows()`` gives a fresh iterator of its rows); ``count`` lines."""

    def __init__(self, rows: Callable[[], Iterable[Row]], bind: Callable[[dict[str, Row]], Row], count: int):
        self._rows, self._bind, self.count = rows, bind, count

    def __iter__(self) -> Iterator[Line]:
        for index, row in enumerate(self._rows()):
            yield index, self._bind({"data": row})


def stream_lines(flow_inputs: Mapping[str, Any], rows: Callable[[], Iterable[Row]], columns: set[str], count: int,
                 column_mapping: Mapping[str, Any] | None = None, *, warn: Callable[[str], None] = lambda _: None,
                 origin: str | None = None) -> StreamedLines:
    """:func:`map_lines` for the ``data`` source alone (``count`` rows without ``line_number``, holding
    ``columns``), without holding its rows: the lines are mapped as ``rows()`` reads them again."""
    bind = binder(flow_inputs, {"data": columns}, column_mapping, warn=warn,
                  origins={"data": origin} if origin else None)
    return StreamedLines(rows, bind, count)


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


def _columns(rows: list[Row]) -> set[str]:
    found: set[str] = set()
    for row in rows:
        found.update(row)
    return found


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


def _merge(sources: Mapping[str, list[Row]], warn, labels: Mapping[str, str],
           only: Collection[int] | None = None) -> list[tuple[int, dict[str, Row]]]:
    """Rows of all sources joined by line: by ``line_number`` when a source has it, else by position."""
    for name, rows in sources.items():
        if not rows:
            raise InputMappingError(f"The input source '{name}' has no rows, so no line can be built.",
                                    hint="check the data file, or that the base run has completed lines.")
    positional = {name: len(rows) for name, rows in sources.items() if not any(LINE_NUMBER in r for r in rows)}
    if len(set(positional.values())) > 1:
        raise InputMappingError(f"Line numbers are not aligned: the sources have different lengths {positional} "
                                "and no 'line_number' to join them by.",
                                hint="use data with the same number of rows as the base run's data.")
    by_line: dict[int, dict[str, Row]] = {}
    for name, rows in sources.items():
        for index, row in enumerate(rows):
            number = index if name in positional else row.get(LINE_NUMBER)
            if isinstance(number, int) and (only is None or number in only):
                by_line.setdefault(number, {})[name] = row
    merged = sorted((n, rows) for n, rows in by_line.items() if len(rows) == len(sources))
    _warn_dropped(sources, by_line, warn, labels)
    if not merged:
        raise InputMappingError("Could not find one complete line in the inputs: no line number is present in "
                                f"every source ({', '.join(sources)}).",
                                hint="check that the base run has completed lines for this data.")
    return merged


def _warn_dropped(sources, by_line: dict[int, dict[str, Row]], warn, labels: Mapping[str, str]) -> None:
    for name in sources:
        dropped = sorted(n for n, rows in by_line.items() if name not in rows)
        if dropped:
            shown = ", ".join(map(str, dropped[:20])) + (", ..." if len(dropped) > 20 else "")
            where = labels.get(name, f"source '{name}'")
            warn(f"{len(dropped)} of {len(by_line)} lines are DROPPED because {where} has no row for them: "
                 f"line(s) {shown}.")
