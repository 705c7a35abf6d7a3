"""``pfl flow build --format docker``: a flow as a self-contained folder to deploy (as ``pf flow build``).

The output holds ``flow/`` (a snapshot, additional includes copied in), ``connections/`` (one YAML
per connection the flow uses, each secret a ``${env:<CONN>_<KEY>}`` placeholder: never a secret in
clear), ``requirements.txt`` (promptflow_lite pinned, then the flow's own requirements),
``Dockerfile``, ``start.sh`` (creates the connections, then serves with uvicorn workers),
``settings.json`` (the environment variables a deployment sets), ``wheels/`` and ``README.md``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from promptflow_lite._version import __version__
from promptflow_lite.errors import UserError

FORMATS = ("docker",)
_IGNORED = shutil.ignore_patterns(".promptflow", "__pycache__", ".runs", ".venv", ".git", "*.pyc")
# promptflow packages whose role promptflow_lite takes (`from promptflow... import` keeps working)
_REPLACED = {"promptflow", "promptflow-core", "promptflow-devkit", "promptflow-tracing", "promptflow-tools"}


@dataclass
class BuildResult:
    """What a build wrote: the folder, the connections exported and the variables a deployment sets."""

    output: Path
    connections: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)


def build_flow(source: str | Path, output: str | Path, *, format: str = "docker",
               variant: str | None = None) -> BuildResult:
    """Build the flow at ``source`` into ``output`` (created; must be empty if it exists)."""
    from promptflow_lite.flow._loader import resolve_flow_path

    if format not in FORMATS:
        raise UserError(f"Unsupported build format '{format}'.", hint=f"use one of: {', '.join(FORMATS)}.")
    file, folder = resolve_flow_path(source)
    out = Path(output).resolve()
    if out.exists() and any(out.iterdir()):
        raise UserError(f"The output folder {out} is not empty.", hint="choose a new folder or empty it first.")
    used = _used_connections(file, variant)
    out.mkdir(parents=True, exist_ok=True)
    entry = _snapshot(file, folder, out / "flow")
    result = BuildResult(out, sorted(used))
    (out / "connections").mkdir()
    for name in result.connections:
        result.environment += _export_connection(used[name], out / "connections")
    result.environment.append("PFL_SERVE_API_KEY")
    (out / "requirements.txt").write_text(_requirements(out / "flow", file), encoding="utf-8")
    (out / "settings.json").write_text(json.dumps({name: "" for name in result.environment}, indent=2) + "\n",
                                       encoding="utf-8")
    (out / "wheels").mkdir()
    (out / "wheels" / "README.md").write_text(
        "Wheels put here are installed before PyPI is asked (e.g. a promptflow_lite wheel built from source).\n",
        encoding="utf-8")
    serve_args = f"--source {_shell_quote('flow/' + entry)}" + (f" --variant {_shell_quote(variant)}" if variant else "")
    name = file.stem if file.suffix == ".prompty" else folder.name
    values = {"version": __version__, "serve_args": serve_args, "flow": name,
              "environment": " ".join(f"-e {var}=..." for var in result.environment if var != "PFL_SERVE_API_KEY")}
    for template, mode in (("Dockerfile", 0o644), ("start.sh", 0o755), ("README.md", 0o644)):
        text = Template(files("promptflow_lite.serve").joinpath(f"docker/{template}").read_text("utf-8"))
        target = out / template
        target.write_text(text.substitute(values), encoding="utf-8")
        target.chmod(mode)
    return result


def _used_connections(file: Path, variant: str | None) -> dict[str, Any]:
    """The connections the flow needs (with ``variant``): those loading it fetches, as stored."""
    from promptflow_lite.engine._load import load_flow
    from promptflow_lite.serve._app import serving_connections

    recorder = _Recorder(serving_connections())
    load_flow(file, variant=variant, connections=recorder)
    return recorder.used


class _Recorder:
    """A connection provider noting which connections are fetched (the stored form, ``${env:...}`` kept)."""

    def __init__(self, inner: Any):
        self.inner, self.used = inner, {}

    def get(self, name: Any):
        connection = self.inner.get(name)
        if isinstance(name, str):
            self.used[name] = _stored(name) or connection
        return connection

    def names(self) -> list[str]:
        return self.inner.names()


def _stored(name: str) -> Any:
    from promptflow_lite.connections._store import ConnectionStore

    store = ConnectionStore()
    return store.get(name, resolve_env=False) if name in store.names() else None


def _snapshot(file: Path, folder: Path, target: Path) -> str:
    """Copy the flow folder to ``target`` with its additional includes merged in; the entry file's name."""
    from promptflow_lite.flow._loader import read_yaml

    shutil.copytree(folder, target, ignore=_IGNORED)
    if file.suffix not in (".yaml", ".yml"):
        return file.relative_to(folder).as_posix()
    data = read_yaml(file)
    includes = data.get("additional_includes") if isinstance(data, dict) else None
    if includes:
        for entry in includes:
            path = Path(entry) if Path(entry).is_absolute() else folder / entry
            if not path.exists():
                raise UserError(f"Unable to find additional include '{entry}'.", file=str(file),
                                hint="fix the path under additional_includes (relative to the flow folder).")
            path = path.resolve()
            if path.is_dir():
                shutil.copytree(path, target / path.name, dirs_exist_ok=True, ignore=_IGNORED)
            else:
                shutil.copy2(path, target / path.name)
        _drop_includes(target / file.relative_to(folder))
    return file.relative_to(folder).as_posix()


def _drop_includes(flow_file: Path) -> None:
    """The copied flow file without ``additional_includes`` (they are in the folder now)."""
    import yaml

    data = yaml.safe_load(flow_file.read_text(encoding="utf-8"))
    data.pop("additional_includes", None)
    flow_file.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _export_connection(connection: Any, folder: Path) -> list[str]:
    """Write ``connection`` as YAML with every secret an ``${env:...}`` placeholder; the variables named."""
    import yaml

    prefix = str(connection.name).replace(" ", "_")
    data = connection.to_dict(mask=False)
    secrets = data.get("secrets") if isinstance(data.get("secrets"), dict) else data
    variables = []
    for key in connection.secrets:
        variable = f"{prefix}_{key}".upper()
        secrets[key] = "${env:" + variable + "}"
        variables.append(variable)
    (folder / f"{prefix}.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                                           encoding="utf-8")
    return variables


def _requirements(flow_folder: Path, file: Path) -> str:
    """promptflow_lite pinned, then the flow's own requirements (promptflow's packages left to us)."""
    from promptflow_lite.flow._loader import read_yaml

    lines = ["# written by pfl flow build", f"promptflow_lite[serve]=={__version__}"]
    data = read_yaml(file) if file.suffix in (".yaml", ".yml") else None
    named = ((data or {}).get("environment") or {}).get("python_requirements_txt") if isinstance(data, dict) else None
    own = flow_folder / (named or "requirements.txt")
    if own.is_file():
        lines.append(f"# from the flow's {own.name}")
        for line in own.read_text(encoding="utf-8").splitlines():
            package = line.split("#", 1)[0].strip()
            name = package.split(";")[0].split("[")[0]
            for sign in "=<>!~ ":
                name = name.split(sign)[0]
            lines.append(f"# {line.strip()}  (promptflow_lite provides it)" if name.lower() in _REPLACED else line)
    return "\n".join(lines) + "\n"


def _shell_quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
