"""Connection definitions from files: promptflow's connection YAML, or a ``.env`` file.

YAML (FLOW_FORMAT §3.2): ``name``, ``type`` and the fields at top level; ``custom`` connections
nest ``configs:`` and ``secrets:`` and a strong-typed one adds ``custom_type``, ``module``,
``package`` and ``package_version``. A ``.env`` file becomes a ``custom`` connection whose secrets
are its pairs. ``--set`` overrides (``key=value``; ``configs.key`` / ``secrets.key`` for custom)
apply before validation, so an override can also fix a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from promptflow_lite.connections._types import (
    CONNECTION_CLASSES, STRONG_TYPE_PREFIX, Connection, CustomConnection, build_connection, connection_class)
from promptflow_lite.errors import UserError
from promptflow_lite.masking import register_named

STRONG_TYPE_FIELDS = ("custom_type", "module", "package", "package_version")
# accepted and ignored: the schema URL and what `pf connection show` prints besides the fields
# (`module` too, unless a custom connection has a `custom_type`)
IGNORED_FIELDS = ("$schema", "module", "created_date", "last_modified_date", "expiry_time")


def is_dotenv(path: str | Path) -> bool:
    return Path(path).name.endswith(".env")


def load_connection_file(path: str | Path, *, overrides: Mapping[str, Any] | None = None,
                         name: str | None = None) -> Connection:
    """The connection defined by a YAML or ``.env`` file, with ``overrides`` and ``name`` applied."""
    data = read_connection_file(path)
    if name:
        data["name"] = name
    return connection_from_dict(apply_overrides(data, overrides or {}), file=str(path))


def read_connection_file(path: str | Path) -> dict[str, Any]:
    """The raw definition in a file: the YAML mapping, or ``{type: custom, secrets: pairs}`` for ``.env``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"Cannot read the connection file: {exc.strerror}.", file=str(path),
                        hint="check the path given to -f.") from None
    if is_dotenv(path):
        return {"type": "custom", "secrets": parse_dotenv(text, file=str(path))}
    import yaml

    try:
        data = yaml.load(text, Loader=_text_dates_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise UserError(f"The connection file is not valid YAML: {getattr(exc, 'problem', exc)}.", file=str(path),
                        line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise UserError("A connection file must hold a mapping with at least `name` and `type`.", file=str(path),
                        hint="see `pfl connection create --help` for an example.")
    return data


def _text_dates_loader() -> type:
    """PyYAML's SafeLoader without timestamps: ``api_version: 2024-02-01`` stays the text written."""
    import yaml

    timestamp = "tag:yaml.org,2002:timestamp"

    class TextDatesLoader(yaml.SafeLoader):
        yaml_implicit_resolvers = {first: [(tag, regexp) for tag, regexp in resolvers if tag != timestamp]
                                   for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    return TextDatesLoader


def parse_dotenv(text: str, *, file: str | None = None) -> dict[str, str]:
    """``KEY=VALUE`` lines (``export`` prefix, quotes, comments and blank lines allowed)."""
    pairs: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            raise UserError(f"Expected KEY=VALUE, got '{raw.strip()}'.", file=file, line=number)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        pairs[key] = value
    return pairs


def register_dotenv_secrets(path: str | Path) -> None:
    """Register for masking the values of a ``.env`` file named like secrets (flow code may load it)."""
    try:
        register_named(parse_dotenv(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, UserError):  # none, or not ours to judge
        pass


def apply_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with ``{"key": v}`` and nested ``{"configs.key": v}`` overrides applied (a new dict)."""
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for dotted, value in overrides.items():
        head, sep, rest = dotted.partition(".")
        if sep and head in ("configs", "secrets"):
            section = result.get(head)
            result[head] = {**(section if isinstance(section, dict) else {}), rest: value}
        else:
            result[dotted] = value
    return result


def connection_from_dict(data: Mapping[str, Any], *, file: str | None = None) -> Connection:
    """Validate a YAML-form definition and build its connection; bad fields name the file and the fix."""
    name = data.get("name")
    if not name or not isinstance(name, str):
        raise UserError("The connection has no `name`.", file=file,
                        hint="add `name: my_connection` to the file, or pass --name my_connection.")
    type_name = data.get("type")
    if not type_name:
        raise UserError(f"Connection '{name}' has no `type`.", file=file,
                        hint=f"add `type:` with one of: {', '.join(sorted(CONNECTION_CLASSES))}.")
    try:
        cls = connection_class(str(type_name))
    except ValueError as exc:
        raise UserError(str(exc), file=file, hint="fix `type:` in the file.") from None
    fields = {k: v for k, v in data.items() if k not in ("name", "type", *IGNORED_FIELDS)}
    if issubclass(cls, CustomConnection):
        if data.get("custom_type"):  # then `module` names the strong type's module
            fields["module"] = data.get("module")
        return _custom(name, fields, file)
    _check_fields(name, cls, fields, [*cls.CONFIGS, *cls.SECRETS], file)
    required = [k for k in cls.CONFIGS if k in (*cls.REQUIRED, "api_base", "endpoint") and not fields.get(k)]
    if required:
        raise UserError(f"Connection '{name}' of type {cls.TYPE} needs `{required[0]}`.", file=file,
                        hint=f"add `{required[0]}: ...` to the file or pass --set {required[0]}=VALUE.")
    configs = {k: _text(v) for k, v in fields.items() if k not in cls.SECRETS}
    secrets = {k: _text(fields.get(k)) for k in cls.SECRETS}
    return build_connection(cls.TYPE, name=name, configs=configs, secrets=secrets)


def _custom(name: str, fields: dict[str, Any], file: str | None) -> Connection:
    _check_fields(name, CustomConnection, fields, ["configs", "secrets", *STRONG_TYPE_FIELDS], file)
    sections = {}
    for section in ("configs", "secrets"):
        value = fields.get(section) or {}
        if not isinstance(value, dict):
            raise UserError(f"Connection '{name}': `{section}` must be a mapping of names to values.", file=file,
                            hint=f"write `{section}:` followed by indented `key: value` lines.")
        sections[section] = {str(k): _text(v) for k, v in value.items()}
    strong = {k: str(fields[k]) for k in STRONG_TYPE_FIELDS if fields.get(k)}
    if strong and not ("custom_type" in strong and "module" in strong):
        raise UserError(f"Connection '{name}' is a custom strong type but lacks `custom_type` or `module`.",
                        file=file, hint="give both: the class name and the module that defines it.")
    configs = {**sections["configs"], **{STRONG_TYPE_PREFIX + k: v for k, v in strong.items()}}
    return CustomConnection(name=name, configs=configs, secrets=sections["secrets"])


def _text(value: Any) -> Any:
    """Connection values are strings in promptflow; numbers, booleans and dates from YAML become their text."""
    return value if value is None or isinstance(value, str) else str(value)


def _check_fields(name: str, cls: type[Connection], fields: Mapping[str, Any], valid: list[str],
                  file: str | None) -> None:
    unknown = [k for k in fields if k not in valid]
    if unknown:
        allowed = ", ".join(["name", "type", *valid])
        extra = " (custom connections keep their keys under `configs:` and `secrets:`)" \
            if issubclass(cls, CustomConnection) else ""
        raise UserError(f"Unknown field '{unknown[0]}' in connection '{name}' of type {cls.TYPE}{extra}.",
                        file=file, hint=f"remove or rename it; valid fields are: {allowed}.")
