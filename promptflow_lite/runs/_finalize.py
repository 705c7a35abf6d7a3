"""Finishing a run folder: sorted outputs, inputs and journal, and promptflow's line and node records, streamed.

Everything is derived from the journal read one entry at a time in line order through a
:class:`~promptflow_lite.runs._journal_index.JournalIndex`, so finishing a million-line run holds
one entry (and one ``BATCH_SIZE`` chunk of artifact records) at a time, never the journal. Each file
is written to a temporary name and moved into place, as before: ``flow_outputs/output.jsonl`` and
``outputs.jsonl``, ``inputs.jsonl`` (the mapped inputs, with the values the lines really ran with),
the journal itself when a line has several records (one entry per line, sorted), and
``flow_artifacts/<lo>_<hi>.jsonl`` and ``node_artifacts/<node>/<lo>_<hi>.jsonl``, ``BATCH_SIZE`` lines per file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from promptflow_lite.engine._results import COMPLETED, dumps
from promptflow_lite.runs._journal_index import JournalIndex
from promptflow_lite.runs._records import line_record, node_record
from promptflow_lite.runs._store import BATCH_SIZE, LINE_NUMBER, WIDTH, LineFile, RunFolder

_TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass
class Finalized:
    """What the journal says of a finished run: counts, the failed lines' errors, tokens used."""

    completed: int = 0
    failed: list[tuple[int, Any]] = field(default_factory=list)  # (line number, error), ascending
    cached: int = 0
    tokens: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_TOKENS, 0))

    def count(self, entry: dict[str, Any]) -> None:
        if entry["status"] == COMPLETED:
            self.completed += 1
        else:
            self.failed.append((entry[LINE_NUMBER], entry.get("error")))
        self.cached += bool(entry.get("cached"))
        usage = entry.get("usage") or {}
        for key in _TOKENS:
            self.tokens[key] += int(usage.get(key, 0) or 0)


def finalize(folder: RunFolder, run_name: str) -> Finalized:
    """Rewrite the run's outputs, inputs and journal sorted, one row per line, and its line and
    node records; returns the counts."""
    index = JournalIndex.build(folder.journal_file)
    writer = FinalFiles(folder, run_name, sorted_journal=index.has_repeats)
    try:
        for entry in index.entries():
            writer.add(entry)
    except BaseException:
        writer.abort()
        raise
    return writer.commit(index)


class FinalFiles:
    """The files :func:`finalize` writes, fed the journal's entries one at a time in line order (each
    line's latest): temporary files until :meth:`commit` moves them into place, or :meth:`abort`
    removes them. ``sorted_journal``: rewrite the journal too (a line with several records, or a damaged one)."""

    def __init__(self, folder: RunFolder, run_name: str, *, sorted_journal: bool):
        self.folder, self.summary = folder, Finalized()
        self._journal = LineFile(folder.journal_file, framed=True) if sorted_journal else None
        self._outputs, self._legacy = LineFile(folder.outputs_file), LineFile(folder.legacy_outputs_file)
        self._inputs = _InputsMerge(folder)
        self._artifacts = _Artifacts(folder, run_name)
        self._files = [f for f in (self._journal, self._outputs, self._legacy, self._inputs.file) if f is not None]

    def add(self, entry: dict[str, Any]) -> None:
        number = entry[LINE_NUMBER]
        self.summary.count(entry)
        if self._journal is not None:
            self._journal.write(dumps(entry))
        if entry["status"] == COMPLETED:
            values = entry.get("outputs") or {}
            self._outputs.write(dumps({LINE_NUMBER: number, **values}))
            self._legacy.write(dumps({**values, LINE_NUMBER: number}))
        self._inputs.upto(number, entry.get("inputs"))
        self._artifacts.add(entry)

    def commit(self, index: JournalIndex | None = None) -> Finalized:
        """Finish every file and move it into place (``index``: the journal's, built if needed for inputs out
        of line order)."""
        try:
            self._inputs.rest()
            self._artifacts.flush()
            self._artifacts.remove_stale()
        except BaseException:
            self.abort()
            raise
        for file in self._files:
            file.commit()
        if self._inputs.unordered:
            _write_inputs_in_memory(self.folder, index or JournalIndex.build(self.folder.journal_file))
        return self.summary

    def abort(self) -> None:
        for file in self._files:
            file.abort()


class _InputsMerge:
    """``inputs.jsonl`` rewritten as the journal entries go by (both ascending): each line's mapped
    inputs with the values it really ran with. Notes ``unordered`` if the file was not in line order."""

    def __init__(self, folder: RunFolder):
        self.file = LineFile(folder.inputs_file, data=True)
        self._rows: Iterator[tuple[int, dict[str, Any]]] = folder.read_inputs()
        self._next = next(self._rows, None)
        self._last = -1
        self.unordered = False

    def upto(self, number: int, ran_with: dict[str, Any] | None) -> None:
        while not self.unordered and self._next is not None and self._next[0] <= number:
            line, values = self._next
            if line < self._last:
                self.unordered = True
                return
            self._last = line
            if line == number and ran_with:
                values = {**values, **ran_with}
            self.file.write(dumps({**values, LINE_NUMBER: line}))
            self._next = next(self._rows, None)

    def rest(self) -> None:
        self.upto(float("inf"), None)  # type: ignore[arg-type]


def _write_inputs_in_memory(folder: RunFolder, index: JournalIndex) -> None:
    """The inputs of a folder whose ``inputs.jsonl`` is not in line order (never written so by this
    package): sorted in memory."""
    mapped = dict(folder.read_inputs())
    ran_with = {e[LINE_NUMBER]: e.get("inputs") or {} for e in index.entries(iter(sorted(n for n in mapped if n in index)))}
    file = LineFile(folder.inputs_file, data=True)
    for number in sorted(mapped):
        file.write(dumps({**mapped[number], **ran_with.get(number, {}), LINE_NUMBER: number}))
    file.commit()


class _Artifacts:
    """promptflow's ``flow_artifacts`` and per-line ``node_artifacts`` files, one ``BATCH_SIZE`` chunk at a time."""

    def __init__(self, folder: RunFolder, run_name: str):
        self.folder, self.run_name = folder, run_name
        self._chunk: int | None = None
        self._rows: list[dict[str, Any]] = []
        self._written: set[Path] = set()

    def add(self, entry: dict[str, Any]) -> None:
        chunk = entry[LINE_NUMBER] // BATCH_SIZE
        if chunk != self._chunk:
            self.flush()
            self._chunk = chunk
        self._rows.append(entry)

    def flush(self) -> None:
        if not self._rows:
            return
        chunk, rows, run_name = self._chunk, self._rows, self.run_name
        name = f"{chunk * BATCH_SIZE:0{WIDTH}d}_{chunk * BATCH_SIZE + BATCH_SIZE - 1:0{WIDTH}d}.jsonl"
        self.folder.flow_artifacts.mkdir(exist_ok=True)
        _write_all(LineFile(self.folder.flow_artifacts / name), (dumps(line_record(run_name, row)) for row in rows))
        self._written.add(self.folder.flow_artifacts / name)
        by_node: dict[str, list[str]] = {}
        for row in rows:
            for node in row.get("nodes") or []:
                by_node.setdefault(node["node"], []).append(dumps(node_record(run_name, node, row[LINE_NUMBER])))
        for node_name, records in by_node.items():
            target = self.folder.node_artifacts / node_name
            target.mkdir(parents=True, exist_ok=True)
            _write_all(LineFile(target / name), records)
            self._written.add(target / name)
        self._rows = []

    def remove_stale(self) -> None:
        """Remove the chunk files of an earlier finalisation that this one did not write."""
        for folder in (self.folder.flow_artifacts, *self.folder.node_folders()):
            for stale in folder.glob("*_*.jsonl"):
                if stale not in self._written:
                    stale.unlink()


def _write_all(file: LineFile, texts: Iterable[str]) -> None:
    for text in texts:
        file.write(text)
    file.commit()

