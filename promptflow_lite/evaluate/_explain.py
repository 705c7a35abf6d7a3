"""The words around ``pfl eval``'s table: what each variant and metric is, one plain sentence per verdict,
the metrics the evaluators logged themselves, and (``--explain``) how the statistics are computed."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptflow_lite.evaluate._text_table import align, comparison_rows, format_number

if TYPE_CHECKING:  # the report's own __str__ uses this module
    from promptflow_lite.evaluate._comparison import ComparisonReport, PairedResult

WIDTH = 110


def variant_descriptions(flow: Path, variants: list[tuple[str, str | None]]) -> dict[str, str]:
    """Label → the ``description`` its ``node_variants`` entries give (``variants`` = (label, selector) pairs;
    a grid combination's selector names several nodes: ``node: description`` each, joined by ``; ``)."""
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path
    from promptflow_lite.flow._variants import parse_variants

    file, _ = resolve_flow_path(flow)
    if flow_kind(file) != "dag":
        return {}
    spec = load_dag(file)
    found = {}
    for label, selector in variants:
        chosen = parse_variants(selector) if selector else {}
        described = {node: text for node, variant_id in chosen.items()
                     if (text := _variant_description(spec, node, variant_id))}
        if len(chosen) == 1 and described:
            found[label] = next(iter(described.values()))
        elif described:
            found[label] = "; ".join(f"{node}: {text}" for node, text in described.items())
    return found


def _variant_description(spec: Any, node: str, variant_id: str) -> str | None:
    entry = spec.node_variants.get(node)
    variant = entry.variants.get(variant_id) if entry else None
    return variant.description if variant is not None else None


def metric_descriptions(evaluators: dict[str, Path], metrics: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Metric → the ``description`` of the evaluator output it comes from (``metrics``: metric → (alias, column))."""
    from promptflow_lite.flow._loader import flow_kind, load_dag, resolve_flow_path

    outputs: dict[str, dict[str, Any]] = {}
    for alias, path in evaluators.items():
        try:
            file, _ = resolve_flow_path(path)
            outputs[alias] = load_dag(file).outputs if flow_kind(file) == "dag" else {}
        except Exception:  # noqa: BLE001 - a description is a nicety; the evaluation already ran
            outputs[alias] = {}
    found = {}
    for metric, (alias, column) in metrics.items():
        output = outputs.get(alias, {}).get(column)
        if output is not None and output.description:
            pass_fail = getattr(output.type, "value", output.type) == "bool"
            found[metric] = (f"share of lines where {output.description}" if pass_fail
                             else f"{output.description} (averaged over lines)")
    return found


def legend(report: ComparisonReport, variants: dict[str, str], metrics: dict[str, str]) -> list[str]:
    """Lines saying what each variant and metric is (only those with a description)."""
    lines = []
    for label in report.variants:
        if label in variants:
            lines.append(f"  {label}: {variants[label]}")
    for metric in report.metrics:
        if metric in metrics:
            lines.append(f"  {metric}: {metrics[metric]}")
    return lines


def verdict_sentence(report: ComparisonReport, pair: PairedResult) -> str:
    """One plain sentence: which variant did better on the metric, by how much, and how sure we are."""
    c = pair.comparison
    rate = _is_pass_rate(report, pair.metric)
    sure = f"{report.confidence:.0%}"
    if math.isnan(c.diff_mean):
        return f"{pair.metric}: {pair.variant} cannot be compared with {pair.baseline} ({c.note or 'no paired lines'})."
    size = _difference(abs(c.diff_mean), rate)
    span = f"{_difference(c.low, rate, signed=True)} and {_difference(c.high, rate, signed=True)}"
    means = (f" ({_level(c.mean_a, rate)} → {_level(c.mean_b, rate)})"
             if not (math.isnan(c.mean_a) or math.isnan(c.mean_b)) else "")
    direction = "more often" if rate else "higher"
    if c.diff_mean < 0:
        direction = "less often" if rate else "lower"
    what = ("passes" if rate else "scores") + f" {size} {direction} than {pair.baseline}{means}"
    if c.verdict in ("better", "worse"):
        alpha = 1 - report.confidence
        caveat = (f" With {len(report.paired)} comparisons in this table, though, this one could still be chance "
                  f"(p_holm {pair.p_holm:.3f} is not below {alpha:.2g})."
                  if len(report.paired) > 1 and not math.isnan(pair.p_holm) and pair.p_holm >= alpha else "")
        return (f"{pair.metric}: {pair.variant} is {c.verdict} than {pair.baseline}: it {what}; with {sure} "
                f"confidence the true difference is between {span}.{caveat}")
    return (f"{pair.metric}: no clear winner: {pair.variant} {what}, but the difference could be anywhere between "
            f"{span} ({sure} confidence), so it may be chance; more lines would tell.")


def verdicts(report: ComparisonReport) -> list[str]:
    return [verdict_sentence(report, report.paired[key]) for key in report.paired]


def logged_metrics_table(variants: list[Any]) -> str | None:
    """The metrics each evaluator's aggregation logged (first repeat), as a metric x variant table."""
    names: dict[str, None] = {}
    for runs in variants:
        for alias, metrics in runs.metrics.items():
            names.update(dict.fromkeys(f"{alias}.{key}" for key in metrics))
    if not names:
        return None
    rows = []
    for name in names:
        alias, _, key = name.partition(".")
        rows.append([name] + [_cell(runs.metrics.get(alias, {}).get(key)) for runs in variants])
    return align(["logged metric", *[runs.label for runs in variants]], rows)


def reading_note(report: ComparisonReport, explain_hint: bool = True) -> str:
    """The short footnote under the table (``explain_hint``: pointing at ``--explain``, for the terminal)."""
    level = f"{report.confidence:.0%}"
    note = (f"mean = average over the lines; {level} CI = the range the true mean is in, with {level} confidence.")
    if report.baseline is not None:
        note += (f" diff = variant minus baseline, compared line by line; a verdict (better/worse) needs the diff's "
                 f"{level} CI to exclude 0 and p (the chance of a difference this large if the variants were "
                 f"equal) below {1 - report.confidence:.2g}.")
    return note + (" `--explain` says how these are computed." if explain_hint else "")


def glossary(report: ComparisonReport) -> list[str]:
    """``--explain``: the methods behind each column."""
    alpha = f"{1 - report.confidence:.2g}"
    found = ["Pass rates (pass/fail metrics): the CI is a Wilson score interval; scores: a bootstrap BCa interval "
             "(resampling the lines, bias-corrected and accelerated)."]
    if report.baseline is not None:
        found.append("Differences are paired by line: pass/fail metrics use Newcombe's interval for paired "
                     "proportions and McNemar's exact test (only lines where the variants disagree count); scores "
                     "use a bootstrap interval of the mean difference and a sign-flip permutation test.")
        if len(report.paired) > 1:
            found.append(f"p_holm: Holm's correction of p for the {len(report.paired)} comparisons in the table; "
                         f"trust a verdict whose p_holm is also below {alpha}.")
    if report.repeats > 1:
        found.append("consistency = mean share of a line's repeats that agree with its most common score; flaky = "
                     "lines whose repeats disagree; pass^k / pass@k = share of lines that passed in every repeat / in "
                     "at least one.")
    return found


def format_report(report: ComparisonReport, *, legend_lines: list[str] | tuple = (), logged: str | None = None,
                  explain: bool = False) -> str:
    """The whole text: title, what the variants and metrics are, the table, one sentence per verdict, the
    metrics evaluators logged, and how to read it (``explain``: the methods too)."""
    count = len(report.variants)
    title = (f"{count} variant{'s' if count != 1 else ''} on {report.n_lines} lines"
             + (f", {report.repeats} repeats each" if report.repeats > 1 else "")
             + (f"; baseline: {report.baseline}" if report.baseline else ""))
    parts = [title, *legend_lines]
    if not report.metrics:
        return "\n".join(parts + ["", "No metric: the evaluators produced no numeric or boolean per-line output."])
    header, rows = comparison_rows(report)
    parts += ["", align(header, rows)]
    sentences = verdicts(report)
    if sentences:
        parts += ["", "Verdicts:"] + [wrap(sentence, "  ") for sentence in sentences]
    if logged:
        parts += ["", logged]
    parts += ["", wrap(reading_note(report))]
    if explain:
        parts += ["", "How the statistics are computed:"] + [wrap(note, "  ") for note in glossary(report)]
    return "\n".join(parts)


def wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, width=WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def _is_pass_rate(report: ComparisonReport, metric: str) -> bool:
    summaries = [report.summary(v, metric) for v in report.variants]
    return any(s is not None and s.estimate.method == "wilson" for s in summaries)


def _level(value: float, rate: bool) -> str:
    """A mean: ``85%`` for a pass rate, else ``0.850``."""
    return f"{value * 100:.0f}%" if rate else format_number(value)


def _difference(value: float, rate: bool, signed: bool = False) -> str:
    """A difference: ``15 points`` / ``+3 points`` for pass rates, else ``0.150`` / ``+0.032``."""
    if rate:
        return f"{value * 100:{'+' if signed else ''}.0f} points"
    return format_number(value, signed=signed)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def evaluation_text(result: Any, explain: bool = False) -> str:
    """``pfl eval``'s output for an ``EvaluationResult``: the report with its variants, metrics and logged metrics."""
    plan = result.plan
    variant_notes = variant_descriptions(plan.flow, [(runs.label, runs.selector) for runs in result.variants])
    metric_notes = metric_descriptions({spec.alias: spec.path for spec in plan.evaluators}, result.metric_sources)
    return format_report(result.report, legend_lines=legend(result.report, variant_notes, metric_notes),
                         logged=logged_metrics_table(result.variants), explain=explain)
