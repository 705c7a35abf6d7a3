"""``pfl flow serve``: a flow as an HTTP endpoint (POST /score, GET /swagger.json, /health, SSE streaming).

Hooked into the ``pfl flow`` group by :func:`register_serve` (called from ``cli/flow.py``).
"""

from __future__ import annotations

import argparse
import sys


def register_serve(flow_commands: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the subcommands of ``pfl flow``."""
    parser = flow_commands.add_parser(
        "serve", help="serve a flow over HTTP (POST /score, GET /swagger.json, streaming with SSE)",
        description="Serve a flow as an HTTP endpoint compatible with promptflow's: POST /score with a JSON object "
                    "of inputs (Accept: text/event-stream streams LLM outputs), GET /swagger.json, /health, "
                    "/version, POST /feedback. Connections come from the local store and PROMPTFLOW_CONNECTIONS; "
                    "<CONN_NAME>_<KEY> environment variables override their fields.")
    parser.add_argument("--source", "--flow", dest="source", required=True,
                        help="flow folder, flow.dag.yaml, flow.flex.yaml or .prompty file")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (8080; 0 picks a free one)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (127.0.0.1; use 0.0.0.0 to accept other machines)")
    parser.add_argument("--variant", help="node variant, e.g. '${summarize.variant_1}'")
    parser.add_argument("--environment-variables", nargs="*", default=[], metavar="K=V")
    parser.add_argument("--init", nargs="*", default=[], metavar="K=V|FILE", help="init kwargs of a flex flow class")
    parser.add_argument("--workers", type=int, default=1, help="server processes sharing the port (1)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from promptflow_lite.cli._common import parse_key_values, read_init
    from promptflow_lite.errors import UserError

    if args.workers < 1:
        raise UserError(f"--workers must be at least 1, got {args.workers}.")
    try:
        from promptflow_lite.serve import serve_flow
    except ImportError as exc:
        raise UserError(f"Serving needs FastAPI and uvicorn ({exc}).",
                        hint="pip install 'promptflow_lite[serve]'.") from None

    def ready(url: str) -> None:
        print(f"Serving {args.source} at {url} (POST {url}/score, GET {url}/swagger.json). Press Ctrl+C to stop.",
              flush=True)

    serve_flow(args.source, host=args.host, port=args.port, variant=args.variant,
               environment_variables=parse_key_values(args.environment_variables, "--environment-variables"),
               init=read_init(args.init), workers=args.workers, access_log=args.access_log, on_ready=ready)
    print("Stopped.", file=sys.stderr)
    return 0
