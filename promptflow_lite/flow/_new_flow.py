"""New flows from templates (``pfl flow init``, the editor's "new flow"): standard, chat, evaluation,
as ``pf flow init --type`` makes them."""

from __future__ import annotations

import shutil
from pathlib import Path

from promptflow_lite.errors import UserError

TEMPLATES = Path(__file__).parent / "_templates"
FLOW_TYPES = ("standard", "chat", "evaluation")


def init_flow(folder: str | Path, flow_type: str = "standard", *, connection: str | None = None,
              deployment: str | None = None) -> list[Path]:
    """Create a flow of ``flow_type`` in ``folder`` (created if needed) and return the files written.

    A chat flow's LLM node takes ``connection`` and ``deployment`` (the model) when given. Refused when
    the folder already holds a flow; other files in it are kept."""
    if flow_type not in FLOW_TYPES:
        raise UserError(f"Unknown flow type '{flow_type}'.", hint=f"choose one of {', '.join(FLOW_TYPES)}.")
    folder = Path(folder).expanduser()
    refuse_existing_flow(folder)
    files = sorted(p for p in (TEMPLATES / flow_type).iterdir() if p.is_file())
    clashes = [p.name for p in files if (folder / p.name).exists()]
    if clashes:
        raise UserError(f"'{folder}' already has {', '.join(clashes)}.", hint="choose an empty or new folder.")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in files:
        shutil.copyfile(path, folder / path.name)
        written.append(folder / path.name)
    if flow_type == "chat" and (connection or deployment):
        _point_chat_at(folder, connection, deployment)
    return written


def refuse_existing_flow(folder: Path) -> None:
    """Raise when ``folder`` already holds a flow (a new one would overwrite it)."""
    existing = [folder / name for name in ("flow.dag.yaml", "flow.dag.yml", "flow.flex.yaml", "flow.flex.yml")
                if (folder / name).exists()]
    if existing:
        raise UserError(f"'{folder}' already holds a flow ({existing[0].name}).",
                        hint="choose a new folder, or open this flow instead.")


def _point_chat_at(folder: Path, connection: str | None, deployment: str | None) -> None:
    from promptflow_lite.flow import _editing as editing
    from promptflow_lite.flow._document import FlowDocument

    doc = FlowDocument(folder)
    if connection:
        editing.set_field(doc, "chat", "connection", connection)
    if deployment:
        editing.set_input(doc, "chat", "deployment_name", deployment)
        editing.set_input(doc, "chat", "model", deployment)
    doc.save()
