"""A run folder on disk, in promptflow's layout (FLOW_FORMAT §4.6), written crash-safely.

While a run executes, each finished line costs one append: its entry, with its outputs and
node runs, to ``line_results.jsonl``, our journal (:mod:`.journal`: self-checking records, a
failed write raises). A line counts as done once its record is written whole, so a process
killed with ``kill -9`` or a full disk loses just the lines in flight, and a resume re-executes
exactly the lines without a valid successful record. :mod:`.finalize` derives the
rest from the journal: ``flow_outputs/output.jsonl`` and ``inputs.jsonl`` sorted by line
number, and promptflow's line and node records:
``flow_artifacts/<lo>_<hi>.jsonl`` and ``node_artifacts/<node>/<lo>_<hi>.jsonl``, ``BATCH_SIZE``
lines per file (promptflow's readers load every file of those folders). Nothing written holds a
known secret (:func:`~promptflow_lite.masking.mask_secrets`): journal lines are masked when encoded
(the files derived from them need no second pass), every other file as it is written, and the
snapshot's text files (a ``.env`` too) as they are copied.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from promptflow_lite.engine._results import COMPLETED, LINE_FORMAT, AggregationResult, LineResult, dumps, upgraded
from promptflow_lite.masking import mask_secrets
from promptflow_lite.runs._records import node_record
from promptflow_lite.runs._journal import JournalScan, JournalWriter, encode_json, frame, scan
from promptflow_lite.runs._journal_index import JournalIndex
from promptflow_lite.tools._multimedia import Multimedia, has_images, resolve_image_paths

LINE_NUMBER = "line_number"
WIDTH = 9
BATCH_SIZE = 100  # lines per flow_artifacts / node_artifacts file
_IGNORED = {".promptflow", "__pycache__", ".runs", ".git", ".venv", ".pytest_cache", ".mypy_cache", "node_modules"}


class RunFolder:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.snapshot = self.path / "snapshot"
        self.inputs_file = self.path / "inputs.jsonl"
        self.outputs_file = self.path / "flow_outputs" / "output.jsonl"
        self.legacy_outputs_file = self.path / "outputs.jsonl"
        self.journal_file = self.path / "line_results.jsonl"
        self.flow_artifacts = self.path / "flow_artifacts"
        self.node_artifacts = self.path / "node_artifacts"
        self.metrics_file = self.path / "metrics.json"
        self.error_file = self.path / "error.json"
        self.log_file = self.path / "logs.txt"
        self.meta_file = self.path / "meta.json"
        self._journal: JournalWriter | None = None

    def create(self) -> "RunFolder":
        self.path.mkdir(parents=True)
        for folder in (self.outputs_file.parent, self.flow_artifacts, self.node_artifacts):
            folder.mkdir()
        _write_json(self.meta_file, {"batch_size": BATCH_SIZE, "line_format": LINE_FORMAT})
        return self

    # before the lines ---------------------------------------------------------------------
    def write_start(self, flow: Any, lines: Iterable[tuple[int, dict[str, Any]]]) -> int:
        """The snapshot and the inputs a run writes before its first line; returns how many lines. When one
        cannot be written (a full disk), neither is left behind and the ``OSError`` is raised."""
        try:
            self.write_snapshot(flow)
            return self.write_inputs(lines)
        except OSError:
            shutil.rmtree(self.snapshot, ignore_errors=True)
            self.inputs_file.unlink(missing_ok=True)
            raise

    def write_snapshot(self, flow: Any) -> None:
        """Copy the flow folder; a DAG's flow file is replaced by the variant-resolved flow."""
        source = Path(getattr(flow, "run_dir", None) or flow.working_dir)
        shutil.rmtree(self.snapshot, ignore_errors=True)
        try:
            shutil.copytree(source, self.snapshot, ignore=self._ignore, symlinks=True, copy_function=_copy_masked)
        except _CopyFailed as failed:  # the first file that failed (copytree would go on, then list them all)
            raise failed.error from None
        spec = getattr(flow, "spec", None)
        if flow.kind == "dag" and spec is not None and spec.path is not None:
            import yaml

            data = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
            for node in data.get("nodes", []):
                if "reduce" in node:  # the model's alias; promptflow's documented key is `aggregation`
                    node["aggregation"] = node.pop("reduce")
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
            _write_text(self.snapshot / Path(spec.path).name, text)

    def _ignore(self, folder: str, names: list[str]) -> set[str]:
        return ignored_names(folder, names, self.path)

    def write_inputs(self, lines: Iterable[tuple[int, dict[str, Any]]]) -> int:
        """Write the mapped inputs (streamed: ``lines`` may be a generator); returns how many lines."""
        file, count = LineFile(self.inputs_file, data=True), 0
        try:
            for n, inputs in lines:
                file.write(dumps({**inputs, LINE_NUMBER: n}))
                count += 1
        except BaseException:
            file.abort()
            raise
        file.commit()
        return count

    # while the lines run ------------------------------------------------------------------
    def open(self) -> None:
        """Start appending line records (see :mod:`.journal`); meta.json then names their format (``LINE_FORMAT``). A folder
        written by a newer release is refused (its records may not read back here)."""
        meta = json.loads(self.meta_file.read_text(encoding="utf-8")) if self.meta_file.is_file() else {}
        if meta.get("line_format") != LINE_FORMAT:
            upgraded({"format": meta.get("line_format", 1)})  # raises for a newer format
            _write_json(self.meta_file, {**meta, "line_format": LINE_FORMAT})
        self._journal = JournalWriter(self.journal_file, self.path.name)  # cuts off a torn last record

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()

    def record_line(self, result: LineResult, media: Multimedia | None = None) -> None:
        """Persist a finished line: its journal record marks it done (raises ``JournalWriteError`` if not written).

        Images are written as files, as promptflow does: those of the outputs to ``flow_outputs/``
        (referenced relative to it, as in ``output.jsonl``), the others to ``flow_artifacts/``
        (referenced by absolute path), in ``media``'s message format."""
        text = result.to_json()
        if not result.json_is_exact:
            record = result.to_dict()
            if has_images(record):
                text = mask_secrets(dumps(self._with_image_files(record, media or Multimedia())), tokens=False)
        self._journal.append(text, line_number=result.line_number)

    def _with_image_files(self, record: dict[str, Any], media: Multimedia) -> dict[str, Any]:
        outputs_folder = self.outputs_file.parent
        if "outputs" in record:
            record["outputs"] = media.persist(record["outputs"], outputs_folder, relative_to=outputs_folder)
        return media.persist(record, self.flow_artifacts)

    def resolved_outputs_source(self) -> Callable[[], Iterator[dict[str, Any]]]:
        """The completed lines' outputs as rows with ``line_number``, ascending, image paths made absolute (what
        an evaluation run maps): each call reads them from the journal again, a record at a time."""
        index, folder = JournalIndex.build(self.journal_file), self.outputs_file.parent
        return lambda: ({LINE_NUMBER: entry[LINE_NUMBER], **resolve_image_paths(entry.get("outputs") or {}, folder)}
                        for entry in index.entries(completed_only=True))

    # after the lines ----------------------------------------------------------------------
    def record_aggregation(self, run_name: str, aggregation: AggregationResult) -> None:
        """Aggregation node records go to ``node_artifacts/<node>/000000000.jsonl``, as in promptflow."""
        for node_run in aggregation.node_runs.values():
            folder = self.node_artifacts / node_run.node
            folder.mkdir(exist_ok=True)
            _write_text(folder / f"{0:0{WIDTH}d}.jsonl", dumps(node_record(run_name, node_run.to_dict(), None)) + "\n")

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        _write_text(self.metrics_file, json.dumps(metrics, ensure_ascii=False, default=str))

    def write_error(self, error: dict[str, Any] | None) -> None:
        if error is None:
            self.error_file.unlink(missing_ok=True)
        else:
            _write_json(self.error_file, error)

    def node_folders(self) -> list[Path]:
        return [f for f in self.node_artifacts.iterdir() if f.is_dir()] if self.node_artifacts.is_dir() else []

    # reading ------------------------------------------------------------------------------
    def read_inputs(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(line_number, inputs)`` of each line, read lazily."""
        for row in _read_lines(self.inputs_file):
            number = row.pop(LINE_NUMBER)
            yield number, row

    def count_inputs(self) -> int:
        with open(self.inputs_file, "rb") as handle:
            return sum(1 for text in handle if text.strip())

    def holds_every_line(self) -> bool:
        """Whether the journal has a completed record of every line (not so when it was cut or damaged
        after the run completed)."""
        return self.inputs_file.is_file() and \
            JournalIndex.build(self.journal_file).completed_count >= self.count_inputs()

    def read_journal(self) -> dict[int, dict[str, Any]]:
        """The last valid entry of each line (a resumed line may have several)."""
        return {entry[LINE_NUMBER]: entry for entry in self.scan_journal().entries}

    def scan_journal(self) -> JournalScan:
        """The journal's valid entries in file order, and how many records are torn or damaged."""
        found = scan(self.journal_file)
        found.entries = [upgraded(entry) for entry in found.entries]
        return found

    def read_outputs(self, journal: dict[int, dict[str, Any]] | None = None) -> dict[int, dict[str, Any]]:
        """The outputs of the completed lines, by line number (without ``line_number``); read a line at a time
        (just the outputs are kept) unless ``journal`` is given."""
        if journal is None:
            index = JournalIndex.build(self.journal_file)
            return {e[LINE_NUMBER]: e.get("outputs") or {} for e in index.entries(index.first_seen(), completed_only=True)}
        return {n: entry.get("outputs") or {} for n, entry in journal.items() if entry["status"] == COMPLETED}

    def read_metrics(self) -> dict[str, Any]:
        return json.loads(self.metrics_file.read_text(encoding="utf-8")) if self.metrics_file.is_file() else {}

    def read_error(self) -> dict[str, Any] | None:
        return json.loads(self.error_file.read_text(encoding="utf-8")) if self.error_file.is_file() else None

    def append_reused(self, entries: Iterable[dict[str, Any]]) -> None:
        """Journal lines reused from another run, as if they ran here."""
        for entry in entries:
            self._journal.append(dumps({"format": LINE_FORMAT, **entry}), line_number=entry[LINE_NUMBER])  # upgraded


def ignored_names(folder: str | Path, names: Iterable[str], keep_out: Path) -> set[str]:
    """The ``names`` in ``folder`` that a copy of a flow folder leaves out: caches, version control,
    virtual environments, and ``keep_out`` (e.g. the run store: never copied into itself)."""
    keep_out = Path(keep_out).resolve()
    skipped = {n for n in names if n in _IGNORED}
    for name in names:
        candidate = (Path(folder) / name).resolve()
        if candidate == keep_out or candidate in keep_out.parents:
            skipped.add(name)
    return skipped


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as handle:
        for text in handle:
            if not text.strip():
                continue
            yield json.loads(text)


class LineFile:
    """A JSON Lines file written a line at a time under a temporary name; ``commit`` moves it into place
    (readers, and a crash, see the old file or the new one). Lines are JSON texts, masked already (they
    come from the journal) unless ``data``: the lines' values, masked for known secrets as written;
    ``framed``: journal records (:func:`~promptflow_lite.runs._journal.frame`)."""

    def __init__(self, path: Path, *, data: bool = False, framed: bool = False):
        self.path, self._data, self._framed = path, data, framed
        self._temporary = path.with_name(path.name + ".tmp")
        path.parent.mkdir(parents=True, exist_ok=True)  # e.g. flow_outputs/ of a folder copied without empty dirs
        self._handle = open(self._temporary, "wb", buffering=1 << 16)

    def write(self, text: str) -> None:
        if self._framed:
            self._handle.write(frame(text))
            return
        if self._data:
            text = mask_secrets(text, tokens=False)
        self._handle.write(encode_json(text + "\n"))

    def commit(self) -> None:
        try:
            self._handle.close()
            os.replace(self._temporary, self.path)
        except OSError:
            self._temporary.unlink(missing_ok=True)  # a full disk gets its space back
            raise

    def abort(self) -> None:
        self._handle.close()
        self._temporary.unlink(missing_ok=True)


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _write_text(path: Path, text: str, *, data: bool = False, masked: bool = False) -> None:
    """Atomic replace: readers (and a crash) see the old file or the new one, never half of it.

    ``text`` is masked first; ``data`` (the lines' values, which resume reads back) for known secrets
    only; ``masked``: not at all, the text comes from the journal, masked already.
    """
    if not masked:
        text = mask_secrets(text, tokens=not data)
    temporary = path.with_name(path.name + ".tmp")
    try:
        temporary.write_bytes(encode_json(text))
    except OSError:
        temporary.unlink(missing_ok=True)  # a full disk gets its space back
        raise
    os.replace(temporary, path)


_MASKED_COPY_BYTES = 4 * 1024 * 1024  # larger files (data, models) are copied as they are


class _CopyFailed(Exception):
    """A file of the snapshot could not be copied: ``error`` says why (not an ``OSError``, so ``copytree`` stops)."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


def _copy_masked(source: str, target: str) -> str:
    """``shutil.copy2``, except that a text file holding a known secret is copied masked (known secrets
    only: a token pattern must not touch code that builds a header)."""
    try:
        return _copy_masked_or_fail(source, target)
    except OSError as exc:
        raise _CopyFailed(exc) from exc


def _copy_masked_or_fail(source: str, target: str) -> str:
    if os.path.getsize(source) <= _MASKED_COPY_BYTES:
        try:
            text = Path(source).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            text = None
        if text is not None and (masked := mask_secrets(text, tokens=False)) != text:
            Path(target).write_text(masked, encoding="utf-8")
            shutil.copystat(source, target)
            return target
    return shutil.copy2(source, target)
