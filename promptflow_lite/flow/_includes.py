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
    found = {}
    for entry in spec.additional_includes:
        path = Path(entry)
        path = path if path.is_absolute() else (spec.working_dir / path)
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
    includes = include_paths(spec)
    if not includes:
        return spec.working_dir
    target = Path(tempfile.mkdtemp(prefix=f"pfl_{spec.working_dir.name}_"))
    atexit.register(shutil.rmtree, target, ignore_errors=True)
    shutil.copytree(spec.working_dir, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".promptflow", "__pycache__", ".runs"))
    for name, path in includes.items():
        if not path.exists() and (spec.working_dir / name).exists():
            continue  # merged in already: the flow is itself such a copy
        if not path.exists():
            raise FlowLoadError(f"Unable to find additional include '{path}'.", file=str(spec.path),
                                hint="fix the path under additional_includes (relative to the flow folder).")
        if path.is_dir():
            shutil.copytree(path, target / name, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target / name)
    return target
