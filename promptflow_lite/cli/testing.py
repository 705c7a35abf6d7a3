"""``pfl testing serve``: run the scripted OpenAI-compatible server in the foreground."""

from __future__ import annotations

import argparse

ORDER = 90


def register(sub: argparse._SubParsersAction) -> None:
    testing = sub.add_parser("testing", help="tools for testing flows offline")
    commands = testing.add_subparsers(dest="testing_command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="run a scripted OpenAI-compatible server (deterministic answers)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    serve.add_argument("--rules", metavar="FILE", help="YAML/JSON list of {match: REGEX, reply: TEXT} rules")
    serve.add_argument("--latency-ms", type=float, default=0.0, metavar="N", help="delay before each answer")
    serve.add_argument("--fail-rate", type=float, default=0.0, metavar="F", help="share of requests that fail (0..1)")
    serve.add_argument("--fail-kinds", default="429,500", metavar="KINDS",
                       help="comma-separated: 429, 500, timeout, drop, malformed (default 429,500)")
    serve.add_argument("--api-key", metavar="K", help="reject requests without this key (401)")
    serve.add_argument("--echo-key", choices=("full", "elided"),
                       help="end every error message with the request's key, whole or elided (as some endpoints do)")
    serve.add_argument("--seed", type=int, default=0, help="seed of the fault injection (default 0)")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from promptflow_lite.testing import ScriptedServer

    server = ScriptedServer(rules=args.rules, latency=args.latency_ms / 1000, fail_rate=args.fail_rate,
                            fail_kinds=args.fail_kinds, api_key=args.api_key, echo_key=args.echo_key, seed=args.seed,
                            host=args.host, port=args.port)
    server.serve_forever(lambda base_url: print(f"Scripted OpenAI server listening on {base_url}", flush=True))
    return 0
