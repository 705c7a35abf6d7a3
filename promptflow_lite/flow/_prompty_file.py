"""What a ``.prompty`` file *is*: YAML front matter + a jinja template (FLOW_FORMAT §8.2).

``load_prompty_file(path, model=..., **overrides)`` parses the file, resolves ``${env:VAR}`` and
``${file:path}`` values everywhere in the front matter (and in the overrides), merges the
overrides and checks the model section. ``PromptyFile.resolve_inputs`` turns call arguments
into template inputs (sample when called without inputs, defaults, required inputs, images).
Nothing here calls a model.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptflow_lite.errors import FlowLoadError, InputError, UserError
from promptflow_lite.flow._value_type import ValueType

# The front matter is fenced by the first two lines made of dashes (promptflow's pattern, but the
# first closing fence ends it, so a markdown rule in the template body is not taken for the fence).
_FRONT_MATTER = re.compile(r"^-{3,}[ \t]*\n(.*?)^-{3,}[ \t]*(?:\n|\Z)(.*)", re.S | re.M)
_REFERENCE = re.compile(r"^\$\{(\w+):(.*)\}$", re.S)
MODEL_KEYS = ("api", "configuration", "parameters", "response")
_LEGACY_MODEL_KEYS = ("connection",)  # promptflow 1.x previews: model.connection instead of configuration


class PromptyFormatError(FlowLoadError):
    """A .prompty file is not front matter + template, or its front matter is invalid."""


class MissingRequiredInputError(InputError):
    """A prompty was called without a required input."""


class InvalidSampleError(UserError):
    """``sample`` is neither a mapping nor a JSON file of inputs."""


@dataclass
class PromptyFile:
    """A parsed prompty: its front matter (references resolved, overrides merged) and template."""

    path: Path
    data: dict[str, Any]
    template: str

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.path.stem)

    @property
    def description(self) -> str | None:
        return self.data.get("description")

    @property
    def model(self) -> dict[str, Any]:
        return self.data.get("model") or {}

    @property
    def api(self) -> str:
        return self.model.get("api") or "chat"

    @property
    def configuration(self) -> Any:
        return self.model.get("configuration") or {}

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self.model.get("parameters") or {})

    @property
    def response(self) -> str:
        return self.model.get("response") or "first"

    @property
    def outputs(self) -> dict[str, Any]:
        return self.data.get("outputs") or {}

    @property
    def sample(self) -> Any:
        return self.data.get("sample")

    # inputs --------------------------------------------------------------------------------
    def sample_inputs(self) -> dict[str, Any]:
        """``sample`` as a dict of inputs (a mapping, or a JSON file next to the prompty)."""
        sample = self.sample
        if not sample:
            return {}
        if isinstance(sample, dict):
            return sample
        if isinstance(sample, str) and sample.endswith(".json"):
            file = self._relative(sample[len("file:"):] if sample.startswith("file:") else sample)
            try:
                data = json.loads(file.read_text(encoding="utf-8"))
            except OSError:
                raise InvalidSampleError(f"Cannot find sample file {sample}.", file=str(self.path),
                                         hint="create the file or fix `sample:`.") from None
            except ValueError as exc:
                raise InvalidSampleError(f"The sample file {sample} is not valid JSON: {exc}.",
                                         file=str(self.path)) from None
            if not isinstance(data, dict):
                raise InvalidSampleError(f"The sample file {sample} must hold a JSON object of inputs.",
                                         file=str(self.path))
            return data
        raise InvalidSampleError("Only dict and json file are supported as sample in prompty.", file=str(self.path),
                                 hint="write `sample:` as a mapping of inputs or `sample: ${file:sample.json}`.")

    def input_signature(self) -> dict[str, dict[str, Any]]:
        """``inputs`` as declared, or else inferred from the sample's value types."""
        inputs = self.data.get("inputs")
        if inputs:
            return {name: (spec if isinstance(spec, dict) else {"type": "string", "default": spec})
                    for name, spec in inputs.items()}
        return {name: {"type": ValueType.from_value(value).value} for name, value in self.sample_inputs().items()}

    def resolve_inputs(self, given: dict[str, Any]) -> dict[str, Any]:
        """Template inputs for a call: the sample when ``given`` is empty, then defaults. Inputs not in
        the signature are dropped, as in promptflow - unless the prompty declares no inputs and no
        sample at all: then every given input reaches the template (promptflow would drop them)."""
        if not given and self.sample:
            given = self.sample_inputs()
        signature = self.input_signature()
        resolved, missing = ({} if signature else dict(given)), []
        for name, spec in signature.items():
            if name in given:
                resolved[name] = given[name]
            elif "default" in spec:
                resolved[name] = spec["default"]
            else:
                missing.append(name)
        if missing:
            raise MissingRequiredInputError(
                f"Missing required inputs: {missing}.", file=str(self.path),
                hint=f"pass {', '.join(missing)} (e.g. --inputs {missing[0]}=...), or give "
                     f"{'it' if len(missing) == 1 else 'them'} a default under `inputs:`.")
        return resolved

    def _relative(self, name: str) -> Path:
        path = Path(name)
        return path if path.is_absolute() else self.path.parent / path


# ---------------------------------------------------------------------------------------------
# loading


def load_prompty_file(path: str | Path, model: dict[str, Any] | None = None, **overrides: Any) -> PromptyFile:
    """Parse ``path``; ``model`` and ``overrides`` are merged into the front matter (recursively)."""
    path = Path(path)
    if not path.exists():
        raise PromptyFormatError(f"Source {path.absolute().as_posix()} does not exist.", file=str(path),
                                 hint="check the path of the .prompty file.")
    if path.suffix != ".prompty":
        raise PromptyFormatError("Source must be a file with .prompty extension.", file=str(path))
    configs, template = parse_prompty(path)
    base = path.parent
    configs = merge(resolve_references(configs, base, str(path)), resolve_references(overrides, base, str(path)))
    configs["model"] = merge(configs.get("model") or {}, resolve_references(model or {}, base, str(path)))
    _check_model(configs["model"], path)
    _check_inputs(configs.get("inputs"), path)
    return PromptyFile(path=path.resolve(), data=configs, template=template)


def parse_prompty(path: Path) -> tuple[dict[str, Any], str]:
    """``(front matter dict, template)``; problems name the file, the line and the fix."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PromptyFormatError(f"Cannot read the file: {exc.strerror}.", file=str(path)) from None
    found = _FRONT_MATTER.search(text)
    if not found:
        raise PromptyFormatError(
            "Illegal formatting of prompty. The prompt file is in markdown format and can be divided into two "
            "parts, the first part is in YAML format and contains connection and model information. The second "
            "part is the prompt template.", file=str(path),
            hint="start the file with a line '---', the YAML front matter, a line '---', then the template.")
    offset = text.count("\n", 0, found.start(1))
    try:
        configs = yaml.safe_load(found.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise PromptyFormatError(f"Invalid YAML front matter: {problem}.", file=str(path),
                                 line=(mark.line + 1 + offset) if mark else None,
                                 hint="fix the YAML between the '---' lines.") from None
    if configs is None:
        configs = {}
    if not isinstance(configs, dict):
        raise PromptyFormatError("The front matter must be a YAML mapping (name, model, inputs...).",
                                 file=str(path), line=offset + 1)
    return configs, found.group(2)


def merge(origin: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """promptflow's ``update_dict_recursively``: nested dicts merge, other values replace."""
    merged = {}
    for key, value in overrides.items():
        if isinstance(value, dict):
            base = origin.get(key)
            merged[key] = merge(base if isinstance(base, dict) else {}, value)
        else:
            merged[key] = value
    for key, value in origin.items():
        merged.setdefault(key, value)
    return merged


def resolve_references(value: Any, base: Path, where: str | None = None) -> Any:
    """``${env:NAME}`` → the variable (kept as written when unset); ``${file:path}`` → the file,
    parsed when it is JSON or YAML, relative to ``base``. Dicts and lists are walked."""
    if isinstance(value, dict):
        return {k: resolve_references(v, base, where) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_references(v, base, where) for v in value]
    if not isinstance(value, str):
        return value
    match = _REFERENCE.match(value)
    if not match:
        return value
    kind, target = match.groups()
    if kind == "env":
        return os.environ.get(target, value)
    if kind == "file":
        return _read_reference(Path(target) if Path(target).is_absolute() else base / target, target, where)
    return value


def _read_reference(file: Path, name: str, where: str | None) -> Any:
    import yaml

    try:
        text = file.read_text(encoding="utf-8")
    except OSError:
        raise PromptyFormatError(f"Cannot find the reference file {name}.", file=where,
                                 hint="paths in ${file:...} are relative to the prompty's folder.") from None
    suffix = file.suffix.lower()
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix in (".yml", ".yaml"):
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise PromptyFormatError(f"The reference file {name} cannot be parsed: {exc}.", file=where) from None
    return text


def _check_model(model: Any, path: Path) -> None:
    if not isinstance(model, dict):
        raise PromptyFormatError("`model` must be a mapping (api, configuration, parameters, response).",
                                 file=str(path))
    unknown = [k for k in model if k not in MODEL_KEYS + _LEGACY_MODEL_KEYS]
    if unknown:
        raise PromptyFormatError(f"Unknown key(s) under model: {', '.join(map(str, unknown))}.", file=str(path),
                                 hint=f"model takes {', '.join(MODEL_KEYS)}; put request options such as "
                                      "max_tokens under model.parameters.")
    if model.get("api", "chat") not in ("chat", "completion"):
        raise PromptyFormatError(f"model.api must be chat or completion, not {model.get('api')!r}.", file=str(path))
    if model.get("response", "first") not in ("first", "all"):
        raise PromptyFormatError(f"model.response must be first or all, not {model.get('response')!r}.",
                                 file=str(path), hint="first returns the first choice's content, all the response.")
    if not isinstance(model.get("parameters") or {}, dict):
        raise PromptyFormatError("model.parameters must be a mapping of request options.", file=str(path))
    if model.get("connection"):  # the pre-1.0 form: model.connection next to (or instead of) configuration
        configuration = model.get("configuration") or {}
        if isinstance(configuration, dict) and not configuration.get("connection"):
            model["configuration"] = {**configuration, "connection": model["connection"]}
        model.pop("connection")
    from promptflow_lite.connections._model_config import check_configuration

    check_configuration(model.get("configuration"), str(path))


def _check_inputs(inputs: Any, path: Path) -> None:
    if inputs is not None and not isinstance(inputs, dict):
        raise PromptyFormatError("`inputs` must be a mapping of input name to {type, default}.", file=str(path),
                                 hint="write e.g. `inputs: {question: {type: string}}`.")


__all__ = ["PromptyFile", "PromptyFormatError", "MissingRequiredInputError", "InvalidSampleError",
           "load_prompty_file", "parse_prompty", "merge", "resolve_references"]
