"""``additional_includes`` (FLOW_FORMAT §1.11): files from outside the flow folder.

promptflow copies every include to the root of a temporary copy of the flow folder, under its
base name, and runs from there. ``locate_source`` finds a file the same way without copying;
``materialize`` builds that copy when the flow has includes (only then); it is removed when the
process exits. A copy made that way (a run's snapshot, the flow a Ray worker receives) already holds
its includes: one that cannot be found where the flow says but is in the folder under its base name
is taken from there.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from promptflow_lite.errors import FlowLoadError


def include_paths(spec: "FlowSpec") -> dict[str, Path]:
    """Base name → real path of each additional include (later entries win, as in promptflow)."""
    return resolve_includes(spec.working_dir, spec.additional_includes)


def resolve_includes(folder: Path, entries: list[str] | None) -> dict[str, Path]:
    """``entries`` (relative to ``folder``, or absolute) by base name; later entries win."""
    found = {}
    for entry in entries or []:
        path = Path(entry)
        path = path if path.is_absolute() else (Path(folder) / path)
        found[path.name] = path.resolve()
    return found


def locate_source(spec: "FlowSpec", relative: str) -> Path | None:
    """The real file behind a node's ``source.path``, looking in the flow folder then the includes."""
    direct = spec.working_dir / relative
    if direct.exists():
        return direct
    head, *rest = Path(relative).parts
    include = include_paths(spec).get(head)
    if include is not None:
        candidate = include.joinpath(*rest) if rest else include
        if candidate.exists():
            return candidate
    return None


def materialize(spec: "FlowSpec") -> Path:
    """The folder to run from: the flow folder itself, or a temp copy with the includes merged in."""
    return merge_includes(spec.working_dir, include_paths(spec), spec.path)


def merge_includes(folder: Path, includes: dict[str, Path], flow_file: Path | None = None) -> Path:
    """``folder`` itself without includes, else a temporary copy of it with each include copied in
    under its base name (removed when the process exits). A missing include names ``flow_file``."""
    includes = {name: path for name, path in includes.items()
                if path.exists() or not (folder / name).exists()}  # else merged in already: a copy's copy
    if not includes:
        return folder
    for path in includes.values():
        if not path.exists():
            raise FlowLoadError(f"Unable to find additional include '{path}'.", file=str(flow_file or folder),
                                hint="fix the path under additional_includes (relative to the flow folder).")
    target = Path(tempfile.mkdtemp(prefix=f"pfl_{folder.name}_"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    shutil.copytree(folder, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".promptflow", "__pycache__", ".runs"))
    for name, path in includes.items():
        if path.is_dir():
            shutil.copytree(path, target / name, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target / name)
    return target
