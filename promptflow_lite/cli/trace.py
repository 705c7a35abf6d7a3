"""``pfl trace list | show | delete | prune``: read and tidy the local trace store."""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from typing import Any

from promptflow_lite.cli._common import print_json
from promptflow_lite.runs._progress import format_duration
from promptflow_lite.errors import UserError

ORDER = 50


def register(sub: argparse._SubParsersAction) -> None:
    trace = sub.add_parser("trace", help="list, show and delete traces of flow runs")
    commands = trace.add_subparsers(dest="trace_command", metavar="COMMAND")

    listing = commands.add_parser("list", help="list traces (one per flow line), newest first")
    listing.add_argument("--run", help="only lines of this batch run")
    listing.add_argument("--flow", help="only this flow (by name)")
    listing.add_argument("--status", help="Completed or Failed")
    listing.add_argument("--since", help="started within an age (30m, 1h, 7d) or since a date (2026-11-01)")
    listing.add_argument("--max-results", type=int, default=50, help="at most this many traces (default 50)")
    listing.add_argument("--offset", type=int, default=0, help="skip this many of the newest (the next page)")
    listing.add_argument("--output", "-o", choices=["table", "json"], default="table")
    listing.set_defaults(func=_list)

    show = commands.add_parser("show", help="show one trace as a span tree")
    show.add_argument("trace_id", nargs="?", metavar="TRACE_ID", help="trace id (or a unique prefix of 8+ digits)")
    show.add_argument("--run", help="instead of TRACE_ID: the trace of a line of this batch run")
    show.add_argument("--line", type=int, default=0, help="with --run: the line number (default 0)")
    show.add_argument("--output", "-o", choices=["tree", "json"], default="tree")
    show.set_defaults(func=_show)

    delete = commands.add_parser("delete", help="delete the traces of a run or collection, or old traces")
    which = delete.add_mutually_exclusive_group()
    which.add_argument("--run", help="delete the traces of this batch run")
    which.add_argument("--collection", help="delete the traces of this collection (`flow test --collection`, "
                                            "else the flow's name)")
    delete.add_argument("--older-than", "--started-before", dest="older_than",
                        help="only traces started before an age (7d, 12h) or a date (ISO 8601)")
    delete.add_argument("-y", "--yes", "--assume-yes", dest="yes", action="store_true",
                        help="no confirmation (none is asked)")
    delete.set_defaults(func=_delete)

    prune = commands.add_parser("prune", help="delete the oldest traces down to a size or age cap",
                                description="Delete the oldest traces until the store is within the caps given "
                                            "(default: the settings trace.max_size_mb / trace.max_age_days, see "
                                            "`pfl config show`), then give the space back to the disk. Traces of "
                                            "a run in progress are kept.")
    prune.add_argument("--max-size-mb", type=_positive, help="keep the store within this many MB")
    prune.add_argument("--max-age-days", type=_positive, help="delete traces started more than this many days ago")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    prune.set_defaults(func=_prune)

    trace.set_defaults(func=lambda args: trace.print_help())


def _list(args: argparse.Namespace) -> int:
    from promptflow_lite.tracing._query import list_traces

    filters = {"run": args.run, "flow": args.flow, "status": args.status, "since": args.since}
    traces = list_traces(**filters, limit=args.max_results, offset=args.offset)
    if args.output == "json":
        print_json(traces)
        return 0
    if not traces:
        print("No traces found.")
        return 0
    header = ("TRACE_ID", "FLOW", "RUN", "LINE", "STATUS", "DURATION", "TOKENS", "STARTED")
    rows = [(t["trace_id"], t["flow"] or "", t["run"] or "", _text(t["line_number"]), t["status"] or "",
             format_duration(t["duration"]), _text(t["total_tokens"]), _when(t["start_time"])) for t in traces]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(value).ljust(width) for value, width in zip(row, widths)).rstrip())
    if args.max_results and (args.offset or len(traces) == args.max_results):
        from promptflow_lite.tracing._query import count_traces

        total, last = count_traces(**filters), args.offset + len(traces)
        more = f"; the next: --offset {last}" if last < total else ""
        print(f"Traces {args.offset + 1:,}-{last:,} of {total:,}, newest first{more}.")
    return 0


def _show(args: argparse.Namespace) -> int:
    from promptflow_lite.tracing._query import get_trace

    trace = get_trace(_trace_id(args))
    if args.output == "json":  # the raw spans, depth first, each with its parent_id
        print_json({**trace, "spans": list(_flatten(trace["spans"]))})
        return 0
    line = trace["line_run"] or {}
    summary = [f"Trace {trace['trace_id']}"]
    if line.get("run"):
        summary.append(f"run {line['run']} line {line.get('line_number')}")
    print(" · ".join(summary))
    for root in trace["spans"]:
        _print_span(root, "", True, top=True)
    for evaluation in trace["evaluations"]:
        print(f"evaluated by {evaluation['run']} line {evaluation['line_number']}: {evaluation['status']} "
              f"(trace {evaluation['trace_id']})")
    return 0


def _trace_id(args: argparse.Namespace) -> str:
    """TRACE_ID, or the trace of line ``--line`` of run ``--run``."""
    if args.trace_id:
        return args.trace_id
    if not args.run:
        raise UserError("Say which trace to show.", hint="pass TRACE_ID (see `pfl trace list`) or --run RUN --line N.")
    from promptflow_lite.tracing._query import list_traces

    for trace in list_traces(run=args.run, line=args.line, limit=1):
        return trace["trace_id"]
    raise UserError(f"No trace of line {args.line} of run '{args.run}'.",
                    hint=f"see `pfl trace list --run {args.run}` (runs are traced unless PFL_TRACING=off).")


def _delete(args: argparse.Namespace) -> int:
    from promptflow_lite.tracing._query import delete_traces

    if not (args.run or args.collection or args.older_than):
        raise UserError("Say which traces to delete.", hint="pass --run RUN, --collection NAME or --older-than 7d.")
    count = delete_traces(run=args.run, older_than=args.older_than, collection=args.collection)
    print(f"Deleted {count} trace{'s' if count != 1 else ''}.")
    return 0


def _prune(args: argparse.Namespace) -> int:
    from promptflow_lite.tracing._query import prune_traces

    done = prune_traces(args.max_size_mb, args.max_age_days, dry_run=args.dry_run)
    count, until = done["traces"], _when(done["until"]) if done["until"] else None
    what = f"{count:,} trace{'s' if count != 1 else ''}" + (f" (started up to {until})" if count and until else "")
    if args.dry_run:
        print(f"Would delete {what}; the store holds {_mb(done['bytes_before'])} of data "
              f"({_mb(done['file_bytes'])} on disk).")
    else:
        print(f"Deleted {what}; the store holds {_mb(done['bytes_after'])} of data "
              f"({_mb(done['file_bytes'])} on disk, was {_mb(done['bytes_before'])} of data).")
    return 0


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number")
    return value


def _mb(size: int) -> str:
    return f"{size / 2**20:,.1f} MB"


def _flatten(spans: list[dict[str, Any]]):
    for span in spans:
        yield {key: value for key, value in span.items() if key != "children"}
        yield from _flatten(span["children"])


def _print_span(span: dict[str, Any], prefix: str, last: bool, top: bool = False) -> None:
    branch = "" if top else ("└─ " if last else "├─ ")
    print(f"{prefix}{branch}{_describe(span)}")
    children = span["children"]
    inner = prefix + ("" if top else ("   " if last else "│  "))
    for index, child in enumerate(children):
        _print_span(child, inner, index == len(children) - 1)


def _describe(span: dict[str, Any]) -> str:
    attributes = span["attributes"]
    status = {"OK": "✓", "ERROR": "✗"}.get(span["status"], "·")
    parts = [f"{status} {span['name']} [{span['span_type'] or 'span'}]", format_duration(span["duration"])]
    model = attributes.get("gen_ai.response.model") or attributes.get("gen_ai.request.model")
    if model:
        parts.append(f"model {model}")
    total = attributes.get("__computed__.cumulative_token_count.total")
    if total:
        prompt = attributes.get("__computed__.cumulative_token_count.prompt", 0)
        completion = attributes.get("__computed__.cumulative_token_count.completion", 0)
        estimated = ", estimated" if attributes.get("llm.usage.estimated") else ""
        parts.append(f"{total} tokens ({prompt} prompt + {completion} completion{estimated})")
    if attributes.get("cached"):
        parts.append("cached")
    if span["status"] == "ERROR" and span["status_message"]:
        parts.append(span["status_message"].splitlines()[0][:200])
    return " · ".join(parts)


def _when(epoch: float | None) -> str:
    if not epoch:
        return "-"
    moment = datetime.fromtimestamp(epoch)
    return moment.strftime("%H:%M:%S" if time.time() - epoch < 86400 else "%Y-%m-%d %H:%M")


def _text(value: Any) -> str:
    return "" if value is None else str(value)
