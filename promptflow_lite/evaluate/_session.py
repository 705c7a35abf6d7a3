"""``pfl eval`` as a library call: run every variant (× repeats), every evaluator on each run, compare.

:func:`run_evaluation` takes an :class:`EvaluationPlan`, runs everything through the runs
``Client`` (so every run lands in the run store and the LLM cache applies) and returns an
:class:`EvaluationResult`: the run names, every run's lines and the :class:`ComparisonReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._comparison import ComparisonReport, compare
from promptflow_lite.evaluate._evaluators import EvaluatorSpec, flow_inputs, input_mapping
from promptflow_lite.evaluate._gates import Check, Gate, check, resolve_metric
from promptflow_lite.evaluate._run_lines import RunLines, metric_columns, read_run_lines, score

Echo = Callable[[str], None]


@dataclass
class EvaluationPlan:
    """What to evaluate; see ``pfl eval --help`` for the meaning of each field."""

    flow: Path
    data: Path
    evaluators: list[EvaluatorSpec]
    variants: list[str | None] = field(default_factory=lambda: [None])  # selectors; None = the flow as is
    baseline: str | None = None
    column_mapping: dict[str, Any] | None = None
    evaluator_mapping: dict[str, dict[str, str]] = field(default_factory=dict)
    repeats: int = 1
    connections: Any = None
    connection_overrides: dict[str, str] | None = None
    environment_variables: dict[str, Any] | None = None
    max_concurrency: int | None = None
    use_cache: bool = True
    confidence: float = 0.95
    lower_is_better: Sequence[str] = ()
    gates: Sequence[Gate] = ()  # --fail-under
    fail_if_worse: bool = False
    name: str | None = None  # prefix of the run names (default: <flow folder>_eval_<timestamp>)


@dataclass
class VariantRuns:
    """One variant's runs: its base run per repeat and, per evaluator, the evaluation run per repeat."""

    label: str
    selector: str | None
    base: list[RunLines] = field(default_factory=list)
    evaluations: dict[str, list[RunLines]] = field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # evaluator → its logged metrics (repeat 0)


@dataclass
class EvaluationResult:
    plan: EvaluationPlan
    data: list[dict[str, Any]]
    variants: list[VariantRuns]
    report: ComparisonReport
    metric_sources: dict[str, tuple[str, str]]  # metric → (evaluator, output column)
    checks: list[Check] = field(default_factory=list)  # one per variant and metric

    @property
    def passed(self) -> bool:
        """False when a gate (or ``fail_if_worse``) failed."""
        return all(item.passed for item in self.checks)


def variant_labels(selectors: Sequence[str | None]) -> list[str]:
    """Short names: the variant id when unique, else ``node.variant_id``; ``default`` for no variant."""
    from promptflow_lite.flow._variants import parse_variant

    parsed = [parse_variant(s) if s else None for s in selectors]
    ids = [p[1] for p in parsed if p]
    return ["default" if p is None else (p[1] if ids.count(p[1]) == 1 else f"{p[0]}.{p[1]}") for p in parsed]


def choose_variants(flow: Path, wanted: str | None) -> list[str | None]:
    """``--variants``: ``all`` (default), or a comma list of ids / ``node.id`` / ``${node.id}`` selectors."""
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path
    from promptflow_lite.flow._variants import all_variant_ids

    file, _ = resolve_flow_path(flow)
    selectors = all_variant_ids(load_dag(file)) if flow_kind(file) == "dag" else []
    if not wanted or wanted.strip() == "all":
        return list(selectors) or [None]
    if not selectors:
        raise UserError(f"--variants {wanted}: the flow has no node variants.", file=str(file),
                        hint="drop --variants to evaluate the flow as it is.")
    labels = variant_labels(selectors)
    chosen = []
    for item in (part.strip() for part in wanted.split(",") if part.strip()):
        bare = item[2:-1] if item.startswith("${") and item.endswith("}") else item
        matches = [s for s, label in zip(selectors, labels) if bare in (label, s[2:-1]) or s[2:-1].endswith("." + bare)]
        if len(matches) != 1:
            raise UserError(f"--variants: '{item}' is {'ambiguous' if matches else 'not a variant of the flow'}.",
                            file=str(file), hint=f"choose from: {', '.join(labels)} (or 'all').")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def flow_output_names(flow: Path) -> list[str]:
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path

    file, _ = resolve_flow_path(flow)
    if flow_kind(file) == "dag":
        return list(load_dag(file).outputs)
    from promptflow_lite.engine._load import load_flow

    return list(load_flow(file).output_names)


def evaluate(flow: str | Path, data: str | Path, evaluators: Sequence[str], *, variants: str = "all",
             evaluator_mapping: Sequence[str] = (), fail_under: Sequence[str] = (), client: Any = None,
             echo: Echo | None = None, **options: Any) -> EvaluationResult:
    """``pfl eval`` from Python; arguments as on the command line, other :class:`EvaluationPlan` fields as keywords.

    >>> result = evaluate("flows/qa", "qa.jsonl", ["exact_match", "contains:substring=Paris"], repeats=2)
    >>> print(result.report); result.passed
    """
    from promptflow_lite.evaluate._evaluators import parse_evaluators, parse_mapping_overrides
    from promptflow_lite.evaluate._gates import parse_gates

    specs = parse_evaluators(evaluators)
    plan = EvaluationPlan(flow=Path(flow), data=Path(data), evaluators=specs,
                          variants=choose_variants(Path(flow), variants),
                          evaluator_mapping=parse_mapping_overrides(evaluator_mapping, specs),
                          gates=parse_gates(fail_under), **options)
    return run_evaluation(plan, client=client, echo=echo)


@dataclass
class PreparedEvaluation:
    """A checked plan: the data, every mapping, and the names its runs will get (base, then evaluations)."""

    data: list[dict[str, Any]]
    flow_mapping: dict[str, Any]
    mappings: dict[str, dict[str, str]]  # evaluator alias → its column mapping
    overrides: dict[str | None, dict[str, str]]
    labels: list[str]
    baseline: str | None
    session: str

    def run_name(self, label: str, repeat: int, repeats: int, evaluator: str | None = None) -> str:
        name = f"{self.session}_{label}{f'_r{repeat}' if repeats > 1 else ''}"
        return (f"{name}_{evaluator}" if evaluator else name).replace(".", "_")

    def run_names(self, plan: EvaluationPlan) -> list[str]:
        """Every run the evaluation makes, in the order it makes them."""
        return [name for label in self.labels for repeat in range(plan.repeats)
                for name in [self.run_name(label, repeat, plan.repeats)]
                + [self.run_name(label, repeat, plan.repeats, spec.alias) for spec in plan.evaluators]]


def prepare_evaluation(plan: EvaluationPlan) -> PreparedEvaluation:
    """Check the plan without running anything: data, mappings, metric names, baseline, connections."""
    from promptflow_lite.runs._data import columns, load_data

    if plan.repeats < 1:
        raise UserError(f"--repeats must be at least 1, got {plan.repeats}.")
    if not plan.evaluators:
        raise UserError("No evaluator given.", hint="add --evaluator NAME, e.g. --evaluator exact_match.")
    data = load_data(plan.data)
    flow_mapping = base_mapping(plan.flow, columns(data), plan.column_mapping)
    outputs = flow_output_names(plan.flow)
    mappings = {spec.alias: input_mapping(spec, outputs, columns(data), plan.evaluator_mapping.get(spec.alias))
                for spec in plan.evaluators}
    _check_metric_names(plan)
    overrides = split_connection_overrides(plan)
    labels = variant_labels(plan.variants)
    baseline = _baseline_label(plan.baseline, labels, plan.variants)
    return PreparedEvaluation(data, flow_mapping, mappings, overrides, labels, baseline,
                              _session_name(plan.flow, plan.name))


def run_evaluation(plan: EvaluationPlan, client: Any = None, echo: Echo | None = None) -> EvaluationResult:
    """Run the plan; mappings and metric names are checked before the first run starts."""
    if client is None:
        from promptflow_lite.runs._client import Client

        client = Client()
    echo = echo or (lambda message: None)
    prepared = prepare_evaluation(plan)
    data, flow_mapping, mappings, overrides = prepared.data, prepared.flow_mapping, prepared.mappings, prepared.overrides
    if flow_mapping:
        echo("flow inputs: " + ", ".join(f"{k}={v}" for k, v in flow_mapping.items()))
    for spec in plan.evaluators:
        echo(f"evaluator {spec.alias}: " + ", ".join(f"{k}={v}" for k, v in mappings[spec.alias].items()))
    results = []
    for label, selector in zip(prepared.labels, plan.variants):
        runs = VariantRuns(label, selector)
        for repeat in range(plan.repeats):
            name = prepared.run_name(label, repeat, plan.repeats)
            echo(f"running {label}{f' (repeat {repeat + 1}/{plan.repeats})' if plan.repeats > 1 else ''}: run {name}")
            base = client.run(plan.flow, data=str(plan.data), column_mapping=flow_mapping, variant=selector,
                              name=name,
                              environment_variables=plan.environment_variables, connections=plan.connections,
                              connection_overrides=overrides.get(None), max_concurrency=plan.max_concurrency,
                              use_cache=plan.use_cache, repeat_index=repeat)
            runs.base.append(_succeeded_lines(client, base))
            for spec in plan.evaluators:
                evaluation_name = prepared.run_name(label, repeat, plan.repeats, spec.alias)
                lines = _evaluate(client, plan, spec, base, mappings[spec.alias], evaluation_name,
                                  overrides.get(spec.alias))
                runs.evaluations.setdefault(spec.alias, []).append(lines)
                if repeat == 0:
                    runs.metrics[spec.alias] = _logged_metrics(client, lines.name)
        results.append(runs)
    declared = {spec.alias: score_outputs(spec.path) for spec in plan.evaluators}
    scores, sources = line_scores(results, len(data), declared)
    lower = [resolve_metric(name, list(sources)) for name in plan.lower_is_better]
    report = compare(scores, prepared.baseline, plan.confidence, lower_is_better=lower, n_lines=len(data))
    checks = check(report, plan.gates, plan.fail_if_worse)
    return EvaluationResult(plan, data, results, report, sources, checks)


def base_mapping(flow: Path, data_columns: Sequence[str], explicit: dict[str, Any] | None) -> dict[str, Any]:
    """The evaluated flow's column mapping: ``explicit`` plus every input named like a data column.

    Unlike promptflow's default mapping (``pfl run create``), a data column is used even when the
    input has a default: evaluating a flow over data should evaluate it over that data.
    """
    mapping = {name: f"${{data.{name}}}" for name in flow_inputs(flow) if name in data_columns}
    return {**mapping, **(explicit or {})}


def _check_metric_names(plan: EvaluationPlan) -> None:
    """Metric names in gates and ``lower_is_better`` must name an evaluator output (typos fail before any run)."""
    outputs = [f"{spec.alias}.{name}" for spec in plan.evaluators for name in flow_output_names(spec.path)]
    for name in [gate.metric for gate in plan.gates] + list(plan.lower_is_better):
        resolve_metric(name, outputs)


def _succeeded_lines(client, run: Any) -> RunLines:
    """The run's lines; a run without a single succeeded line stops the evaluation with its error."""
    lines = read_run_lines(client, run)
    if not lines.outputs:
        error = run.error or {}
        message = error.get("message", error) if isinstance(error, dict) else error
        command = f"pfl run show-details {run.name} --failed-only" if lines.errors else f"pfl run show {run.name}"
        raise UserError(f"Run '{run.name}' has no succeeded line ({run.status}): {message}",
                        hint=f"see `{command}`.")
    return lines


def _evaluate(client, plan: EvaluationPlan, spec: EvaluatorSpec, base: Any, mapping: dict[str, str], name: str,
              overrides: dict[str, str] | None) -> RunLines:
    run = client.run(spec.path, data=str(plan.data), run=base, column_mapping=mapping, name=name,
                     environment_variables=plan.environment_variables, connections=plan.connections,
                     connection_overrides=overrides, max_concurrency=plan.max_concurrency, use_cache=plan.use_cache)
    return _succeeded_lines(client, run)


def _logged_metrics(client, name: str) -> dict[str, Any]:
    from promptflow_lite.runs._errors import InvalidRunStatusError

    try:
        return dict(client.get_metrics(name) or {})
    except InvalidRunStatusError:  # every line of the evaluation failed: no metrics
        return {}


def score_outputs(flow: Path) -> list[str]:
    """The outputs a DAG flow declares as ``int``, ``double`` or ``bool``: metrics even if no line has a value."""
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path
    from promptflow_lite.flow._model import ValueType

    file, _ = resolve_flow_path(flow)
    if flow_kind(file) != "dag":
        return []
    numeric = (ValueType.INT, ValueType.DOUBLE, ValueType.BOOL)
    return [name for name, output in load_dag(file).outputs.items() if output.type in numeric]


def line_scores(variants: Sequence[VariantRuns], n_lines: int, declared: dict[str, list[str]] | None = None):
    """``scores[variant][metric][line] = [score per repeat]`` and metric → (evaluator, column).

    ``declared`` (evaluator → :func:`score_outputs`) keeps a metric whose every line lacks a score
    in the report (as n/a, failing its gates) instead of dropping it silently.
    """
    sources: dict[str, tuple[str, str]] = {}
    for runs in variants:
        for alias, per_repeat in runs.evaluations.items():
            for column in metric_columns(per_repeat, (declared or {}).get(alias, ())):
                sources.setdefault(f"{alias}.{column}", (alias, column))
    scores: dict[str, dict[str, list[list[float | None]]]] = {}
    for runs in variants:
        table = scores[runs.label] = {}
        for metric, (alias, column) in sources.items():
            per_repeat = runs.evaluations.get(alias, [])
            table[metric] = [[score(r.value(line, column)) for r in per_repeat] for line in range(n_lines)]
    return scores, sources


def split_connection_overrides(plan: EvaluationPlan) -> dict[str | None, dict[str, str]]:
    """``--connections`` per flow: ``NODE.key=v`` goes to every flow having that node (the evaluated flow
    and the evaluators), ``EVALUATOR.NODE.key=v`` to that evaluator only. Key None = the evaluated flow."""
    flows = {None: _node_names(plan.flow), **{spec.alias: _node_names(spec.path) for spec in plan.evaluators}}
    split: dict[str | None, dict[str, str]] = {}
    for key, value in (plan.connection_overrides or {}).items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] in flows:
            targets, node, setting = [parts[0]], parts[1], parts[2]
        elif len(parts) == 2:
            targets, (node, setting) = list(flows), parts
        else:
            targets, node, setting = [], parts[0], ""
        targets = [target for target in targets if node in flows[target]]
        if not targets:
            raise UserError(f"--connections {key}={value}: no node '{node}' in the flow or the evaluators.",
                            hint="write NODE.connection=NAME (or EVALUATOR.NODE.connection=NAME).")
        for target in targets:
            split.setdefault(target, {})[f"{node}.{setting}"] = value
    return split


def _node_names(path: Path) -> set[str]:
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path

    file, _ = resolve_flow_path(path)
    return {node.name for node in load_dag(file).nodes} if flow_kind(file) == "dag" else set()


def _baseline_label(baseline: str | None, labels: list[str], selectors: Sequence[str | None]) -> str | None:
    if baseline is None:
        return None
    for label, selector in zip(labels, selectors):
        if baseline in (label, selector) or (selector and selector[2:-1] == baseline):
            return label
    raise UserError(f"--baseline {baseline} is not among the evaluated variants.",
                    hint=f"choose one of: {', '.join(labels)}.")


def _session_name(flow: Path, name: str | None = None) -> str:
    from promptflow_lite.runs._model import check_name, sanitize_name

    if name:
        return check_name(name)

    folder = Path(flow).resolve()
    folder = folder.parent if folder.is_file() else folder
    return sanitize_name(f"{folder.name}_eval_{datetime.now().strftime('%Y%m%d_%H%M%S_%f')}")
