"""Joining a run's row sources (``data``, a base run's ``run.outputs`` and ``run.inputs``) line by line, streamed.

A source is a function giving a fresh iterator of its rows each time it is called, so a million-line
evaluation over a million-line base run never holds either in memory. Rows carrying ``line_number``
join by it (a source whose numbers do not ascend is sorted in memory first: the only case that holds
rows); the others by position. A line missing from any source is dropped, and said so.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Callable, Collection, Iterable, Iterator, Mapping

from promptflow_lite.runs._errors import InputMappingError

LINE_NUMBER = "line_number"
_DROPPED_SHOWN = 20

Row = dict[str, Any]
Rows = Callable[[], Iterable[Row]]  # a source: its rows, read afresh at each call


@dataclass
class _Survey:
    """What one pass over a source found: its columns, rows, and how its rows are numbered."""
    columns: set[str] = field(default_factory=set)
    count: int = 0
    keyed: bool = False  # some row carries line_number
    ascending: bool = True  # the line numbers of the rows that carry one ascend strictly

    @classmethod
    def of(cls, rows: Iterable[Row]) -> "_Survey":
        survey, last = cls(), None
        for row in rows:
            survey.columns.update(row)
            survey.count += 1
            number = row.get(LINE_NUMBER)
            if LINE_NUMBER in row:
                survey.keyed = True
            if isinstance(number, int):
                survey.ascending = survey.ascending and (last is None or number > last)
                last = number
        return survey


class JoinedLines:
    """The joined rows of every line present in all sources, ascending: ``(line_number, {source: row})``;
    reads the sources again each time it is iterated. ``columns`` and ``counts`` (rows) per source are known
    at once (one pass over each source); :meth:`check` then counts the lines and says which are dropped."""

    def __init__(self, sources: Mapping[str, Rows], only: Collection[int] | None = None):
        self._surveys = {name: _Survey.of(rows()) for name, rows in sources.items()}
        self._sources = {name: rows if not self._surveys[name].keyed or self._surveys[name].ascending else _sorted(rows)
                         for name, rows in sources.items()}
        self._keyed = {name for name, survey in self._surveys.items() if survey.keyed}
        self._only = None if only is None else set(only)
        self.columns = {name: survey.columns for name, survey in self._surveys.items()}
        self.counts = {name: survey.count for name, survey in self._surveys.items()}  # rows per source

    def __iter__(self) -> Iterator[tuple[int, dict[str, Row]]]:
        wanted = len(self._sources)
        return ((number, rows) for number, rows in self._all_numbers() if len(rows) == wanted)

    def check(self, labels: Mapping[str, str] | None = None) -> tuple[int, list[str]]:
        """How many lines every source has, and warnings naming the lines a source lacks (described by
        ``labels``); ``InputMappingError`` when a source is empty, positional sources differ in length,
        or no line is complete."""
        for name, survey in self._surveys.items():
            if not survey.count:
                raise InputMappingError(f"The input source '{name}' has no rows, so no line can be built.",
                                        hint="check the data file, or that the base run has completed lines.")
        positional = {name: s.count for name, s in self._surveys.items() if not s.keyed}
        if len(set(positional.values())) > 1:
            raise InputMappingError(f"Line numbers are not aligned: the sources have different lengths {positional} "
                                    "and no 'line_number' to join them by.",
                                    hint="use data with the same number of rows as the base run's data.")
        if not self._keyed and self._only is None:  # positional sources of one length: every line is complete
            return next(iter(positional.values())), []
        numbers, complete = 0, 0
        shown: dict[str, list[int]] = {name: [] for name in self._sources}
        dropped = dict.fromkeys(self._sources, 0)
        for number, rows in self._all_numbers():
            numbers += 1
            complete += len(rows) == len(self._sources)
            for name in self._sources.keys() - rows.keys():
                dropped[name] += 1
                if len(shown[name]) < _DROPPED_SHOWN:
                    shown[name].append(number)
        if not complete:
            raise InputMappingError("Could not find one complete line in the inputs: no line number is present in "
                                    f"every source ({', '.join(self._sources)}).",
                                    hint="check that the base run has completed lines for this data.")
        labels = labels or {}
        return complete, [f"{dropped[name]} of {numbers} lines are DROPPED because "
                          f"{labels.get(name, f'source {name!r}')} has no row for them: line(s) "
                          f"{', '.join(map(str, shown[name]))}{', ...' if dropped[name] > len(shown[name]) else ''}."
                          for name in self._sources if dropped[name]]

    def _all_numbers(self) -> Iterator[tuple[int, dict[str, Row]]]:
        """Every line number of any source (of ``only``), with the rows the sources have for it."""
        streams = [_numbered(name, rows(), name in self._keyed) for name, rows in self._sources.items()]
        for number, group in itertools.groupby(heapq.merge(*streams, key=itemgetter(0)), key=itemgetter(0)):
            if self._only is None or number in self._only:
                yield number, {name: row for _, name, row in group}  # a repeated number: its last row


def rows_of(rows: list[Row]) -> Rows:
    """A source over rows already in memory."""
    return lambda: rows


def _numbered(name: str, rows: Iterable[Row], keyed: bool) -> Iterator[tuple[int, str, Row]]:
    for index, row in enumerate(rows):
        number = row.get(LINE_NUMBER) if keyed else index
        if isinstance(number, int):
            yield number, name, row


def _sorted(rows: Rows) -> Rows:
    """A keyed source whose numbers do not ascend, sorted once in memory (rows without a number dropped)."""
    ordered = sorted((row for row in rows() if isinstance(row.get(LINE_NUMBER), int)), key=itemgetter(LINE_NUMBER))
    return rows_of(ordered)
