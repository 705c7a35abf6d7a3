"""Find and read a flow: path resolution (FLOW_FORMAT §1.1) and YAML → ``FlowSpec``.

``resolve_flow_path`` turns what a user typed (a folder, a YAML file, a ``.prompty``) into the
flow file and its working directory; ``flow_kind`` tells DAG, flex and prompty apart by
content, not by name; ``load_dag`` parses a DAG into a ``FlowSpec`` with errors that name the
file, the node and the field.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from promptflow_lite.errors import FlowLoadError, FlowValidationError, ValidationProblem

DAG_FILES = ("flow.dag.yaml", "flow.dag.yml")
FLEX_FILES = ("flow.flex.yaml", "flow.flex.yml")


ENTRY_PATTERN = re.compile(r"^[A-Za-z0-9_.]+:[A-Za-z0-9_]+$")  # module:function


def resolve_flow_path(path: str | Path, *, allow_prompty_dir: bool = True) -> tuple[Path, Path]:
    """``(flow_file, working_dir)`` for a folder or file a user named, or a ``module:function`` entry."""
    if isinstance(path, str) and ENTRY_PATTERN.match(path) and not Path(path).exists():
        return entry_flow_file(path, Path.cwd()), Path.cwd().resolve()
    path = Path(path).expanduser()
    if path.is_dir():
        found = [path / name for name in DAG_FILES + FLEX_FILES if (path / name).is_file()]
        if len(found) > 1:
            names = ", ".join(f.name for f in found)
            raise FlowLoadError(f"Multiple flow files exist: {names}.", file=str(path), hint="keep exactly one of them.")
        if found:
            return found[0].resolve(), path.resolve()
        prompties = sorted(path.glob("*.prompty"))
        if allow_prompty_dir and len(prompties) == 1:
            return prompties[0].resolve(), path.resolve()
        raise FlowLoadError(
            "Found neither flow.dag.yaml nor flow.flex.yaml"
            + (" (and not exactly one .prompty file)" if allow_prompty_dir else "") + ".",
            file=str(path),
            hint="point --flow at a flow folder or at the flow file itself.",
        )
    if not path.exists():
        raise FlowLoadError("No such file or folder.", file=str(path), hint="check the --flow path.")
    if path.suffix not in (".yaml", ".yml", ".prompty"):
        raise FlowLoadError(
            f"A flow file must end with .yaml, .yml or .prompty, not '{path.suffix}'.", file=str(path)
        )
    return path.resolve(), path.parent.resolve()


def entry_flow_file(entry: str, code_dir: Path) -> Path:
    """A ``flow.flex.yaml`` for a bare ``module:function`` entry whose code lives in ``code_dir``
    (``pfl run create --flow module:fn``, as promptflow allows). It is written to a temp folder
    named after the module, so runs get a sensible default name; the same entry and code folder
    always get the same file, so repeated calls do not pile up folders."""
    import hashlib
    import tempfile

    key = hashlib.sha1(f"{entry}\0{code_dir.resolve()}".encode()).hexdigest()[:12]
    folder = Path(tempfile.gettempdir()) / "pfl_entries" / key / entry.split(":")[0].replace(".", "_")
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / "flow.flex.yaml"
    file.write_text(f"entry: {entry}\ncode: {json.dumps(str(code_dir.resolve()))}\n", encoding="utf-8")
    return file


def read_yaml(file: Path) -> Any:
    """Parse a YAML file (a fresh copy each call); syntax errors name the file, line and column.

    The parse is cached by path, size and modification time: a run reads its flow file several
    times (kind, model, snapshot) and parsing is the slow part.
    """
    import copy

    try:
        stat = file.stat()
    except OSError as exc:
        raise FlowLoadError(f"Cannot read the file: {exc.strerror}.", file=str(file)) from exc
    return copy.deepcopy(_parse_yaml(str(file), stat.st_size, stat.st_mtime_ns))


@functools.lru_cache(maxsize=64)
def _parse_yaml(path: str, size: int, mtime_ns: int) -> Any:
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowLoadError(f"Cannot read the file: {exc.strerror}.", file=path) from exc
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise FlowLoadError(f"Invalid YAML{where}: {problem}.", file=path, hint="fix the YAML syntax.") from exc


def flow_kind(file: Path, data: Any = None) -> str:
    """``"prompty"``, ``"flex"`` (a YAML with ``entry:``) or ``"dag"``."""
    if file.suffix == ".prompty":
        return "prompty"
    if data is None:
        data = read_yaml(file)
    return "flex" if isinstance(data, dict) and "entry" in data else "dag"


def load_dag(path: str | Path) -> "FlowSpec":
    """Load a ``flow.dag.yaml`` (folder or file) into a located ``FlowSpec``."""
    from promptflow_lite.flow._model import FlowSpec

    file, working_dir = resolve_flow_path(path, allow_prompty_dir=False)
    data = read_yaml(file)
    return parse_dag(data, file).located(file, working_dir)


def parse_dag(data: Any, file: Path | None = None) -> "FlowSpec":
    """Build a ``FlowSpec`` from parsed YAML, reporting every structural problem at once."""
    from pydantic import ValidationError

    from promptflow_lite.flow._model import FlowSpec

    where = str(file) if file else None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FlowLoadError("The flow file must contain a YAML mapping (inputs, outputs, nodes...).", file=where)
    try:
        return FlowSpec.model_validate(data)
    except ValidationError as exc:
        problems = [_problem_from_pydantic(err, data, where) for err in exc.errors()]
        raise FlowValidationError(problems, file=where) from None


def _problem_from_pydantic(err: dict, data: dict, file: str | None) -> ValidationProblem:
    loc = list(err.get("loc", ()))
    node = None
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        nodes = data.get("nodes") or []
        raw = nodes[loc[1]] if loc[1] < len(nodes) else None
        node = raw.get("name") if isinstance(raw, dict) else None
        loc = loc[2:] if node else loc
    field = ".".join(str(p) for p in loc)
    message = err.get("msg", "invalid value")
    hint = None
    if err.get("type") == "enum" and field.endswith("type"):
        message = f"Unknown type {err.get('input')!r} for '{field}'"
        hint = "use one of int, double, bool, string, list, object, image (chat history is `type: list`)."
    elif err.get("type") == "missing":
        message = f"Missing required field '{field}'"
    else:
        message = f"Invalid '{field}': {message}"
    return ValidationProblem(message, node=node, file=file, hint=hint)
