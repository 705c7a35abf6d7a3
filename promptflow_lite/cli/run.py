"""``pfl run ...``: create, resume and manage batch runs (thin: parse, call ``runs.client``, print)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from promptflow_lite.cli._common import (add_engine_flags, add_name_argument, engine_options, given_name,
                                         parse_key_values, print_json)
from promptflow_lite.runs._progress import format_duration
from promptflow_lite.errors import UserError

ORDER = 20
_EXIT_LINES_FAILED = 1


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="batch runs: run a flow over a dataset, inspect and manage runs")
    commands = run.add_subparsers(dest="run_command", metavar="COMMAND")

    create = commands.add_parser("create", help="run a flow over every line of a dataset")
    create.add_argument("-f", "--file", help="a run.yml (promptflow's run schema); flags override its fields")
    create.add_argument("--flow", help="flow folder, flow.dag.yaml, flow.flex.yaml or .prompty file")
    create.add_argument("--data", help="data file (.jsonl .json .csv .tsv .parquet) or folder of them")
    create.add_argument("--column-mapping", nargs="+", action="extend", metavar="INPUT=VALUE",
                        help="e.g. question='${data.q}' answer='${run.outputs.answer}' (a literal otherwise)")
    create.add_argument("--run", help="base run: lets the mapping use ${run.outputs.x} and ${run.inputs.x}")
    create.add_argument("--variant", help="node variant, e.g. '${summarize.variant_1}'")
    create.add_argument("--resume-from", help="a new run that reuses the completed lines of this run")
    create.add_argument("-n", "--name", help="run name (default: <flow>_<variant>_<timestamp>)")
    create.add_argument("--display-name", help="display name (macros ${variant_id}, ${run}, ${timestamp})")
    create.add_argument("--description")
    create.add_argument("--tags", nargs="+", action="extend", metavar="K=V")
    create.add_argument("--set", dest="set_fields", nargs="+", action="extend", metavar="FIELD=VALUE",
                        help="display_name=... description=... tags.KEY=VALUE (promptflow's --set)")
    create.add_argument("--source", help=argparse.SUPPRESS)
    create.add_argument("--max-concurrency", type=int, metavar="N",
                        help="lines in flight at once (default 64, or env PFL_MAX_CONCURRENCY)")
    create.add_argument("--line-timeout", type=float, metavar="SECONDS", help="per-line timeout (default 600)")
    create.add_argument("--environment-variables", nargs="+", action="extend", metavar="K=V")
    create.add_argument("--connections", nargs="+", action="extend", metavar="NODE.FIELD=VALUE",
                        help="e.g. summarize.connection=my_openai summarize.deployment_name=gpt-4o")
    create.add_argument("--init", nargs="+", action="extend", metavar="K=V|FILE", help="init kwargs of a flex flow")
    create.add_argument("--repeat-index", type=int, default=None, help=argparse.SUPPRESS)
    add_engine_flags(create)
    _execution_flags(create)
    create.add_argument("--no-cache", action="store_true", help="do not answer LLM requests from the response cache")
    create.set_defaults(func=_create)

    resume = commands.add_parser("resume", help="complete a crashed, canceled or partly failed run in place")
    add_name_argument(resume)
    resume.add_argument("--max-concurrency", type=int, metavar="N")
    resume.add_argument("--line-timeout", type=float, metavar="SECONDS")
    resume.add_argument("--environment-variables", nargs="+", action="extend", metavar="K=V",
                        help="values for secret variables, which runs do not store")
    add_engine_flags(resume, default_help="the run's")
    _execution_flags(resume)
    resume.set_defaults(func=_resume)

    listing = commands.add_parser("list", help="list runs, newest first")
    listing.add_argument("--flow", help="only runs of this flow (folder name or path)")
    listing.add_argument("--status", help="only runs with this status (e.g. Completed, CompletedWithErrors)")
    archived = listing.add_mutually_exclusive_group()
    archived.add_argument("--archived", "--archived-only", dest="archived", action="store_true",
                          help="only archived runs")
    archived.add_argument("--include-archived", action="store_true", help="archived runs too")
    listing.add_argument("-r", "--max-results", type=int, default=50, metavar="N")
    listing.add_argument("--all-results", action="store_true", help="every run (no --max-results limit)")
    listing.add_argument("-o", "--output", choices=["table", "json"], default="table")
    listing.set_defaults(func=_list)

    show = commands.add_parser("show", help="a run's record as JSON")
    add_name_argument(show)
    show.set_defaults(func=_show)

    details = commands.add_parser("show-details", help="per-line inputs, outputs, status and errors")
    add_name_argument(details)
    details.add_argument("--failed-only", action="store_true", help="only the lines that failed")
    details.add_argument("-r", "--max-results", type=int, metavar="N", help="at most N lines (default: all)")
    details.add_argument("--all-results", action="store_true", help="every line (the default)")
    details.add_argument("-o", "--output", choices=["table", "json", "csv"], default="table")
    details.set_defaults(func=_show_details)

    metrics = commands.add_parser("show-metrics", help="the metrics logged by the aggregation nodes")
    add_name_argument(metrics)
    metrics.set_defaults(func=_show_metrics)

    visualize = commands.add_parser("visualize", help="write a self-contained HTML report of runs")
    visualize.add_argument("names", nargs="*", metavar="NAME")
    visualize.add_argument("-n", "--name", dest="name_option", help="run names, comma-separated")
    visualize.add_argument("--html-path", help="where to write the report (default: <first run>/visualize.html)")
    visualize.set_defaults(func=_visualize)

    update = commands.add_parser("update", help="change a run's display name, description or tags")
    add_name_argument(update)
    update.add_argument("--set", dest="set_fields", nargs="+", action="extend", required=True,
                        metavar="FIELD=VALUE", help="display_name=... description=... tags.KEY=VALUE")
    update.set_defaults(func=_update)

    stream = commands.add_parser("stream", help="print a run's log and summary (exit 1 if it failed or was canceled)")
    add_name_argument(stream)
    stream.set_defaults(func=_stream)

    for verb, text in (("archive", "hide a run from `pfl run list`"), ("restore", "un-archive a run")):
        command = commands.add_parser(verb, help=text)
        add_name_argument(command)
        command.set_defaults(func=_archive if verb == "archive" else _restore)

    delete = commands.add_parser("delete", help="delete a run's folder and record")
    add_name_argument(delete)
    delete.add_argument("-y", "--yes", "--assume-yes", dest="yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=_delete)

    cancel = commands.add_parser("cancel", help="stop a running run (finished lines are kept)")
    add_name_argument(cancel)
    cancel.set_defaults(func=_cancel)

    from promptflow_lite.cli.compare import register_compare

    register_compare(commands)  # `pfl run compare`: paired statistics between runs (evaluate package)


def _execution_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--stream", action="store_true", help="echo the run log (and tool prints) live")
    parser.add_argument("--allow-failures", action="store_true",
                        help="exit 0 even when some lines failed")


def _run_name(args: argparse.Namespace) -> str:
    return given_name(args, "pfl run show my_run")


def _client():
    from promptflow_lite.runs._client import Client

    return Client()


# create / resume ----------------------------------------------------------------------------
def _create(args: argparse.Namespace) -> int:
    from promptflow_lite.runs._spec import RunSpec, load_run

    if args.file and args.flow:
        raise UserError("--file and --flow cannot be used together.", hint="put flow: in the run.yml, or drop -f.")
    if args.resume_from and (args.flow or args.file):
        raise UserError("--resume-from reuses the old run's flow and data.", hint="drop --flow/--file.")
    if args.source:
        raise UserError("--source registers a run folder made elsewhere; promptflow_lite runs are created here.",
                        file=args.source, hint="copy the whole PFL_HOME, or re-run with --flow/--data "
                                               "(answers come from the LLM cache when they are there).")
    fields = _set_fields(args.set_fields)
    spec = load_run(args.file) if args.file else RunSpec()
    overrides: dict[str, Any] = {
        "flow": args.flow, "data": args.data, "run": args.run, "variant": args.variant, "name": args.name,
        "display_name": args.display_name or fields.get("display_name"),
        "description": args.description or fields.get("description"), "max_concurrency": args.max_concurrency,
        "line_timeout": args.line_timeout, "resume_from": args.resume_from,
        "column_mapping": {**(spec.column_mapping or {}),
                           **parse_key_values(args.column_mapping, "--column-mapping")} or None,
        "tags": {**fields.get("tags", {}), **parse_key_values(args.tags, "--tags")} or None,
        "environment_variables": parse_key_values(args.environment_variables, "--environment-variables") or None,
        "connection_overrides": parse_key_values(args.connections, "--connections") or None,
        "init": _init(args.init), "repeat_index": args.repeat_index, "stream": args.stream or None,
        **engine_options(args),
    }
    spec = spec.merged(**overrides)
    spec.use_cache = not args.no_cache
    client = _client()
    run = client.run(spec)
    return _report(run, args.allow_failures)


def _set_fields(items: list[str] | None) -> dict[str, Any]:
    """promptflow's ``--set display_name=... description=... tags.KEY=VALUE``."""
    fields: dict[str, Any] = {}
    for key, value in parse_key_values(items, "--set").items():
        if key in ("display_name", "description"):
            fields[key] = value
        elif key.startswith("tags."):
            fields.setdefault("tags", {})[key[len("tags."):]] = value
        else:
            raise UserError(f"--set cannot change '{key}'.", hint="set display_name, description or tags.KEY.")
    return fields


def _resume(args: argparse.Namespace) -> int:
    from promptflow_lite.runs import _model as model
    from promptflow_lite.runs._store import RunFolder

    client = _client()
    current = client.runs.get(_run_name(args))
    if current.status == model.COMPLETED and RunFolder(current.output_path).holds_every_line():
        print(f"Run {current.name} is Completed: every line succeeded, so there is nothing to resume.")
        return 0
    run = client.resume(current.name, max_concurrency=args.max_concurrency, line_timeout=args.line_timeout,
                        environment_variables=parse_key_values(args.environment_variables,
                                                               "--environment-variables") or None,
                        stream=args.stream, **engine_options(args))
    return _report(run, args.allow_failures)


def _init(items: list[str] | None) -> dict[str, Any] | None:
    if not items:
        return None
    from promptflow_lite.cli._common import read_init

    return read_init(items)


def _report(run, allow_failures: bool) -> int:
    """Print the summary; the exit code says whether every line succeeded."""
    from promptflow_lite.runs import _model as model
    from promptflow_lite.runs._progress import summary

    print(summary(run))
    if run.status == model.COMPLETED:
        return 0
    if run.status in (model.COMPLETED_WITH_ERRORS, model.FAILED) and run.total_lines and allow_failures:
        return 0
    if run.status == model.FAILED and not run.total_lines:
        message = run.error.get("message") if isinstance(run.error, dict) else run.error
        print(f"Error: the run could not start: {message}", file=sys.stderr)
    elif run.failed_lines:
        print(f"{run.failed_lines} of {run.total_lines} lines failed (see `pfl run show-details {run.name} "
              "--failed-only`); pass --allow-failures to exit 0 anyway.", file=sys.stderr)
    return _EXIT_LINES_FAILED


# inspect ------------------------------------------------------------------------------------
def _list(args: argparse.Namespace) -> int:
    runs = _client().runs.list(flow=args.flow, status=args.status, archived_only=args.archived,
                               include_archived=args.include_archived,
                               max_results=None if args.all_results else args.max_results)
    if args.output == "json":
        print_json([r.to_dict() for r in runs])
        return 0
    rows = [{"name": r.name, "status": r.status, "flow": r.flow_name, "lines": f"{r.completed_lines}/{r.total_lines}",
             "failed": r.failed_lines, "duration": f"{r.duration:.1f}s" if r.duration is not None else "",
             "created": (r.created_on or "")[:19].replace("T", " "),
             "archived": "yes" if r.archived else ""} for r in runs]
    if not rows:
        print("No runs.", file=sys.stderr)
        return 0
    print(_table(rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    print_json(_client().runs.get(_run_name(args)).to_dict())
    return 0


def _show_details(args: argparse.Namespace) -> int:
    from promptflow_lite.runs._details import detail_rows
    from promptflow_lite.runs._store import RunFolder

    run = _client().runs.get(_run_name(args))
    rows = detail_rows(RunFolder(run.output_path), failed_only=args.failed_only,
                       max_results=None if args.all_results else args.max_results)
    if args.output == "json":
        print_json(rows)
    elif args.output == "csv":
        _write_csv(rows)
    elif rows:
        print(_table([{k: format_duration(v) if k == "duration" else _cell(v) for k, v in row.items()
                       if k != "trace_id"} for row in rows]))
    else:
        print("No failed lines." if args.failed_only else "No lines.", file=sys.stderr)
    return 0


def _show_metrics(args: argparse.Namespace) -> int:
    print_json(_client().get_metrics(_run_name(args)))
    return 0


def _visualize(args: argparse.Namespace) -> int:
    names = list(args.names) + [n for n in (args.name_option or "").split(",") if n]
    if not names:
        raise UserError("No run name given.", hint="e.g. `pfl run visualize run_a run_b --html-path report.html`.")
    from promptflow_lite.runs._visualize import shown_path

    path = _client().visualize(names, args.html_path)
    print(f"Report written to {shown_path(path)}")
    return 0


# manage -------------------------------------------------------------------------------------
def _update(args: argparse.Namespace) -> int:
    fields = _set_fields(args.set_fields)
    run = _client().runs.update(_run_name(args), **fields)
    print_json(run.to_dict())
    return 0


def _stream(args: argparse.Namespace) -> int:
    from promptflow_lite.runs import _model as model

    run = _client().stream(_run_name(args), raise_on_error=False)
    return 0 if run.status not in (model.FAILED, model.CANCELED) else 1


def _archive(args: argparse.Namespace) -> int:
    run = _client().runs.archive(_run_name(args))
    print(f"Archived run {run.name}.")
    return 0


def _restore(args: argparse.Namespace) -> int:
    run = _client().runs.restore(_run_name(args))
    print(f"Restored run {run.name}.")
    return 0


def _delete(args: argparse.Namespace) -> int:
    name = _run_name(args)
    client = _client()
    client.runs.get(name)  # a clear error for an unknown name before asking
    if not args.yes:
        try:
            answer = input(f"Delete run '{name}' and its folder? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("Not deleted.", file=sys.stderr)
            return 1
    client.runs.delete(name)
    print(f"Deleted run {name}.")
    return 0


def _cancel(args: argparse.Namespace) -> int:
    run = _client().runs.cancel(_run_name(args))
    if run.status in ("Running", "Preparing"):
        print(f"Cancel requested for run {run.name}; it stops after the lines in flight.")
    else:
        print(f"Run {run.name} is {run.status}.")
    return 0


# output helpers -------------------------------------------------------------------------------
def _cell(value: Any, width: int = 40) -> str:
    text = value if isinstance(value, str) else ("" if value is None else json.dumps(value, ensure_ascii=False,
                                                                                    default=str))
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: list[dict[str, Any]]) -> str:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    cells = [[str(row.get(c, "")) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _write_csv(rows: list[dict[str, Any]]) -> None:
    import csv

    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: v if isinstance(v, str) or v is None else json.dumps(v, ensure_ascii=False, default=str)
                         for k, v in row.items()})
