"""The line journal (``line_results.jsonl``): one self-checking record per finished line, appended crash-safely.

A record is one JSON object per line that starts with the CRC-32 of the rest:
``{"_crc32":"1a2b3c4d","line_number":0,...}`` (journal format 2), so it stays JSONL for any tool while
a torn, truncated or damaged record is recognised and ignored - its line simply runs again on resume.
Records of format 1 (no checksum, earlier releases) are accepted when they parse strictly as an entry.

Each record is written with one ``os.write`` on an ``O_APPEND`` descriptor. A write that fails (disk
full, file size limit) is cut back off the file and raised as :class:`JournalWriteError`, so a record is
on disk whole or not at all; opening for append first cuts off the unterminated tail a killed process
may have left. Text is UTF-8 with lone surrogates written as JSON ``\\udXXX`` escapes (the same value).
"""

from __future__ import annotations

import json
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptflow_lite.runs._errors import RunStoreError, unwritable

JOURNAL_FORMAT = 2
_PREFIX = b'{"_crc32":"'
_HEAD = len(_PREFIX) + 8 + 2  # prefix, 8 hex digits, '",'
# the start of an entry as this package writes it (``"format"`` first since line format 1 has it)
_LINE_STATUS = re.compile(rb'^\{(?:"format":\s*\d+,\s*)?"line_number":\s*(\d+),\s*"status":\s*"(\w+)"')


class JournalWriteError(RunStoreError):
    """A line's record could not be written (e.g. the disk is full): the line does not count as done."""


def frame(text: str) -> bytes:
    """The journal record of an entry's JSON ``text`` (an object), newline included."""
    body = encode_json(text)
    if not (body.startswith(b"{") and len(body) > 2):
        raise ValueError("a journal record is a non-empty JSON object")
    return b'%s%08x",%s\n' % (_PREFIX, zlib.crc32(body), body[1:])


def encode_json(text: str) -> bytes:
    """UTF-8 bytes of JSON ``text``; a lone surrogate (only possible inside a string) becomes its ``\\udXXX``
    escape, which reads back as the same value."""
    return text.encode("utf-8", "backslashreplace")


def unframe(record: bytes) -> dict[str, Any] | None:
    """The entry of one record (without its newline), or None when it is torn or damaged."""
    if record.startswith(_PREFIX):
        body = b"{" + record[_HEAD:]
        try:
            if record[_HEAD - 2:_HEAD] != b'",' or int(record[len(_PREFIX):_HEAD - 2], 16) != zlib.crc32(body):
                return None
        except ValueError:
            return None
    else:
        body = record  # format 1
    try:
        entry = json.loads(body)
    except ValueError:  # includes bad UTF-8
        return None
    return entry if _is_entry(entry) else None


def record_head(record: bytes) -> tuple[int, str] | None:
    """``(line_number, status)`` of one record (without its newline), None when it is torn or damaged.

    For a format 2 record the checksum is verified and only the start of the JSON read, which makes
    indexing a large journal cheap; anything else goes through :func:`unframe`.
    """
    if record.startswith(_PREFIX):
        body = b"{" + record[_HEAD:]
        try:
            whole = record[_HEAD - 2:_HEAD] == b'",' and int(record[len(_PREFIX):_HEAD - 2], 16) == zlib.crc32(body)
        except ValueError:
            return None
        if not whole:
            return None
        found = _LINE_STATUS.match(body)
        if found is not None:
            return int(found[1]), found[2].decode()
    entry = unframe(record)
    return (entry["line_number"], entry["status"]) if entry is not None else None


def _is_entry(entry: Any) -> bool:
    number = entry.get("line_number") if isinstance(entry, dict) else None
    return isinstance(number, int) and not isinstance(number, bool) and isinstance(entry.get("status"), str)


@dataclass
class JournalScan:
    """What a journal holds: its valid entries in file order, and how many records were unusable."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    damaged: int = 0


def scan(path: Path) -> JournalScan:
    """Every record of the journal at ``path`` (none if it does not exist); an unterminated tail counts as damaged."""
    result = JournalScan()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return result
    records = data.split(b"\n")
    tail = records.pop()  # b"" when the file ends with a newline
    for record in records:
        if not record.strip():
            continue
        entry = unframe(record)
        if entry is None:
            result.damaged += 1
        else:
            result.entries.append(entry)
    result.damaged += bool(tail.strip())
    return result


class JournalWriter:
    """Appends records to the journal at ``path``; see the module docstring for the guarantees."""

    def __init__(self, path: Path, run_name: str = "RUN"):
        self.path, self.run_name = path, run_name
        self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        self._size = _cut_torn_tail(self._fd)

    def append(self, text: str, *, line_number: int | None = None) -> None:
        """Write the record of entry JSON ``text``; raises :class:`JournalWriteError` when it is not on disk whole."""
        record = frame(text)
        written = 0
        try:
            while written < len(record):
                written += os.write(self._fd, record[written:])
        except OSError as exc:
            self._cut_back()
            what = f"line {line_number}'s result" if line_number is not None else "a line's result"
            raise unwritable(self.run_name, f"{what} to the run journal", exc, file=self.path,
                             kind=JournalWriteError) from exc
        self._size += written

    def _cut_back(self) -> None:
        try:
            os.ftruncate(self._fd, self._size)
        except OSError:
            pass  # a reader ignores the torn record anyway

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _cut_torn_tail(fd: int) -> int:
    """Truncate the file after its last newline (a killed writer's half record); returns the new size."""
    size = os.fstat(fd).st_size
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end != size:
        os.ftruncate(fd, end)
    return end
