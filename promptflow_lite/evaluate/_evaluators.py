"""Evaluators on the command line: ``[ALIAS=]NAME_OR_PATH[:k=v,...]`` and how their inputs get mapped.

An evaluator is a name (see :mod:`._registry`: built-in or installed) or the path of any evaluation flow. Its
inputs are mapped, in order of preference, from: ``--evaluator-mapping ALIAS.input=VALUE``, the
``:k=v`` parameters (literals), a base-run output of the same name, a data column of the same
name, and - for ``answer`` only - the base run's single output. Inputs with a default may stay
unmapped; any other unmapped input is an error that says how to map it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from promptflow_lite.errors import UserError

_PARAM_SPLIT = re.compile(r",(?=\s*[A-Za-z_][\w.]*\s*=)")
_ALIAS = re.compile(r"^[A-Za-z_][\w-]*$")


@dataclass(frozen=True)
class EvaluatorSpec:
    """One evaluator to run: the name its metrics carry, its flow folder and its literal parameters."""

    alias: str
    path: Path
    params: dict[str, str] = field(default_factory=dict)


def parse_evaluator(text: str) -> EvaluatorSpec:
    """``"f1_score"``, ``"contains:substring=Paris,case_sensitive=true"``, ``"acc=./my_eval"`` → a spec."""
    from promptflow_lite.evaluate._registry import evaluator_path

    raw = text.strip()
    if Path(raw).expanduser().exists():
        target, params_text, alias = raw, "", None
    else:
        target, _, params_text = raw.partition(":")
        alias, sep, name = target.partition("=")
        target, alias = (name, alias.strip()) if sep else (alias, None)
    target = target.strip()
    if not target:
        raise UserError(f"Bad --evaluator '{text}': no evaluator name.", hint="write NAME[:k=v,...], e.g. f1_score.")
    path = Path(target).expanduser()
    if path.exists():
        path = path.resolve()
        alias = alias or path.name
    elif "/" not in target and "\\" not in target:
        path, alias = evaluator_path(target), alias or target  # a name: built-in, installed or registered
    else:
        raise UserError(f"Evaluator flow '{target}' does not exist.", hint="check the path, or use a built-in name.")
    if not _ALIAS.match(alias):
        raise UserError(f"Evaluator name '{alias}' cannot name metrics.",
                        hint="give it a simple name: --evaluator NAME=PATH (letters, digits, _ and -).")
    return EvaluatorSpec(alias, path, _parse_params(params_text, text))


def _parse_params(params_text: str, whole: str) -> dict[str, str]:
    params = {}
    for item in _PARAM_SPLIT.split(params_text) if params_text.strip() else []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"Bad parameter '{item}' in --evaluator '{whole}'.",
                            hint="write NAME:key=value,key2=value2 (values may contain commas).")
        params[key.strip()] = value
    return params


def parse_evaluators(texts: Iterable[str]) -> list[EvaluatorSpec]:
    """All ``--evaluator`` values; two evaluators may not share an alias."""
    specs = [parse_evaluator(text) for text in texts]
    seen: set[str] = set()
    for spec in specs:
        if spec.alias in seen:
            raise UserError(f"Two evaluators are named '{spec.alias}'.",
                            hint=f"name them apart: --evaluator {spec.alias}_2={spec.alias}:...")
        seen.add(spec.alias)
    return specs


def parse_mapping_overrides(items: Iterable[str] | None, specs: Sequence[EvaluatorSpec]) -> dict[str, dict[str, str]]:
    """``["f1_score.answer=${run.outputs.text}"]`` → ``{"f1_score": {"answer": "${run.outputs.text}"}}``."""
    aliases = [spec.alias for spec in specs]
    overrides: dict[str, dict[str, str]] = {alias: {} for alias in aliases}
    for item in items or []:
        key, sep, value = item.partition("=")
        alias, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise UserError(f"Bad --evaluator-mapping '{item}'.",
                            hint="write EVALUATOR.INPUT=VALUE, e.g. f1_score.answer='${run.outputs.text}'.")
        if alias not in overrides:
            raise UserError(f"--evaluator-mapping '{item}' names no evaluator of this run.",
                            hint=f"evaluators: {', '.join(aliases)}.")
        overrides[alias][name] = value
    return overrides


def flow_inputs(path: Path) -> dict[str, bool]:
    """Input name → whether it has a default, for any flow kind."""
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path

    file, _ = resolve_flow_path(path)
    if flow_kind(file) == "dag":
        return {name: spec.has_default for name, spec in load_dag(file).inputs.items()}
    from promptflow_lite.engine._load import load_flow

    return {name: getattr(spec, "has_default", False) for name, spec in load_flow(file).inputs.items()}


def suggested_mapping(spec: EvaluatorSpec, run_outputs: Sequence[str], data_columns: Sequence[str],
                      overrides: dict[str, str] | None = None) -> dict[str, str | None]:
    """Every input of ``spec`` → where it would be read from (None: nowhere; fine when it has a default)."""
    inputs = flow_inputs(spec.path)
    overrides = overrides or {}
    for source, names in (("parameter", spec.params), ("--evaluator-mapping", overrides)):
        unknown = [name for name in names if name not in inputs]
        if unknown:
            raise UserError(f"Evaluator '{spec.alias}' has no input {', '.join(map(repr, unknown))} ({source}).",
                            file=str(spec.path), hint=f"its inputs are: {', '.join(inputs) or 'none'}.")
    mapping: dict[str, str | None] = {}
    for name in inputs:
        if name in overrides:
            mapping[name] = overrides[name]
        elif name in spec.params:
            mapping[name] = spec.params[name]
        elif name in run_outputs:
            mapping[name] = f"${{run.outputs.{name}}}"
        elif name in data_columns:
            mapping[name] = f"${{data.{name}}}"
        elif name == "answer" and len(run_outputs) == 1:
            mapping[name] = f"${{run.outputs.{run_outputs[0]}}}"
        else:
            mapping[name] = None
    return mapping


def input_mapping(spec: EvaluatorSpec, run_outputs: Sequence[str], data_columns: Sequence[str],
                  overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The column mapping of ``spec``'s evaluation run over a base run with ``run_outputs``."""
    inputs = flow_inputs(spec.path)
    mapping = {}
    for name, value in suggested_mapping(spec, run_outputs, data_columns, overrides).items():
        if value is not None:
            mapping[name] = value
        elif not inputs[name]:
            raise UserError(
                f"Evaluator '{spec.alias}' needs input '{name}', but neither the flow's outputs "
                f"({', '.join(run_outputs) or 'none'}) nor the data columns ({', '.join(data_columns) or 'none'}) "
                f"have it.",
                hint=f"map it: --evaluator-mapping {spec.alias}.{name}='${{run.outputs.COLUMN}}' "
                     "(or '${data.COLUMN}').",
            )
    return mapping
