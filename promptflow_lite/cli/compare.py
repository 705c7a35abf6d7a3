"""``pfl run compare RUN_A RUN_B [...]``: paired statistics between existing runs over the same data.

Hooked into the ``pfl run`` group by :func:`register_compare` (called from ``cli/run.py``).
"""

from __future__ import annotations

import argparse


def register_compare(run_commands: argparse._SubParsersAction) -> None:
    """Add ``compare`` to the subcommands of ``pfl run``."""
    parser = run_commands.add_parser(
        "compare", help="compare runs over the same data: means with CIs, paired differences, verdicts",
        description="Compare runs line by line on a metric column: a numeric or boolean output of the runs, or of "
                    "the evaluation runs made over them (named EVALUATION_FLOW.COLUMN, e.g. exact_match.passed). "
                    "The first run is the baseline.")
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run names (at least two)")
    parser.add_argument("--metric", "-m", dest="metrics", nargs="+", action="extend", default=[], metavar="COLUMN",
                        help="columns to compare (default: every numeric/boolean column all runs have)")
    parser.add_argument("--baseline", metavar="RUN", help="the run the others are compared with (default: the first)")
    parser.add_argument("--lower-is-better", nargs="+", action="extend", default=[], metavar="COLUMN",
                        help="columns where a decrease is an improvement (e.g. latency)")
    parser.add_argument("--confidence", type=float, default=0.95, help="confidence level of intervals (0.95)")
    parser.add_argument("-o", "--output", choices=["table", "json"], default="table")
    parser.add_argument("--explain", action="store_true", help="also say how the statistics are computed")
    parser.set_defaults(func=_compare)


def _compare(args: argparse.Namespace) -> int:
    from promptflow_lite.evaluate._run_compare import compare_runs
    from promptflow_lite.runs._client import Client

    report = compare_runs(Client(), args.runs, args.metrics, args.baseline, args.confidence, args.lower_is_better)
    if args.output == "json":
        from promptflow_lite.cli._common import print_json

        print_json(report.to_dict())
    else:
        from promptflow_lite.evaluate._explain import format_report

        print(format_report(report, explain=args.explain))
    return 0
