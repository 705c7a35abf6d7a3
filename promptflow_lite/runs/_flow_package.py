"""The flow a run sends to other processes (Ray workers): one zip of the folder the driver loaded it from.

``pack_flow`` zips the flow's run folder - its own folder, or the copy with ``additional_includes``
merged in - leaving out what a run snapshot leaves out (caches, version control, virtual
environments) and ``PFL_HOME`` (runs, traces, the connection store); ``source`` is the flow file or
folder the driver loaded, relative to that folder. ``unpack_flow`` recreates the folder elsewhere,
under the flow folder's own name (a flow is named after its folder).
Connections never travel in the package: the engine hands them to each worker in memory.
"""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptflow_lite.errors import UserError
from promptflow_lite.runs._store import ignored_names


@dataclass(frozen=True)
class FlowPackage:
    data: bytes  # the zip
    name: str  # the flow folder's name
    source: str  # what to load, relative to the unpacked folder ("." for the folder itself)
    files: int


def pack_flow(flow: Any, source: str | Path) -> FlowPackage:
    """The package of a loaded ``flow`` that was loaded from ``source``."""
    from promptflow_lite.home import pfl_home

    root = Path(getattr(flow, "run_dir", None) or flow.working_dir).resolve()
    origin = Path(flow.working_dir).resolve()
    try:
        relative = Path(source).resolve().relative_to(origin)
    except ValueError:
        raise UserError(f"The flow {source} is outside its folder {origin}, so it cannot be sent to the workers.",
                        hint="run the flow from its folder (or its flow file).") from None
    buffer, files = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for folder, folders, names in os.walk(root, followlinks=True):
            skipped = ignored_names(folder, folders + names, pfl_home())
            folders[:] = sorted(f for f in folders if f not in skipped)
            for name in sorted(n for n in names if n not in skipped):
                path = Path(folder, name)
                archive.write(path, path.relative_to(root).as_posix())
                files += 1
    return FlowPackage(buffer.getvalue(), origin.name, relative.as_posix(), files)


def unpack_flow(package: FlowPackage, parent: Path) -> Path:
    """Recreate a packed flow folder in ``parent``; returns the path to load (the package's ``source``)."""
    folder = parent / package.name
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        archive.extractall(folder)
    return folder / package.source
