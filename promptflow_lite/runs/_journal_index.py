"""Where each line's latest journal record is: a compact index built by streaming the journal once.

A million-line run's journal is gigabytes; its entries are never all in memory. The index keeps per
line number the byte range and status of the line's latest valid record (arrays indexed by line
number, ~25 bytes a line), which is enough to decide what a resume reruns, to count, and to read the
entries back one at a time in line order (:meth:`JournalIndex.entries`).

    index = JournalIndex.build(folder.journal_file)
    index.completed(7), len(index), index.damaged
    for entry in index.entries(): ...
"""

from __future__ import annotations

import os
from array import array
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from promptflow_lite.runs._journal import record_head, unframe

_NONE, _COMPLETED, _OTHER = 0, 1, 2
_MISSING = -1


class JournalIndex:
    """The latest valid record of each line of one journal (see the module docstring)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._offsets = array("q")
        self._lengths = array("q")
        self._status = bytearray()
        self._first_seen = array("q")  # line numbers in the order their first record appears
        self.records = 0  # valid records, a line's repeated ones included
        self.damaged = 0  # torn or damaged records (an unterminated tail included)

    @classmethod
    def build(cls, path: Path, end: int | None = None) -> "JournalIndex":
        """The index of the journal at ``path`` (of its first ``end`` bytes: those written before a run went on)."""
        index = cls(path)
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return index
        with handle:
            offset = 0
            for raw in handle:
                if end is not None and offset >= end:
                    break
                if raw.strip():
                    if raw.endswith(b"\n"):
                        index._add(record_head(raw[:-1]), offset, len(raw))
                    else:
                        index.damaged += 1
                offset += len(raw)
        return index

    def _add(self, head: tuple[int, str] | None, offset: int, length: int) -> None:
        if head is None:
            self.damaged += 1
            return
        number, status = head
        if number < 0:
            self.damaged += 1
            return
        if number >= len(self._status):
            grow = number + 1 - len(self._status)
            self._offsets.frombytes(b"\xff" * 8 * grow)
            self._lengths.frombytes(b"\xff" * 8 * grow)
            self._status.extend(bytes(grow))
        if self._status[number] == _NONE:
            self._first_seen.append(number)
        self._offsets[number], self._lengths[number] = offset, length
        self._status[number] = _COMPLETED if status == "Completed" else _OTHER
        self.records += 1

    def __len__(self) -> int:
        """Lines with a record."""
        return len(self._first_seen)

    def __contains__(self, number: int) -> bool:
        return 0 <= number < len(self._status) and self._status[number] != _NONE

    def completed(self, number: int) -> bool:
        """Whether line ``number``'s latest record says it completed."""
        return 0 <= number < len(self._status) and self._status[number] == _COMPLETED

    def span(self, number: int) -> tuple[int, int]:
        """``(offset, length)`` of line ``number``'s latest record (which it must have)."""
        return self._offsets[number], self._lengths[number]

    @property
    def completed_count(self) -> int:
        return self._status.count(_COMPLETED)

    @property
    def has_repeats(self) -> bool:
        """Whether some line has more than one record (a resumed line), or some record is damaged."""
        return self.records > len(self) or self.damaged > 0

    def numbers(self) -> Iterator[int]:
        """Line numbers with a record, ascending."""
        status = self._status
        return (n for n in range(len(status)) if status[n] != _NONE)

    def first_seen(self) -> Iterator[int]:
        """Line numbers with a record, in the order their first record appears in the journal."""
        return iter(self._first_seen)

    def entries(self, numbers: Iterator[int] | None = None, *, completed_only: bool = False) -> Iterator[dict[str, Any]]:
        """The latest entry of each line (of ``numbers``, default ascending), read one at a time;
        a record that no longer decodes is skipped."""
        numbers = self.numbers() if numbers is None else numbers
        with self.reader() as read:
            for number in numbers:
                if completed_only and self._status[number] != _COMPLETED:
                    continue
                entry = read(number)
                if entry is not None:
                    yield entry

    @contextmanager
    def reader(self) -> Iterator[Callable[[int], dict[str, Any] | None]]:
        """``read(number)``: line ``number``'s latest entry, None when it has no record or the record no
        longer decodes."""
        if not len(self):
            yield lambda number: None
            return
        with open(self.path, "rb") as handle:
            fd = handle.fileno()

            def read(number: int) -> dict[str, Any] | None:
                if number not in self:
                    return None
                entry = unframe(os.pread(fd, self._lengths[number], self._offsets[number]).rstrip(b"\n"))
                return entry if entry is not None and entry.get("line_number") == number else None

            yield read
