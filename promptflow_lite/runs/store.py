"""A run folder on disk, in promptflow's layout (FLOW_FORMAT §4.6), written crash-safely.

While a run executes, each finished line is written at once: its node records
(``node_artifacts/<node>/<9-digit line>.jsonl``), its line record
(``flow_artifacts/<n>_<n>.jsonl``), its outputs appended to ``flow_outputs/output.jsonl``, and
last a summary appended to ``line_results.jsonl``, our journal. A line counts as done only
once its journal entry is written, so a process killed with ``kill -9`` loses just the lines
in flight, and a resume re-executes exactly the lines without a successful entry.
``finalize`` rewrites the outputs, inputs and journal sorted by line number, one entry each.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Iterable, Iterator

from promptflow_lite.engine.results import COMPLETED, AggregationResult, LineResult
from promptflow_lite.runs.records import dumps, journal_entry, line_record, node_record

LINE_NUMBER = "line_number"
WIDTH = 9
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
        self._outputs = self._journal = None

    def create(self) -> "RunFolder":
        self.path.mkdir(parents=True)
        for folder in (self.outputs_file.parent, self.flow_artifacts, self.node_artifacts):
            folder.mkdir()
        _write_json(self.path / "meta.json", {"batch_size": 1})
        return self

    # before the lines ---------------------------------------------------------------------
    def write_snapshot(self, flow: Any) -> None:
        """Copy the flow folder; a DAG's flow file is replaced by the variant-resolved flow."""
        source = Path(getattr(flow, "run_dir", None) or flow.working_dir)
        shutil.rmtree(self.snapshot, ignore_errors=True)
        shutil.copytree(source, self.snapshot, ignore=self._ignore, symlinks=True)
        spec = getattr(flow, "spec", None)
        if flow.kind == "dag" and spec is not None and spec.path is not None:
            import yaml

            data = spec.model_dump(by_alias=True, exclude_none=True, mode="json")
            for node in data.get("nodes", []):
                if "reduce" in node:  # the model's alias; promptflow's documented key is `aggregation`
                    node["aggregation"] = node.pop("reduce")
            text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
            (self.snapshot / Path(spec.path).name).write_text(text, encoding="utf-8")

    def _ignore(self, folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in _IGNORED}
        for name in names:  # never copy the run store into itself
            candidate = (Path(folder) / name).resolve()
            if candidate == self.path.resolve() or candidate in self.path.resolve().parents:
                skipped.add(name)
        return skipped

    def write_inputs(self, lines: Iterable[tuple[int, dict[str, Any]]]) -> None:
        _write_lines(self.inputs_file, ({**inputs, LINE_NUMBER: n} for n, inputs in lines))

    # while the lines run ------------------------------------------------------------------
    def open(self) -> None:
        self._outputs = open(self.outputs_file, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._journal = open(self.journal_file, "a", encoding="utf-8")  # noqa: SIM115

    def close(self) -> None:
        for handle in (self._outputs, self._journal):
            if handle is not None and not handle.closed:
                handle.close()

    def record_line(self, run_name: str, result: LineResult) -> None:
        """Persist a finished line; its journal entry (written last) marks it done."""
        number = result.line_number
        for node_run in result.node_runs.values():
            folder = self.node_artifacts / node_run.node
            folder.mkdir(exist_ok=True)
            (folder / f"{number:0{WIDTH}d}.jsonl").write_text(dumps(node_record(run_name, node_run, number)) + "\n",
                                                              encoding="utf-8")
        (self.flow_artifacts / f"{number:0{WIDTH}d}_{number:0{WIDTH}d}.jsonl").write_text(
            dumps(line_record(run_name, result)) + "\n", encoding="utf-8")
        if result.status == COMPLETED:
            _append(self._outputs, {LINE_NUMBER: number, **(result.outputs or {})})
        _append(self._journal, journal_entry(result))

    def forget_lines(self, numbers: Iterable[int]) -> None:
        """Remove node records of lines about to be executed again (stale nodes of the old attempt)."""
        numbers = set(numbers)
        if not numbers or not self.node_artifacts.is_dir():
            return
        for folder in self.node_artifacts.iterdir():
            for number in numbers:
                (folder / f"{number:0{WIDTH}d}.jsonl").unlink(missing_ok=True)

    # after the lines ----------------------------------------------------------------------
    def record_aggregation(self, run_name: str, aggregation: AggregationResult) -> None:
        for node_run in aggregation.node_runs.values():
            folder = self.node_artifacts / node_run.node
            folder.mkdir(exist_ok=True)
            _write_text(folder / f"{0:0{WIDTH}d}.jsonl", dumps(node_record(run_name, node_run, None)) + "\n")

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        _write_text(self.metrics_file, json.dumps(metrics, ensure_ascii=False, default=str))

    def write_error(self, error: dict[str, Any] | None) -> None:
        if error is None:
            self.error_file.unlink(missing_ok=True)
        else:
            _write_json(self.error_file, error)

    def finalize(self, mapped: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """Rewrite outputs, inputs and journal sorted, one row per line; returns the journal."""
        journal = self.read_journal()
        done = {n for n, entry in journal.items() if entry["status"] == COMPLETED}
        outputs = {n: row for n, row in self.read_outputs().items() if n in done}
        ordered = [outputs[n] for n in sorted(outputs)]
        _write_lines(self.outputs_file, ordered)
        _write_lines(self.legacy_outputs_file,
                     ({**{k: v for k, v in row.items() if k != LINE_NUMBER}, LINE_NUMBER: row[LINE_NUMBER]}
                      for row in ordered))
        inputs = {n: {**values, **(journal.get(n, {}).get("inputs") or {})} for n, values in mapped.items()}
        self.write_inputs(sorted(inputs.items()))
        _write_lines(self.journal_file, (journal[n] for n in sorted(journal)))
        return journal

    # reading ------------------------------------------------------------------------------
    def read_inputs(self) -> list[tuple[int, dict[str, Any]]]:
        lines = []
        for row in _read_lines(self.inputs_file):
            number = row.pop(LINE_NUMBER)
            lines.append((number, row))
        return lines

    def read_journal(self) -> dict[int, dict[str, Any]]:
        """The last entry of each line (a resumed line may have several)."""
        return {entry[LINE_NUMBER]: entry for entry in _read_lines(self.journal_file)}

    def read_outputs(self) -> dict[int, dict[str, Any]]:
        return {row[LINE_NUMBER]: row for row in _read_lines(self.outputs_file)}

    def read_metrics(self) -> dict[str, Any]:
        return json.loads(self.metrics_file.read_text(encoding="utf-8")) if self.metrics_file.is_file() else {}

    def read_error(self) -> dict[str, Any] | None:
        return json.loads(self.error_file.read_text(encoding="utf-8")) if self.error_file.is_file() else None

    def copy_line_files(self, source: "RunFolder", numbers: Iterable[int], rename: tuple[str, str]) -> None:
        """Bring the line and node records of ``numbers`` over from another run (``--resume-from``)."""
        old, new = rename
        for number in numbers:
            name = f"{number:0{WIDTH}d}_{number:0{WIDTH}d}.jsonl"
            if (source.flow_artifacts / name).is_file():
                record = json.loads((source.flow_artifacts / name).read_text(encoding="utf-8"))
                info = record["run_info"]
                info.update(run_id=f"{new}_{number}", parent_run_id=new, root_run_id=new,
                            source_run_id=f"{old}_{number}")
                (self.flow_artifacts / name).write_text(dumps(record) + "\n", encoding="utf-8")
            for folder in source.node_artifacts.iterdir() if source.node_artifacts.is_dir() else []:
                file = folder / f"{number:0{WIDTH}d}.jsonl"
                if not file.is_file():
                    continue
                record = json.loads(file.read_text(encoding="utf-8"))
                if record.get(LINE_NUMBER) is None:
                    continue  # an aggregation node's record: redone by this run
                info = record["run_info"]
                info.update(flow_run_id=new, run_id=f"{new}_{folder.name}_{number}", parent_run_id=f"{new}_{number}")
                (self.node_artifacts / folder.name).mkdir(exist_ok=True)
                (self.node_artifacts / folder.name / file.name).write_text(dumps(record) + "\n", encoding="utf-8")

    def append_reused(self, outputs: dict[int, dict[str, Any]], entries: Iterable[dict[str, Any]]) -> None:
        """Journal (and outputs of) lines reused from another run, as if they ran here."""
        for entry in entries:
            if entry["line_number"] in outputs:
                _append(self._outputs, outputs[entry["line_number"]])
            _append(self._journal, entry)


def _append(handle, row: dict[str, Any]) -> None:
    handle.write(dumps(row) + "\n")  # one write per line: a crash leaves at most a torn last line
    handle.flush()


def _read_lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as handle:
        for text in handle:
            if not text.strip():
                continue
            try:
                yield json.loads(text)
            except ValueError:
                continue  # the torn last line of a killed run: that line is simply not done


def _write_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    _write_text(path, "".join(dumps(row) + "\n" for row in rows))


def _write_json(path: Path, data: Any) -> None:
    _write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _write_text(path: Path, text: str) -> None:
    """Atomic replace: readers (and a crash) see the old file or the new one, never half of it."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
