"""Reading a run's journal while the run still appends to it: each line's latest entry, in line order, once final.

A run executes the lines its journal does not hold as completed when it starts (``start``: the journal's
size then), each once, recording each as it finishes. So line ``n``'s entry is final once a record of
it lands after ``start``, or at once when the part before ``start`` says it completed, or when the run
has ended (then whatever the journal holds, if anything). :meth:`JournalFollower.entries` yields the
entries of the line numbers asked for, ascending, as they become final, and calls ``wait`` (which
returns whether the run has ended) when the next one is not final yet. It keeps the byte range of the
records ahead of the line it waits for, not the records. Whether what it yielded is exactly what
:class:`~promptflow_lite.runs._journal_index.JournalIndex` would have read from the finished journal
is checked at the end (:attr:`JournalFollower.faithful`): a record for a line already passed, or
for a line never asked for, makes it False.

    follower = JournalFollower(folder.journal_file, start)
    for entry in follower.entries(numbers, wait): ...
    follower.faithful, follower.has_repeats
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from promptflow_lite.runs._journal import record_head, unframe
from promptflow_lite.runs._journal_index import JournalIndex

_READ = 1 << 20


class JournalFollower:
    """The latest entries of a journal being appended to (see the module docstring)."""

    def __init__(self, path: Path, start: int):
        self.path = Path(path)
        self.before = JournalIndex.build(self.path, end=start)  # what the run started with
        self._fd = os.open(self.path, os.O_RDONLY)
        self._offset = start  # where the next unread record starts
        self._ahead: dict[int, tuple[int, int]] = {}  # line number -> (offset, length) of its latest new record
        self._passed = -1  # the last line number yielded or skipped
        self._records = self._fresh = self._damaged = self._read = 0
        self._torn = False
        self._stray = False  # a new record for a line already passed

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def entries(self, numbers: Iterable[int], wait: Callable[[], bool]) -> Iterator[dict[str, Any]]:
        """The final entry of each of ``numbers`` (ascending) that has a record; ``wait()`` blocks a while
        and says whether the run has ended."""
        ended = False
        for number in numbers:
            if number <= self._passed:
                self._stray = True  # not ascending: the caller starts over from the finished journal
                break
            while True:
                found = self._ahead.pop(number, None)
                if found is not None:
                    entry = self._decode(*found, number)
                    break
                if self.before.completed(number) or (ended and number in self.before):
                    entry = self._decode(*self.before.span(number), number)
                    break
                if ended:
                    entry = None
                    break
                if not self.poll():
                    ended = wait()
                    if ended:
                        self.poll(True)
            self._passed = number
            if entry is not None:
                yield entry
        if not ended:
            while not wait():
                pass
        self.poll(True)

    def poll(self, ended: bool = False) -> bool:
        """Read the records appended since the last call (and, once the run has ended, an unterminated tail);
        returns whether there were any."""
        found = False
        while True:
            unread = os.fstat(self._fd).st_size - self._offset
            if unread <= 0:
                return found
            data = os.pread(self._fd, min(unread, _READ), self._offset)
            end = data.rfind(b"\n") + 1
            if end == 0 and len(data) < unread:  # a record longer than one read
                data = os.pread(self._fd, unread, self._offset)
                end = data.rfind(b"\n") + 1
            if end == 0:
                self._torn = ended and bool(data.strip())
                return found
            found = True
            offset = self._offset
            for record in data[:end - 1].split(b"\n"):
                self._add(record, offset)
                offset += len(record) + 1
            self._offset += end

    def _add(self, record: bytes, offset: int) -> None:
        """One record (without its newline) at ``offset``."""
        if not record.strip():
            return
        head = record_head(record)
        if head is None or head[0] < 0:
            self._damaged += 1
            return
        number = head[0]
        self._records += 1
        if number <= self._passed:
            self._stray = True
        elif number not in self._ahead and number not in self.before:
            self._fresh += 1
        self._ahead[number] = (offset, len(record) + 1)

    def _decode(self, offset: int, length: int, number: int) -> dict[str, Any] | None:
        self._read += 1
        entry = unframe(os.pread(self._fd, length, offset).rstrip(b"\n"))
        return entry if entry is not None and entry.get("line_number") == number else None

    @property
    def has_repeats(self) -> bool:
        """:attr:`JournalIndex.has_repeats` of the whole journal as read so far."""
        before = self.before
        lines = len(before) + self._fresh
        return before.records + self._records > lines or before.damaged + self._damaged + self._torn > 0

    @property
    def faithful(self) -> bool:
        """Whether the entries yielded were each line's latest, for every line the journal holds."""
        return not self._stray and not self._ahead and self._read == len(self.before) + self._fresh
