"""``pfl eval`` as a library call: run every variant (× repeats), every evaluator on each run, compare.

:func:`run_evaluation` takes an :class:`EvaluationPlan`, runs everything through the runs
``Client`` (so every run lands in the run store and the LLM cache applies) and returns an
:class:`EvaluationResult`: the run names, every run's lines, the :class:`ComparisonReport` and the
:class:`~._analysis.Analysis` (best variant, cost and latency, slices, spend). The variants may be
combinations of several nodes' variants (``--grid``), raced by successive halving (``--halving``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

from promptflow_lite.errors import UserError
from promptflow_lite.evaluate._analysis import Analysis
from promptflow_lite.evaluate._comparison import ComparisonReport, compare
from promptflow_lite.evaluate._evaluators import EvaluatorSpec, flow_inputs, input_mapping
from promptflow_lite.evaluate._execution import VariantRuns
from promptflow_lite.evaluate._gates import Check, Gate, check, resolve_metric
from promptflow_lite.evaluate._run_lines import line_scores, score_outputs

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
    primary: str | None = None  # the metric that ranks variants (default: the first)
    halving: bool = False  # race the variants by successive halving
    budget_lines: int | None = None  # at most this many line runs in the race (variant × line × repeat)
    seed: int = 0  # fixes the halving samples
    slice_by: Sequence[str] = ()  # data columns to slice every metric by
    prices: Path | None = None  # a price table (per model, per 1k tokens)


@dataclass
class EvaluationResult:
    plan: EvaluationPlan
    data: list[dict[str, Any]]
    variants: list[VariantRuns]
    report: ComparisonReport
    metric_sources: dict[str, tuple[str, str]]  # metric → (evaluator, output column)
    checks: list[Check] = field(default_factory=list)  # one per variant and metric
    analysis: Analysis | None = None

    @property
    def passed(self) -> bool:
        """False when a gate (or ``fail_if_worse``) failed."""
        return all(item.passed for item in self.checks)


def variant_labels(selectors: Sequence[str | None]) -> list[str]:
    """Short names: the variant id when unique, else ``node.variant_id``; ``default`` for no variant;
    ``summarize=v1,answer=v0`` for a combination of several nodes' variants."""
    from promptflow_lite.evaluate._grid import combination_label, is_combination
    from promptflow_lite.flow._variants import parse_variant

    if any(is_combination(s) for s in selectors):
        return [combination_label(s) if s else "default" for s in selectors]
    parsed = [parse_variant(s) if s else None for s in selectors]
    ids = [p[1] for p in parsed if p]
    return ["default" if p is None else (p[1] if ids.count(p[1]) == 1 else f"{p[0]}.{p[1]}") for p in parsed]


def choose_variants(flow: Path, wanted: str | None, grid: bool = False) -> list[str | None]:
    """``--variants``: ``all`` (default), or a comma list of ids / ``node.id`` / ``${node.id}`` selectors.

    With ``grid`` (or a ``node.*`` item) every combination of the chosen nodes' variants instead.
    """
    from promptflow_lite.evaluate._grid import grid_selectors
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path
    from promptflow_lite.flow._variants import all_variant_ids

    if grid or "*" in (wanted or ""):
        return list(grid_selectors(flow, wanted))
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
             grid: bool = False, evaluator_mapping: Sequence[str] = (), fail_under: Sequence[str] = (),
             client: Any = None, echo: Echo | None = None, **options: Any) -> EvaluationResult:
    """``pfl eval`` from Python; arguments as on the command line, other :class:`EvaluationPlan` fields as keywords.

    >>> result = evaluate("flows/qa", "qa.jsonl", ["exact_match", "contains:substring=Paris"], repeats=2)
    >>> print(result.report); result.passed
    >>> grid = evaluate("flows/rag", "qa.jsonl", ["exact_match"], grid=True, halving=True, slice_by=["topic"])
    >>> grid.analysis.best.variant          # e.g. 'retrieve=v1,answer=v2'
    """
    from promptflow_lite.evaluate._evaluators import parse_evaluators, parse_mapping_overrides
    from promptflow_lite.evaluate._gates import parse_gates

    specs = parse_evaluators(evaluators)
    plan = EvaluationPlan(flow=Path(flow), data=Path(data), evaluators=specs,
                          variants=choose_variants(Path(flow), variants, grid),
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

    def run_name(self, label: str, repeat: int, repeats: int, evaluator: str | None = None,
                 part: int | None = None) -> str:
        """``<session>_<label>[_round<part>][_r<repeat>][_<evaluator>]``, with ``.`` ``=`` ``,`` as ``_``."""
        name = f"{self.session}_{label}{f'_round{part}' if part else ''}{f'_r{repeat}' if repeats > 1 else ''}"
        return re.sub(r"[^\w\-]", "_", f"{name}_{evaluator}" if evaluator else name)

    def run_names(self, plan: EvaluationPlan) -> list[str]:
        """Every run the evaluation makes, in the order it makes them (a halving race: those of its first
        round; which variants run later rounds is decided as it goes)."""
        part = 1 if plan.halving else None
        return [name for label in self.labels for repeat in range(plan.repeats)
                for name in [self.run_name(label, repeat, plan.repeats, part=part)]
                + [self.run_name(label, repeat, plan.repeats, spec.alias, part) for spec in plan.evaluators]]


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
    if plan.budget_lines is not None and (plan.budget_lines < 1 or not plan.halving):
        raise UserError("--budget-lines needs --halving and a positive number of line runs.",
                        hint="e.g. --halving --budget-lines 2000.")
    if plan.slice_by:
        from promptflow_lite.evaluate._slices import check_slice_columns

        check_slice_columns(plan.slice_by, data)
    _load_prices(plan.prices)
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
    execution = _new_execution(client, plan, prepared, echo)
    results = [VariantRuns(label, selector) for label, selector in zip(prepared.labels, plan.variants)]
    declared = {spec.alias: score_outputs(spec.path) for spec in plan.evaluators}
    race = totals = None
    if plan.halving:
        from promptflow_lite.evaluate._rounds import run_race

        race, totals = run_race(execution, results, len(data), prepared.baseline or prepared.labels[0],
                                lambda names: _primary(plan, names), declared)
    else:
        execution.sharing.plan(plan.variants)
        for runs in results:
            execution.run(runs)
    scores, sources = line_scores(results, len(data), declared)
    lower = [resolve_metric(name, list(sources)) for name in plan.lower_is_better]
    report = compare(scores, prepared.baseline, plan.confidence, lower_is_better=lower, n_lines=len(data))
    checks = check(report, plan.gates, plan.fail_if_worse)
    from promptflow_lite.evaluate._analysis import analyse

    primary, higher = _primary(plan, list(sources)) if sources else (None, True)
    analysis = analyse(flow=plan.flow, data=data, variants=results, report=report, scores=scores, primary=primary,
                       higher_is_better=higher, spend=execution.spend, prices=_load_prices(plan.prices),
                       slice_by=plan.slice_by, race=race, race_totals=totals,
                       grid=any(_is_combination(s) for s in plan.variants))
    return EvaluationResult(plan, data, results, report, sources, checks, analysis)


def _new_execution(client, plan: EvaluationPlan, prepared: PreparedEvaluation, echo):
    from promptflow_lite.evaluate._execution import Execution
    from promptflow_lite.evaluate._grid import sharing_keys
    from promptflow_lite.evaluate._node_sharing import SharedNodes
    from promptflow_lite.evaluate._spend import GridCostModel

    keys = sharing_keys(plan.flow, plan.variants)
    return Execution(client, plan, prepared, SharedNodes(keys), GridCostModel(keys), echo)


def _primary(plan: EvaluationPlan, metrics: list[str]) -> tuple[str, bool]:
    """The metric that ranks the variants (``--primary``, else the first) and whether higher is better."""
    if not metrics:
        raise UserError("No evaluator produced a numeric or boolean score, so the variants cannot be ranked.",
                        hint="use an evaluator that returns a number or a boolean per line.")
    metric = resolve_metric(plan.primary, metrics) if plan.primary else metrics[0]
    lower = {resolve_metric(name, metrics) for name in plan.lower_is_better}
    return metric, metric not in lower


def _is_combination(selector: str | None) -> bool:
    from promptflow_lite.evaluate._grid import is_combination

    return is_combination(selector)


def _load_prices(path: Path | None):
    if path is None:
        return None
    from promptflow_lite.evaluate._prices import load_prices

    return load_prices(path)


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
    named = [gate.metric for gate in plan.gates] + list(plan.lower_is_better) + ([plan.primary] if plan.primary else [])
    for name in named:
        resolve_metric(name, outputs)


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
