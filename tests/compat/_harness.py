"""Shared, stdlib-only helpers for the promptflow compatibility harness.

Used by ``record.py`` (runs under a venv with real promptflow) and ``compare.py`` /
``test_promptflow_compat.py`` (run under the promptflow_lite venv), so it must import nothing
outside the standard library.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

COMPAT_DIR = Path(__file__).resolve().parent
REPO_ROOT = COMPAT_DIR.parent.parent
DEFAULT_CORPUS = COMPAT_DIR / "flows"
CONNECTIONS_FILE = COMPAT_DIR / "connections.json"
DEFAULT_PORT = 18765

# Files of ours that sit next to a flow; they are not part of the flow and are not copied.
METADATA_FILES = {"SOURCE", "cases.json", "expected.json", "NOTES.md"}

# Environment every case runs with (flows read these with os.environ).
CASE_ENV = {"PFCOMPAT_FIXED": "fixed-value"}

_LISTENING = re.compile(r"listening on (http://\S+?)/?\s*$")


def flow_dirs(corpora: list[Path], only: list[str] | None = None) -> list[Path]:
    """Every folder holding a ``cases.json`` under the given corpus roots, sorted by name."""
    found = []
    for root in corpora:
        for cases in sorted(Path(root).glob("*/cases.json")):
            if not only or cases.parent.name in only:
                found.append(cases.parent)
    return found


def load_cases(flow_dir: Path) -> list[dict[str, Any]]:
    """The flow's test cases: ``[{"inputs": {...}, "variant"?: "${n.v}", "node"?: "n", "init"?: {...}}]``."""
    cases = json.loads((flow_dir / "cases.json").read_text(encoding="utf-8"))
    if not isinstance(cases, list) or not all(isinstance(c, dict) and "inputs" in c for c in cases):
        raise ValueError(f"{flow_dir / 'cases.json'}: expected a list of objects with an 'inputs' key")
    return cases


def load_expected(flow_dir: Path) -> list[dict[str, Any]] | None:
    path = flow_dir / "expected.json"
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))["results"]


def connections(base_url: str, root_url: str) -> dict[str, dict[str, Any]]:
    """connections.json with ``{base_url}``/``{root_url}`` filled in (promptflow's execution-time format)."""
    text = CONNECTIONS_FILE.read_text(encoding="utf-8")
    text = text.replace("{base_url}", base_url.rstrip("/")).replace("{root_url}", root_url.rstrip("/"))
    return json.loads(text)


def copy_flow(flow_dir: Path, dest_parent: Path) -> Path:
    """Copy a corpus flow to a scratch folder (runs write ``.promptflow/`` next to the flow)."""
    dest = dest_parent / flow_dir.name
    shutil.copytree(
        flow_dir,
        dest,
        ignore=lambda _dir, names: [n for n in names if n in METADATA_FILES or n in {".promptflow", "__pycache__"}],
    )
    return dest


# Starts promptflow_lite's scripted OpenAI server in the foreground of a child process. Equivalent to
# `pfl testing serve --port N`, but needs only the class, not the CLI command.
_SERVE = (
    "import sys\n"
    "from promptflow_lite.testing import ScriptedServer\n"
    "server = ScriptedServer(port=int(sys.argv[1]))\n"
    "server.serve_forever(on_ready=lambda url: print('Scripted OpenAI server listening on', url, flush=True))\n"
)


@contextlib.contextmanager
def scripted_server(base_url: str | None, python: str | None, port: int) -> Iterator[tuple[str, str]]:
    """Yield ``(base_url, root_url)`` of the scripted OpenAI server.

    With ``base_url`` the server is assumed to be running already; otherwise it is started with
    ``python`` (default: the repository's ``.venv``) on ``port`` and stopped after the block.
    """
    if base_url:
        base = base_url.rstrip("/")
        yield base, _root_of(base)
        return
    python = python or str(REPO_ROOT / ".venv" / "bin" / "python")
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([python, "-c", _SERVE, str(port)], stdout=subprocess.PIPE, stderr=log, text=True,
                            cwd=str(REPO_ROOT))
    try:
        base = _wait_for_listening(proc, log)
        yield base, _root_of(base)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _wait_for_listening(proc: subprocess.Popen, log, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"scripted server exited with {proc.returncode}:\n{log.read()}")
            time.sleep(0.05)
            continue
        match = _LISTENING.search(line.strip())
        if match:
            return match.group(1).rstrip("/")
    raise RuntimeError("scripted server did not print its 'listening on' line within 60 s")


def _root_of(base_url: str) -> str:
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def scrub_paths(text: str, flow_copy: Path) -> str:
    """Replace the scratch location of a flow copy by ``<flow>`` so messages compare across runs."""
    for form in {str(flow_copy), str(Path(flow_copy).resolve())}:
        text = text.replace(form, "<flow>")
    return text


_IMAGE_KEY = re.compile(r"^data:image/(.*);path$")


def image_digests(value: Any) -> Any:
    """``value`` with the file path of every image reference (``{"data:image/png;path": p}`` or
    ``{"type": "image_file", "image_file": {"path": p}}``) replaced by ``sha1:<digest of the file>``:
    promptflow and promptflow_lite name image files differently, the bytes and type must agree."""
    if isinstance(value, list):
        return [image_digests(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and _IMAGE_KEY.match(next(iter(value))) and isinstance(next(iter(value.values())), str):
        key, path = next(iter(value.items()))
        return {key: _digest(path)}
    if value.get("type") == "image_file" and isinstance(value.get("image_file"), dict) and len(value) == 2:
        return {**value, "image_file": {**value["image_file"], "path": _digest(value["image_file"].get("path"))}}
    return {key: image_digests(item) for key, item in value.items()}


def _digest(path: Any) -> str:
    import hashlib

    try:
        return "sha1:" + hashlib.sha1(Path(path).read_bytes()).hexdigest()
    except (OSError, TypeError):
        return f"missing file {path}"


def first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")


def python_of(venv: str | Path) -> str:
    """The interpreter inside a venv folder (or the path itself if it is an interpreter)."""
    venv = Path(venv)
    return str(venv / "bin" / "python") if venv.is_dir() else str(venv)


def eprint(*args: Any) -> None:
    print(*args, file=sys.stderr, flush=True)


def env_with(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update(CASE_ENV)
    env.update(extra)
    return env
