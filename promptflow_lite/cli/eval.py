"""``pfl eval``: run every variant of a flow, score each with evaluators, and say which is better."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from promptflow_lite.cli._common import add_engine_flags, engine_options, parse_key_values

ORDER = 30

EPILOG = """\
EVALUATOR: a built-in name (exact_match f1_score rouge bleu contains regex json_valid embedding_similarity
groundedness relevance coherence fluency similarity) or the path of an evaluation flow; parameters follow a
colon: --evaluator contains:substring=Paris,case_sensitive=true; rename with NAME=: --evaluator acc=exact_match.
Evaluator inputs map from the flow's outputs of the same name, then the data columns (answer also from the
flow's only output); override with --evaluator-mapping f1_score.answer='${run.outputs.text}'.

GRID: --grid evaluates every combination of the variants of every node that has variants (node A x node B x
...), labelled summarize=variant_1,answer=variant_0; --variants 'summarize.*,answer.*' picks the nodes (and
'answer.v1,answer.v2' single variants). The baseline is the flow's defaults. Nodes upstream of a variant node
run once per line, not once per combination. --halving races the variants: all on a small sample, drop those
a paired test finds worse than the leader, double the sample, until the full data (--budget-lines caps the
line runs). --slice-by COLUMN breaks every metric down by a data column and flags slices that reverse a
verdict; --prices FILE turns tokens into cost (per model, per 1k tokens).

examples:
  pfl eval --flow flows/qa --data qa.jsonl --evaluator exact_match f1_score --fail-under exact_match=0.8 \\
           --report report.html --json result.json --junit junit.xml
  pfl eval --flow flows/rag --data qa.jsonl -e exact_match --grid --halving --slice-by topic --prices prices.yaml
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "eval", help="evaluate a flow's variants with evaluators and compare them with statistics",
        description="Run each chosen variant of a flow over the data (optionally several times), run every\n"
                    "evaluator on each run, and print per variant and metric the mean with a confidence interval\n"
                    "and, against the baseline, the paired difference with its interval, p-value and verdict.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flow", required=True, help="flow folder or file")
    parser.add_argument("--data", required=True, help="data file (.jsonl .json .csv .tsv .parquet) or folder")
    parser.add_argument("--evaluator", "-e", dest="evaluators", nargs="+", action="extend", required=True,
                        metavar="EVALUATOR", help="[ALIAS=]NAME_OR_PATH[:k=v,...]: evaluator(s) to run on every run")
    parser.add_argument("--variants", default="all", metavar="all|ID,...",
                        help="variants to evaluate: all (default), e.g. variant_0,variant_1; NODE.* makes a grid")
    parser.add_argument("--grid", action="store_true",
                        help="evaluate every combination of the chosen nodes' variants (default: all variant nodes)")
    parser.add_argument("--baseline", metavar="ID",
                        help="variant the others are compared with (default: the flow's defaults, else the first)")
    parser.add_argument("--primary", metavar="METRIC",
                        help="the metric that ranks variants for --halving, the best and the Pareto front "
                             "(default: the first)")
    parser.add_argument("--halving", action="store_true",
                        help="successive halving: drop variants a paired test finds worse on growing samples")
    parser.add_argument("--budget-lines", type=int, metavar="N",
                        help="with --halving: at most N line runs in all (one variant on one line, per repeat)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the --halving samples (0)")
    parser.add_argument("--slice-by", nargs="+", action="extend", default=[], metavar="COLUMN",
                        help="break every metric down by a data column (or ${data.COLUMN})")
    parser.add_argument("--prices", metavar="YAML",
                        help="price table: models: {NAME: {prompt: P, completion: C}} per 1k tokens")
    parser.add_argument("--column-mapping", nargs="+", action="extend", metavar="INPUT=VALUE",
                        help="flow input mapping, e.g. question='${data.q}'")
    parser.add_argument("--evaluator-mapping", nargs="+", action="extend", metavar="EVALUATOR.INPUT=VALUE",
                        help="e.g. f1_score.answer='${run.outputs.text}' or f1_score.ground_truth='${data.truth}'")
    parser.add_argument("--repeats", type=int, default=1, metavar="R",
                        help="run each variant R times (separate LLM samples) and report per-line consistency")
    parser.add_argument("--confidence", type=float, default=0.95, help="confidence level of intervals (0.95)")
    parser.add_argument("--lower-is-better", nargs="+", action="extend", default=[], metavar="METRIC",
                        help="metrics where a decrease is an improvement")
    parser.add_argument("--fail-under", nargs="+", action="extend", metavar="METRIC=VALUE",
                        help="exit 1 when a variant's mean of METRIC is below VALUE (gate on the mean over lines)")
    parser.add_argument("--fail-if-worse", action="store_true",
                        help="exit 1 when a variant is significantly worse than the baseline on a metric")
    parser.add_argument("--report", metavar="HTML", help="write a self-contained HTML report")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML (one testcase per variant and metric)")
    parser.add_argument("--max-concurrency", type=int, metavar="N", help="lines in flight at once per run")
    parser.add_argument("--no-cache", action="store_true", help="do not answer LLM requests from the response cache")
    parser.add_argument("--connections", nargs="+", action="extend", metavar="[EVALUATOR.]NODE.FIELD=VALUE",
                        help="e.g. classify.connection=my_openai judge.connection=judge_conn")
    parser.add_argument("--environment-variables", nargs="+", action="extend", metavar="K=V")
    parser.add_argument("--name", metavar="NAME",
                        help="prefix of the run names: NAME_<variant>[_<evaluator>] (default: <flow>_eval_<time>)")
    add_engine_flags(parser)
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the table")
    parser.add_argument("--explain", action="store_true", help="also say how the statistics are computed")
    parser.set_defaults(func=_eval)


def _eval(args: argparse.Namespace) -> int:
    from promptflow_lite.evaluate import _gates as gates
    from promptflow_lite.evaluate._evaluators import parse_evaluators, parse_mapping_overrides
    from promptflow_lite.evaluate._session import EvaluationPlan, choose_variants, run_evaluation
    from promptflow_lite.evaluate._analysis_text import format_analysis
    from promptflow_lite.evaluate._explain import evaluation_text

    specs = parse_evaluators(args.evaluators)
    plan = EvaluationPlan(
        flow=Path(args.flow), data=Path(args.data), evaluators=specs,
        variants=choose_variants(Path(args.flow), args.variants, args.grid), baseline=args.baseline,
        column_mapping=parse_key_values(args.column_mapping, "--column-mapping") or None,
        evaluator_mapping=parse_mapping_overrides(args.evaluator_mapping, specs), repeats=args.repeats,
        connection_overrides=parse_key_values(args.connections, "--connections") or None,
        environment_variables=parse_key_values(args.environment_variables, "--environment-variables") or None,
        max_concurrency=args.max_concurrency, use_cache=not args.no_cache, confidence=args.confidence,
        lower_is_better=args.lower_is_better, gates=gates.parse_gates(args.fail_under),
        fail_if_worse=args.fail_if_worse, name=args.name, primary=args.primary, halving=args.halving,
        budget_lines=args.budget_lines, seed=args.seed, slice_by=args.slice_by,
        prices=Path(args.prices) if args.prices else None)
    echo = (lambda message: None) if args.quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    result = run_evaluation(plan, client=_client(args), echo=echo)
    print(evaluation_text(result, explain=args.explain))
    sections = format_analysis(result)
    if sections:
        print("\n" + sections)
    _write_outputs(args, result, echo)
    failed = [c for c in result.checks if not c.passed]
    for item in failed:
        print(f"FAILED {item.variant} {item.metric}: {'; '.join(item.failures)}", file=sys.stderr)
    if plan.gates or plan.fail_if_worse:
        print(f"{len(result.checks) - len(failed)} of {len(result.checks)} checks passed.", file=sys.stderr)
    return 0 if result.passed else 1


def _client(args: argparse.Namespace):
    """The client every run of the evaluation goes through (on the chosen engine)."""
    from promptflow_lite.runs import Client

    return Client(**engine_options(args))


def _write_outputs(args: argparse.Namespace, result, echo) -> None:
    if args.report:
        from promptflow_lite.evaluate._report_html import render_report

        _write(args.report, render_report(result), echo, "HTML report")
    if args.json:
        import json

        from promptflow_lite.evaluate._export import result_json

        _write(args.json, json.dumps(result_json(result), indent=2, ensure_ascii=False) + "\n", echo, "JSON")
    if args.junit:
        from promptflow_lite.evaluate._junit import junit_xml

        _write(args.junit, junit_xml(result.report, result.checks), echo, "JUnit XML")


def _write(path: str, text: str, echo, what: str) -> None:
    from promptflow_lite.masking import mask_secrets

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(mask_secrets(text), encoding="utf-8")
    echo(f"{what} written to {target}")
