"""An editable DAG flow folder: ``flow.dag.yaml`` as a round-trip tree plus the source files it names.

Edits change the tree (see ``flow.editing``) or a source file's text in memory; ``save()`` writes only
the files that changed, each byte-faithful outside the edit, and refuses (``FlowChangedOnDisk``) when
a file it would write changed on disk since it was read — nothing is ever silently overwritten.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from promptflow_lite.errors import FlowLoadError, FlowValidationError, UserError, ValidationProblem
from promptflow_lite.flow._yaml_text import YamlSyntaxError, YamlText


class FlowChangedOnDisk(UserError):
    """Files changed on disk since the editor read them; ``files`` lists them."""

    def __init__(self, files: list[Path]):
        names = ", ".join(str(f) for f in files)
        super().__init__(f"Not saved: changed on disk since it was opened: {names}.",
                         hint="reload the flow (your unsaved edits are dropped) and make them again.")
        self.files = files


def _fingerprint(path: Path) -> str | None:
    """The sha256 of the file's bytes, None when it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _read_text(path: Path) -> str:
    """The file's text exactly (no newline translation), as UTF-8."""
    return path.read_bytes().decode("utf-8")


class FlowDocument:
    """One flow folder open for editing. ``data`` is the ``flow.dag.yaml`` tree; edit it, then ``save()``."""

    def __init__(self, path: str | Path):
        from promptflow_lite.flow._loader import flow_kind, resolve_flow_path

        self.file, self.folder = resolve_flow_path(path, allow_prompty_dir=False)
        if flow_kind(self.file) != "dag":
            raise FlowLoadError("The editor edits DAG flows (flow.dag.yaml); this is a flex flow.", file=str(self.file),
                                hint="edit its Python code, or open a folder holding a flow.dag.yaml.")
        self._open()

    def _open(self) -> None:
        text = _read_text(self.file)
        try:
            self._yaml = YamlText(text)
        except YamlSyntaxError as exc:
            where = f" (line {exc.line})" if exc.line else ""
            raise FlowLoadError(f"{exc}{where}.", file=str(self.file), hint="fix the YAML in a text editor.") from None
        if self._yaml.data is None:
            from ruamel.yaml.comments import CommentedMap

            self._yaml.data = CommentedMap()
        self._seen: dict[Path, str | None] = {self.file: _fingerprint(self.file)}
        self._sources: dict[Path, str] = {}  # edited source texts, by path
        self.version = getattr(self, "version", -1) + 1  # bumped on every edit: caches key on it
        self._rendered: tuple[int, str] = (self.version, self._yaml.text)

    # reading ------------------------------------------------------------------------------
    @property
    def data(self) -> Any:
        return self._yaml.data

    def touch(self) -> None:
        """Record that ``data`` was edited."""
        self.version += 1

    def spec(self) -> "FlowSpec":
        """The flow as the engine sees it now (edits included); raises ``FlowValidationError`` when it has no shape."""
        from promptflow_lite.flow._loader import parse_dag

        return parse_dag(plain(self.data), self.file).located(self.file, self.folder)

    def problems(self) -> list[ValidationProblem]:
        """What ``pfl flow validate`` reports on the flow as edited (files not saved yet count as present),
        without loading python tools (that runs user code; ``pfl flow validate`` does it on the saved flow)."""
        from promptflow_lite.flow._validate import find_problems

        try:
            spec = self.spec()
        except FlowValidationError as exc:
            return list(exc.problems)
        pending = {f"Source file '{p.relative_to(self.folder).as_posix()}' does not exist."
                   for p in self._sources if p.is_relative_to(self.folder)}
        return [p for p in find_problems(spec, check_files=True) if p.message not in pending]

    def yaml_text(self) -> str:
        """``flow.dag.yaml`` as it would be saved (rendered once per edit: edits go through ``touch``)."""
        if self._rendered[0] != self.version:
            self._rendered = (self.version, self._yaml.render())
        return self._rendered[1]

    def source_path(self, relative: str) -> Path:
        path = (self.folder / relative).resolve()
        if not path.is_relative_to(self.folder):
            raise UserError(f"Source path '{relative}' leaves the flow folder.", file=str(self.file),
                            hint="keep node sources inside the flow folder.")
        return path

    def source_text(self, relative: str) -> str:
        """A source file's text (edited or on disk; '' when it does not exist yet)."""
        path = self.source_path(relative)
        if path in self._sources:
            return self._sources[path]
        if path not in self._seen:
            self._seen[path] = _fingerprint(path)
        return _read_text(path) if path.is_file() else ""

    def set_source_text(self, relative: str, text: str) -> None:
        """Replace a source file's text (kept in memory until ``save``)."""
        path = self.source_path(relative)
        if path not in self._seen:
            self._seen[path] = _fingerprint(path)
        on_disk = _read_text(path) if path.is_file() else None
        if text == on_disk:
            self._sources.pop(path, None)
        else:
            self._sources[path] = text
        self.touch()

    def source_exists(self, relative: str) -> bool:
        path = self.source_path(relative)
        return path in self._sources or path.is_file()

    # saving ------------------------------------------------------------------------------
    def changed_files(self) -> list[Path]:
        """The files a ``save()`` would write."""
        files = [self.file] if self.yaml_text() != self._yaml.text else []
        return files + sorted(self._sources)

    @property
    def dirty(self) -> bool:
        return bool(self.changed_files())

    def changed_on_disk(self) -> list[Path]:
        """Files read by the editor whose content on disk changed since."""
        return [path for path, seen in self._seen.items() if _fingerprint(path) != seen]

    def save(self) -> list[Path]:
        """Write the changed files (flow file last) and return them; refused when any changed on disk."""
        files = self.changed_files()
        stale = [path for path in files if _fingerprint(path) != self._seen.get(path)]
        if stale:
            raise FlowChangedOnDisk(stale)
        for path, text in sorted(self._sources.items()):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(text.encode("utf-8"))
            self._seen[path] = _fingerprint(path)
        self._sources.clear()
        if self.file in files:
            text = self.yaml_text()
            self.file.write_bytes(text.encode("utf-8"))
            self._yaml = YamlText(text)
            self._seen[self.file] = _fingerprint(self.file)
        self.touch()
        self._rendered = (self.version, self._yaml.text)
        return files

    def reload(self) -> None:
        """Drop every unsaved edit and read the flow again from disk."""
        self._open()

    @property
    def faithful(self) -> bool:
        """False when the last rendering could not keep untouched lines (the whole file was re-dumped)."""
        return self._yaml.faithful


def plain(value: Any) -> Any:
    """A round-trip tree as plain dicts, lists and scalars."""
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    from ruamel.yaml.scalarbool import ScalarBoolean

    if isinstance(value, ScalarBoolean):
        return bool(value)
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return value
