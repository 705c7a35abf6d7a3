"""``RunSpec``: what to run — from ``pfl run create`` flags, ``Client.run`` arguments or a ``run.yml``.

A spec is also what a run remembers (``properties`` in the index) so that ``resume`` and
``--resume-from`` can run it again. Environment variables and ``init`` fields whose name says
secret (:func:`~promptflow_lite.masking.is_secret_name`) are stored masked; a resume takes the
variables from the environment again, and refuses an ``init`` whose secret was masked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from promptflow_lite.errors import UserError
from promptflow_lite.masking import is_secret_name, register_named

MASK = "******"
_STORED = ("flow", "data", "run", "column_mapping", "variant", "environment_variables", "connection_overrides", "init",
           "max_concurrency", "line_timeout", "use_cache", "repeat_index", "resume_from", "lines", "engine",
           "ray_address", "ray_actors")
_RUN_YML_KEYS = {"$schema", "name", "display_name", "description", "tags", "properties", "flow", "data",
                 "column_mapping", "run", "variant", "environment_variables", "connections", "init",
                 "runtime", "resources", "identity", "type", "code"}


@dataclass
class RunSpec:
    flow: str | None = None
    data: str | None = None
    run: str | None = None  # base run (evaluation runs)
    column_mapping: dict[str, Any] | None = None
    variant: str | None = None
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    properties: dict[str, Any] | None = None
    environment_variables: dict[str, Any] | None = None
    connections: Any = None  # a provider or {name: Connection}; never stored
    connection_overrides: dict[str, str] | None = None  # {"node.connection": "name", "node.deployment_name": ...}
    init: dict[str, Any] | None = None
    max_concurrency: int | None = None
    line_timeout: float | None = None
    use_cache: bool = True
    repeat_index: int = 0
    resume_from: str | None = None
    lines: list[int] | None = None  # only these data line numbers (a sample); None: every line
    engine: str | None = None  # a name in runs._engine.ENGINES: local (None), ray, or one a package registers
    ray_address: str | None = None  # --engine ray: local (a private cluster), auto, HOST:PORT or ray://HOST:PORT
    ray_actors: int | None = None  # --engine ray: workers (one CPU each; default: the cluster's CPUs)
    stream: bool = False
    notes: list[str] = field(default_factory=list)  # warnings found while reading a run.yml

    def merged(self, **overrides: Any) -> "RunSpec":
        """A copy where every override that is not None replaces the field."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def display_name_for(self, kind: str) -> str | None:
        """The display name with promptflow's macros filled: ``${variant_id}``, ``${run}``, ``${timestamp}``."""
        if not self.display_name:
            return None
        from promptflow_lite.flow._variants import variant_id_of

        variant_id = variant_id_of(self.variant if kind == "dag" else None)
        return (self.display_name.replace("${variant_id}", variant_id).replace("${run}", self.run or "")
                .replace("${timestamp}", datetime.now().strftime("%Y%m%d%H%M")))

    def stored(self) -> dict[str, Any]:
        """The spec as run properties (JSON, secrets masked)."""
        data = {key: getattr(self, key) for key in _STORED}
        if self.environment_variables:
            data["environment_variables"] = _masked(self.environment_variables)
        if self.init:
            data["init"] = _masked(self.init)
        return data

    @classmethod
    def from_stored(cls, properties: dict[str, Any]) -> "RunSpec":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in properties.items() if k in known and k in _STORED})


def _masked(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every field named like a secret (nested ones too) replaced by ``MASK``,
    unless it refers to an environment variable (``${env:VAR}``)."""
    masked = {}
    for key, value in values.items():
        if isinstance(value, dict):
            value = _masked(value)
        elif value and isinstance(value, str) and is_secret_name(str(key)) and not value.startswith("${"):
            value = MASK
        masked[key] = value
    return masked


def check_resumable(spec: RunSpec, run_name: str) -> RunSpec:
    """``spec`` of run ``run_name`` as stored, unless its ``init`` lost a secret to masking."""
    masked = _masked_fields(spec.init or {})
    if masked:
        raise UserError(f"Run '{run_name}' was created with a secret in init ({', '.join(masked)}), which runs never "
                        "store, so it cannot run again.",
                        hint="create the run again with the secret given through a connection "
                             "({connection: NAME} in the model configuration) or as '${env:VAR}'.")
    return spec


def _masked_fields(values: dict[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in values.items():
        if isinstance(value, dict):
            found += _masked_fields(value, f"{prefix}{key}.")
        elif value == MASK:
            found.append(f"{prefix}{key}")
    return found


def unmask_environment(stored: dict[str, Any] | None, given: dict[str, Any] | None) -> dict[str, Any] | None:
    """Stored environment variables, masked secrets taken from ``given`` or the current environment."""
    if not stored and not given:
        return None
    values = {}
    for key, value in (stored or {}).items():
        if value == MASK:
            value = (given or {}).get(key, os.environ.get(key))
            if value is None:
                continue
        values[key] = value
    values.update(given or {})
    return values


class RunRequest(RunSpec):
    """promptflow's ``Run(flow=..., data=..., column_mapping=..., run=base_run)`` entity, for
    ``pf.runs.create_or_update(run)``; ``connections`` may be its node overrides, keys of cloud runs
    (``runtime``, ``resources``, ``identity``, ``code``...) are accepted and ignored."""

    def __init__(self, flow: Any = None, **kwargs: Any):
        known = {f.name for f in fields(RunSpec)}
        if "connections" in kwargs:
            kwargs["connections"], kwargs["connection_overrides"] = split_connections(kwargs["connections"])
        super().__init__(flow=flow, **{k: v for k, v in kwargs.items() if k in known})


def load_run(source: str | Path) -> RunSpec:
    """A ``run.yml`` (promptflow's run schema) as a ``RunSpec``; paths are relative to the file."""
    from promptflow_lite.flow._loader import read_yaml

    path = Path(source).expanduser()
    if not path.is_file():
        raise UserError("The run file does not exist.", file=str(path), hint="check the -f/--file path.")
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise UserError("A run file must hold a mapping (flow, data, column_mapping...).", file=str(path))
    base = path.parent.resolve()
    notes = [f"{path}: unknown key '{key}' ignored." for key in data if key not in _RUN_YML_KEYS]
    spec = RunSpec(
        flow=_local(data.get("flow"), base), data=_local(data.get("data"), base), run=_run_name(data.get("run")),
        column_mapping=_mapping(data.get("column_mapping"), "column_mapping", path),
        variant=data.get("variant"), name=data.get("name"), display_name=data.get("display_name"),
        description=data.get("description"),
        tags={str(k): str(v) for k, v in (_mapping(data.get("tags"), "tags", path) or {}).items()} or None,
        properties=_mapping(data.get("properties"), "properties", path),
        environment_variables=_environment(data.get("environment_variables"), base, path),
        connection_overrides=connection_overrides(data.get("connections"), str(path)),
        init=_init(data.get("init"), base, path), notes=notes)
    return spec


def split_connections(connections: Any) -> tuple[Any, dict[str, str] | None]:
    """promptflow's node overrides ``{node: {"connection": c, ...}}`` vs. connections themselves.

    Connections come as a provider, ``{name: Connection}`` or promptflow's execution dict
    ``{name: {"type": ..., "value": {...}}}`` (entries with a ``type``).
    """
    if (isinstance(connections, dict) and connections
            and all(isinstance(v, dict) and "type" not in v for v in connections.values())):
        return None, connection_overrides(connections)
    return connections, None


def connection_overrides(connections: Any, where: str = "") -> dict[str, str] | None:
    """promptflow's ``{node: {connection: c, deployment_name: d}}`` as ``{"node.connection": c, ...}``."""
    if not connections:
        return None
    if not isinstance(connections, dict) or not all(isinstance(v, dict) for v in connections.values()):
        raise UserError("connections must map node names to {connection: ..., deployment_name: ...}.",
                        file=where or None, hint="e.g. connections: {summarize: {connection: my_openai}}.")
    return {f"{node}.{key}": str(value) for node, items in connections.items() for key, value in items.items()}


def _local(value: Any, base: Path) -> str | None:
    if value is None:
        return None
    text = str(value)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text):  # a remote URI: passed on as is (and rejected when read)
        return text
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


def _run_name(value: Any) -> str | None:
    if value is None:
        return None
    return getattr(value, "name", None) or str(value)


def _mapping(value: Any, key: str, path: Path) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise UserError(f"'{key}' must be a mapping, not {type(value).__name__}.", file=str(path))
    return dict(value)


def _environment(value: Any, base: Path, path: Path) -> dict[str, str] | None:
    if value is None or isinstance(value, dict):
        return {str(k): v if isinstance(v, str) else str(v) for k, v in (value or {}).items()} or None
    return read_dotenv(Path(_local(value, base)))


def _init(value: Any, base: Path, path: Path) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    from promptflow_lite.flow._loader import read_yaml

    data = read_yaml(Path(_local(value, base)))
    if not isinstance(data, dict):
        raise UserError("init must be a mapping or a JSON/YAML file holding one.", file=str(path))
    return data


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (``#`` comments, optional ``export`` and quotes)."""
    if not path.is_file():
        raise UserError("The environment variables file does not exist.", file=str(path))
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep:
            raise UserError("Expected KEY=VALUE.", file=str(path), line=number)
        values[key.strip()] = value.strip().strip("'\"")
    register_named(values)
    return values
