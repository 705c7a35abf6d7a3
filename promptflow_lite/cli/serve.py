"""``pfl flow serve``: a flow as an HTTP endpoint (POST /score, GET /swagger.json, /health, SSE streaming).

Hooked into the ``pfl flow`` group by :func:`register_serve` (called from ``cli/flow.py``).
"""

from __future__ import annotations

import argparse
import os
import sys

TRACE_STORE_ENV = "PFL_SERVE_TRACE_STORE"


def _env_on(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "on", "true", "yes")


def register_serve(flow_commands: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the subcommands of ``pfl flow``."""
    parser = flow_commands.add_parser(
        "serve", help="serve a flow over HTTP (POST /score, GET /swagger.json, streaming with SSE)",
        description="Serve a flow as an HTTP endpoint compatible with promptflow's: POST /score with a JSON object "
                    "of inputs (Accept: text/event-stream streams LLM outputs), GET /swagger.json, /health, "
                    "/version, /metrics (Prometheus), / (a page to try it), POST /feedback. Connections come from the local store and PROMPTFLOW_CONNECTIONS; "
                    "<CONN_NAME>_<KEY> environment variables override their fields.")
    parser.add_argument("--source", "--flow", dest="source", required=True, action="append",
                        help="flow folder, flow.dag.yaml, flow.flex.yaml or .prompty file; repeat it to serve "
                             "several flows, each at /flows/<name>/score")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (8080; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (127.0.0.1; use 0.0.0.0 to accept other machines)")
    parser.add_argument("--variant", help="node variant, e.g. '${summarize.variant_1}'")
    parser.add_argument("--environment-variables", nargs="*", default=[], metavar="K=V")
    parser.add_argument("--init", nargs="*", default=[], metavar="K=V|FILE", help="init kwargs of a flex flow class")
    parser.add_argument("--workers", type=int, default=1, help="server processes sharing the port (1)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.add_argument("--trace-store", action="store_true", default=_env_on(TRACE_STORE_ENV),
                        help="also keep each request's trace in the local trace store (PFL_HOME/traces.sqlite), "
                             f"as `pfl flow test` does (default: off, or {TRACE_STORE_ENV}=1); spans go over OTLP "
                             "whenever OTEL_EXPORTER_OTLP_ENDPOINT is set")
    # promptflow's choice of web framework and of opening a browser: one ASGI server here, no browser opened
    parser.add_argument("--engine", choices=["flask", "fastapi"], help=argparse.SUPPRESS)
    parser.add_argument("--skip-open-browser", action="store_true", help=argparse.SUPPRESS)
    guard = parser.add_argument_group("protection (an API key, limits)")
    guard.add_argument("--api-key-env", metavar="VAR",
                       help="require 'Authorization: Bearer <key>' on every route but /health, the key being in "
                            "environment variable VAR (default: PFL_SERVE_API_KEY when set)")
    guard.add_argument("--max-concurrency", type=int, metavar="K",
                       help="lines running at once; as many more wait, the rest get 503 with Retry-After")
    guard.add_argument("--queue-size", type=int, metavar="N", help="requests that may wait for a line (default: K)")
    guard.add_argument("--timeout", type=float, metavar="S", help="cancel a line running longer than S seconds (504)")
    guard.add_argument("--max-body-mb", type=float, default=10, metavar="MB",
                       help="largest request body accepted (10; larger: 413)")
    parser.set_defaults(func=_serve)


def register_build(flow_commands: argparse._SubParsersAction) -> None:
    """Add ``build`` to the subcommands of ``pfl flow``."""
    parser = flow_commands.add_parser(
        "build", help="build a flow into a folder to deploy (Dockerfile, start script, connections)",
        description="Build a flow as promptflow's `pf flow build` does: OUTPUT gets flow/ (additional includes "
                    "copied in), connections/ (secrets as ${env:VAR} placeholders), requirements.txt, Dockerfile, "
                    "start.sh (serves with uvicorn workers), settings.json and README.md.")
    parser.add_argument("--source", "--flow", dest="source", required=True, help="flow folder or file")
    parser.add_argument("--output", required=True, help="folder to write (new or empty)")
    parser.add_argument("--format", default="docker", choices=["docker"], help="what to build (docker)")
    parser.add_argument("--variant", help="node variant to serve, e.g. '${summarize.variant_1}'")
    parser.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    from promptflow_lite.serve._build import build_flow

    result = build_flow(args.source, args.output, format=args.format, variant=args.variant)
    print(f"Built {args.source} into {result.output}: {len(result.connections)} connection(s) "
          f"({', '.join(result.connections) or 'none'}).")
    print(f"Set when it runs: {', '.join(result.environment)} (see settings.json). "
          f"Then: docker build -t IMAGE {result.output}", flush=True)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from promptflow_lite.cli._common import parse_key_values, read_init
    from promptflow_lite.errors import UserError

    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}.")
    if len(args.source) > 1 and (args.variant or args.init):
        raise UserError("--variant and --init apply to one flow; they cannot be used with several --source.",
                        hint="serve that flow on its own.")
    try:
        from promptflow_lite.serve import serve_flow
        from promptflow_lite.serve._settings import ServeSettings, api_key_from_env
    except ImportError as exc:
        raise UserError(f"Serving needs Starlette, uvicorn and prometheus-client ({exc}).",
                        hint="pip install 'promptflow_lite[serve]'.") from None

    from promptflow_lite.serve._auth import exposure_warning

    settings = ServeSettings(api_key=api_key_from_env(args.api_key_env), max_concurrency=args.max_concurrency,
                             queue_size=args.queue_size, timeout=args.timeout,
                             max_body_bytes=int(args.max_body_mb * 1024 * 1024))
    warning = exposure_warning(args.host, settings.api_key)
    if warning:
        bar = "!" * min(len(warning), 100)
        print(f"{bar}\n{warning}\n{bar}", file=sys.stderr, flush=True)

    def ready(url: str) -> None:
        what = ", ".join(args.source)
        score = f"{url}/score" if len(args.source) == 1 else f"{url}/flows/<name>/score"
        auth = " with an API key" if settings.api_key else ""
        print(f"Serving {what} at {url}{auth} (POST {score}, GET {url}/swagger.json, try it: {url}/). "
              "Press Ctrl+C to stop.", flush=True)

    serve_flow(args.source if len(args.source) > 1 else args.source[0], host=args.host, port=args.port,
               variant=args.variant,
               environment_variables=parse_key_values(args.environment_variables, "--environment-variables"),
               init=read_init(args.init), workers=args.workers, access_log=args.access_log, on_ready=ready,
               settings=settings, api_key_env=args.api_key_env, trace_store=args.trace_store)
    print("Stopped.", file=sys.stderr)
    return 0
