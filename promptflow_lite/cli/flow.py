"""``pfl flow test | validate``: run one line of a flow, or check it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from promptflow_lite._gc import start_up
from promptflow_lite.cli._common import parse_key_values, print_json, read_init
from promptflow_lite.cli.serve import register_build, register_serve
from promptflow_lite.errors import UserError

ORDER = 10


def register(sub: argparse._SubParsersAction) -> None:
    flow = sub.add_parser("flow", help="create, test, validate, serve and build flows")
    commands = flow.add_subparsers(dest="flow_command", metavar="COMMAND")

    test = commands.add_parser("test", help="run one line of a flow (or one node) and print its outputs")
    test.add_argument("--flow", required=True, help="flow folder, flow.dag.yaml, flow.flex.yaml or .prompty file")
    test.add_argument("--inputs", nargs="*", default=[], metavar="K=V|FILE",
                      help="flow inputs, or a .json file (the first line of a .jsonl) holding them")
    test.add_argument("--inputs-file", "--input", dest="inputs_file", help="JSON object (or first line of a JSONL file)")
    test.add_argument("--node", help="run only this node")
    test.add_argument("--variant", help="node variant, e.g. '${summarize.variant_1}'")
    test.add_argument("--output", "-o", choices=["json", "text"], default="text", help="output format")
    test.add_argument("--interactive", action="store_true",
                      help="chat with a chat flow in the terminal (--verbose also prints every node's output)")
    test.add_argument("--ui", action="store_true", help="chat with the flow in the browser (the `pfl ui` app)")
    test.add_argument("--environment-variables", nargs="*", default=[], metavar="K=V")
    test.add_argument("--init", nargs="*", default=[], metavar="K=V|FILE", help="init kwargs of a flex flow class")
    test.add_argument("--stream", action="store_true", help="stream LLM output (text mode)")
    test.add_argument("--collection", help="group the trace under this name (default: the flow's name); "
                                           "OTLP viewers such as Phoenix show it as the project")
    test.set_defaults(func=_test)

    validate = commands.add_parser("validate", help="check a flow and report every problem")
    validate.add_argument("--source", "--flow", dest="source", required=True, help="flow folder or file")
    validate.add_argument("--output", "-o", choices=["json", "text"], default="text")
    validate.add_argument("--init", nargs="*", default=[], metavar="K=V|FILE",
                          help="init kwargs of a flex flow class to check too (nothing is instantiated)")
    validate.set_defaults(func=_validate)

    init = commands.add_parser("init", help="create a new flow from a template (standard, chat, evaluation)")
    init.add_argument("--flow", required=True, help="folder to create the flow in (created if needed)")
    init.add_argument("--type", dest="flow_type", choices=["standard", "chat", "evaluation"], default="standard",
                      help="template (standard)")
    init.add_argument("--connection", help="chat flows: the LLM connection name (open_ai_connection)")
    init.add_argument("--deployment", help="chat flows: the model / deployment name (gpt-4o-mini)")
    init.add_argument("--entry", help="wrap this existing Python file's --function as a flow (in --flow)")
    init.add_argument("--function", help="with --entry: the function the flow calls")
    init.add_argument("--prompt-template", nargs="+", default=[], metavar="PARAM=FILE",
                      help="with --entry: render FILE (Jinja) in a prompt node and pass it as PARAM")
    init.add_argument("--yes", "-y", "--assume-yes", dest="yes", action="store_true",
                      help="accepted for promptflow compatibility")
    init.set_defaults(func=_init)

    register_serve(commands)
    register_build(commands)


def read_inputs(pairs: list[str], file: str | None) -> dict[str, Any]:
    """Inputs from ``--inputs-file`` (JSON object, or the first line of a JSONL) then ``--inputs k=v``;
    ``--inputs FILE`` (one value without ``=``) is a file too, as promptflow's ``--inputs inputs.json``."""
    from promptflow_lite.runs._operations import read_test_inputs

    if len(pairs) == 1 and "=" not in pairs[0] and file is None:
        file, pairs = pairs[0], []
    inputs = read_test_inputs(file) if file else {}
    inputs.update(parse_key_values(pairs, "--inputs"))
    return inputs


def _test(args: argparse.Namespace) -> int:
    inputs = read_inputs(args.inputs, args.inputs_file)
    env = parse_key_values(args.environment_variables, "--environment-variables")
    if args.ui:
        return _open_ui(args.flow)
    if args.interactive:
        from promptflow_lite.cli._chat import chat_loop

        return chat_loop(args.flow, variant=args.variant, environment_variables=env, init=read_init(args.init),
                         verbose=getattr(args, "verbose", False))
    with start_up():  # imports and the flow's loading: what they make lives on, the line runs after
        from promptflow_lite.engine._flow_test import run_loaded_flow_test
        from promptflow_lite.engine._load import load_flow
        from promptflow_lite.tracing import enable_tracing, flush_tracing

        traced = enable_tracing(args.collection, writer_process=False)  # one line's spans: no writer process
        flow = load_flow(args.flow, variant=args.variant, environment_variables=env, init=read_init(args.init))
    streaming = args.stream and args.output == "text" and not args.node
    outcome = run_loaded_flow_test(flow, inputs, node=args.node, variant=args.variant,
                                   stream_to=sys.stdout if streaming else None, echo=sys.stderr)
    if traced and outcome.trace_id:
        flush_tracing()
        print(f"Trace: {outcome.trace_id}  (pfl trace show {outcome.trace_id})", file=sys.stderr)
    if not outcome.ok:
        error = outcome.error or {}
        kind = (error.get("innerError") or {}).get("code") or error.get("code", "Error")
        print(f"Error ({kind}): {error.get('message', 'the flow failed')}", file=sys.stderr)
        debug = (error.get("debugInfo") or {}).get("stackTrace")
        if debug and kind in ("ToolExecutionError", "ScriptExecutionError"):
            print(debug.rstrip(), file=sys.stderr)
        return 1
    if args.output == "json":
        print_json(outcome.shown_outputs())
    else:
        _print_text(outcome)
    return 0


def _open_ui(flow: str) -> int:
    """``--ui``: the flow in the browser app (``pfl ui``), when it is installed."""
    import importlib.util

    if importlib.util.find_spec("promptflow_lite.cli.ui") is None:
        raise UserError("--ui needs the browser app (`pfl ui`), which this installation does not have.",
                        hint="chat in the terminal with --interactive instead.")
    from promptflow_lite.cli.main import main

    return main(["ui", "--flow", flow])


def _print_text(outcome) -> None:
    shown = outcome.shown_outputs()
    outputs = shown if isinstance(shown, dict) else {"output": shown}
    for key, value in ({} if outcome.streamed else outputs).items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        print(f"{key}: {shown}")
    if outcome.metrics:
        print("metrics: " + json.dumps(outcome.metrics, ensure_ascii=False, default=str))


def _init(args: argparse.Namespace) -> int:
    from promptflow_lite.flow._new_flow import init_flow

    if args.entry or args.function:
        return _init_from_function(args)
    files = init_flow(args.flow, args.flow_type, connection=args.connection, deployment=args.deployment)
    print(f"Created a new flow ({args.flow_type}) in {Path(args.flow)}: {', '.join(f.name for f in files)}.")
    print(f"Try it: pfl flow test --flow {args.flow}" + (" --interactive" if args.flow_type == "chat" else ""))
    return 0


def _init_from_function(args: argparse.Namespace) -> int:
    from promptflow_lite.flow._flow_from_function import init_flow_from_function

    if not (args.entry and args.function):
        raise UserError("--entry and --function go together.", hint="e.g. --entry intent.py --function extract_intent")
    templates = dict(pair.partition("=")[::2] for pair in args.prompt_template)
    files = init_flow_from_function(args.flow, args.entry, args.function, templates)
    print(f"Created a flow calling {args.function}() in {Path(args.flow)}: {', '.join(f.name for f in files)}.")
    print(f"Try it: pfl flow test --flow {args.flow} --inputs ...")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from promptflow_lite.engine import validate_flow

    file, problems = validate_flow(args.source, init=read_init(args.init))
    if args.output == "json":
        print_json({"valid": not problems, "flow": str(file),
                    "problems": [{"message": p.message, "node": p.node, "hint": p.hint} for p in problems]})
    elif problems:
        print(f"{file}: {len(problems)} problem(s)", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
    else:
        print(f"{file}: valid")
    return 1 if problems else 0
