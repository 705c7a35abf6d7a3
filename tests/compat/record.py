"""Record golden outputs of real promptflow for every corpus flow and case.

Run with the interpreter of a venv that has ``promptflow==1.18.5`` (see README.md)::

    /work/pfref/venv/bin/python tests/compat/record.py            # all flows, starts the server
    /work/pfref/venv/bin/python tests/compat/record.py --only chat_basic --base-url http://127.0.0.1:18765/v1

For each flow a fresh worker process copies the flow to a scratch folder, runs every case of
``cases.json`` through ``PFClient().flows._test`` (the call behind ``pf.test``; it also returns
node statuses and metrics) against the scripted OpenAI server, and writes ``expected.json``:
``{"recorded_with": {...}, "results": [{"ok": true, "outputs": ...} | {"ok": false, "error_type": ...}]}``.
promptflow's home (connections, config, keyring) is a temporary folder, so nothing touches ``~``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

PF_CONFIG = "telemetry:\n  enabled: 'false'\ntrace:\n  destination: none\n"


# --------------------------------------------------------------------------- orchestrator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", type=Path, help="corpus root (default: tests/compat/flows)")
    parser.add_argument("--only", nargs="+", help="flow folder names to record")
    parser.add_argument("--base-url", help="use an already running scripted server (http://127.0.0.1:PORT/v1)")
    parser.add_argument("--server-python", help="python that runs the scripted server (default: <repo>/.venv/bin/python)")
    parser.add_argument("--port", type=int, default=h.DEFAULT_PORT)
    parser.add_argument("--timeout", type=float, default=600, help="seconds per flow")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--root-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        return _worker(args.worker, args.base_url, args.root_url)

    flows = h.flow_dirs(args.corpus or [h.DEFAULT_CORPUS], args.only)
    if not flows:
        h.eprint("no flows found")
        return 2
    with tempfile.TemporaryDirectory(prefix="pfcompat-home-") as home, h.scripted_server(
        args.base_url, args.server_python, args.port
    ) as (base_url, root_url):
        env = _pf_env(Path(home))
        _create_connections(env, base_url, root_url)
        totals = {"ok": 0, "failed": 0, "broken": 0}
        for flow in flows:
            cmd = [sys.executable, __file__, "--worker", str(flow), "--base-url", base_url, "--root-url", root_url]
            try:
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
                summary = proc.stdout.strip().splitlines()[-1] if proc.returncode == 0 and proc.stdout.strip() else None
            except subprocess.TimeoutExpired:
                proc, summary = None, None
            if summary is None:
                totals["broken"] += 1
                tail = (proc.stderr[-2000:] if proc else "timed out") if proc is not None else "timed out"
                h.eprint(f"{flow.name:45s} WORKER FAILED\n{tail}")
                continue
            try:
                counts = json.loads(summary)
            except ValueError:  # the worker's last line was not its summary (noise from the flow)
                totals["broken"] += 1
                h.eprint(f"{flow.name:45s} WORKER FAILED (no summary line)\n{proc.stderr[-2000:]}")
                continue
            totals["ok"] += counts["ok"]
            totals["failed"] += counts["failed"]
            print(f"{flow.name:45s} ok={counts['ok']} failed={counts['failed']}", flush=True)
        print(f"\n{len(flows)} flows: {totals['ok']} cases ran ok, {totals['failed']} failed in promptflow "
              f"(recorded as expected failures), {totals['broken']} flows could not be recorded")
        return 1 if totals["broken"] else 0


def _pf_env(home: Path) -> dict[str, str]:
    """Environment for promptflow: private home, plaintext keyring inside it, no telemetry/tracing."""
    (home / "pf.yaml").write_text(PF_CONFIG, encoding="utf-8")
    return h.env_with(
        {
            "PF_HOME_DIRECTORY": str(home),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(home / "xdg"),
            "PF_DISABLE_TRACING": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )


def _create_connections(env: dict[str, str], base_url: str, root_url: str) -> None:
    code = (
        "import json, sys\n"
        "from promptflow.client import PFClient\n"
        "from promptflow.entities import AzureOpenAIConnection, CustomConnection, OpenAIConnection\n"
        "pf = PFClient()\n"
        "for name, c in json.loads(sys.argv[1]).items():\n"
        "    value, secret = c['value'], set(c.get('secret_keys', []))\n"
        "    if c['type'] == 'CustomConnection':\n"
        "        conn = CustomConnection(name=name, configs={k: v for k, v in value.items() if k not in secret},\n"
        "                                secrets={k: v for k, v in value.items() if k in secret})\n"
        "    else:\n"
        "        conn = {'OpenAIConnection': OpenAIConnection, 'AzureOpenAIConnection': AzureOpenAIConnection}[c['type']](\n"
        "            name=name, **value)\n"
        "    pf.connections.create_or_update(conn)\n"
    )
    payload = json.dumps(h.connections(base_url, root_url))
    proc = subprocess.run([sys.executable, "-c", code, payload], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"creating promptflow connections failed:\n{proc.stderr[-3000:]}")


# --------------------------------------------------------------------------- worker (one flow)


def _worker(flow_dir: Path, base_url: str, root_url: str) -> int:
    import contextlib
    import io

    import promptflow
    from promptflow.client import PFClient

    pf = PFClient()
    cases = h.load_cases(flow_dir)
    results = []
    with tempfile.TemporaryDirectory(prefix="pfcompat-run-") as scratch:
        for index, case in enumerate(cases):
            # a fresh copy per case: runs write .promptflow/ and user code may write files
            work = h.copy_flow(flow_dir, Path(scratch) / str(index))
            noise = io.StringIO()
            with contextlib.redirect_stdout(noise):
                result = _run_case(pf, work, case)
            results.append(result)
    versions = {"promptflow": getattr(promptflow, "__version__", "?")}
    try:
        from importlib.metadata import version

        versions.update({p: version(p) for p in ("promptflow-core", "promptflow-devkit", "promptflow-tools", "openai")})
    except Exception:  # pragma: no cover - metadata missing
        pass
    h.write_json(flow_dir / "expected.json", {"recorded_with": versions, "results": results})
    ok = sum(1 for r in results if r["ok"])
    print(json.dumps({"ok": ok, "failed": len(results) - ok}))
    return 0


def _run_case(pf, flow: Path, case: dict[str, Any]) -> dict[str, Any]:
    from promptflow._sdk._orchestrator.test_submitter import TestSubmitter

    cwd = os.getcwd()
    try:
        entry = flow / case["flow_file"] if case.get("flow_file") else flow
        result = pf.flows._test(flow=str(entry), inputs=case["inputs"], variant=case.get("variant"), node=case.get("node"),
                                init=case.get("init"))
        # pf.test() ends with exactly this call; calling _test() directly keeps the node statuses and metrics.
        TestSubmitter._raise_error_when_test_failed(result, show_trace=False)
    except Exception as exc:  # noqa: BLE001 - every failure is a recorded outcome
        record = _error_record(exc, locals().get("result"))
        record["message"] = h.scrub_paths(record["message"], flow)
        return record
    finally:
        os.chdir(cwd)
    return _success_record(result, node=case.get("node"), flow=flow)


def _success_record(result: Any, node: str | None, flow: Path) -> dict[str, Any]:
    notes = []
    if node:
        output = _plain(_images_as_files(result.output, flow), notes, "output")
        return {"ok": True, "outputs": h.image_digests(output), **({"notes": notes} if notes else {})}
    output = result.output
    if dataclasses.is_dataclass(output) and not isinstance(output, type):  # as flow.output.json holds it
        output = {f.name: getattr(output, f.name) for f in dataclasses.fields(output)}
    output = output if isinstance(output, dict) else {"output": output}  # a flex entry's bare value
    outputs = h.image_digests({k: _plain(v, notes, k) for k, v in _images_as_files(output or {}, flow).items()})
    record: dict[str, Any] = {"ok": True, "outputs": outputs}
    metrics = result.run_info.metrics or {}
    if metrics:
        record["metrics"] = _plain(metrics, notes, "metrics")
    record["node_status"] = {name: info.status.value for name, info in sorted(result.node_run_infos.items())}
    if notes:
        record["notes"] = notes
    return record


def _error_record(exc: BaseException, result: Any) -> dict[str, Any]:
    from promptflow._utils.exception_utils import ErrorResponse

    record: dict[str, Any] = {"ok": False, "error_type": type(exc).__name__, "message": h.first_line(str(exc))}
    line_error = getattr(getattr(result, "run_info", result), "error", None) if result is not None else None
    if line_error:
        response = ErrorResponse.from_error_dict(line_error)
        record["error_code"] = response.error_code_hierarchy
        user = response.get_user_execution_error_info()
        if user.get("type"):
            record["user_error_type"] = user["type"]
        if getattr(result, "node_run_infos", None):
            record["node_status"] = {n: i.status.value for n, i in sorted(result.node_run_infos.items())}
    else:
        record["error_code"] = ErrorResponse.from_exception(exc).error_code_hierarchy
    return record


def _images_as_files(value: Any, flow: Path) -> Any:
    """Images written as files and referenced as ``pf flow test`` prints them (in the flow's message format)."""
    from promptflow._utils.multimedia_utils import MultimediaProcessor

    from promptflow._utils.multimedia_utils import _process_recursively
    from promptflow.contracts.multimedia import Text

    flow_file = next((flow / n for n in ("flow.dag.yaml", "flow.dag.yml") if (flow / n).exists()), None)
    processor = MultimediaProcessor.create_from_yaml(flow_file) if flow_file else MultimediaProcessor.create()
    # The test result holds openai-vision texts already serialised ({"type": "text", "text": Text(...)}):
    # persisting the Text again would wrap it twice, unlike what `pf flow test` prints.
    value = _process_recursively(value, process_funcs={Text: str})
    return processor.persist_multimedia_data(value, base_dir=flow / ".promptflow", sub_dir=Path("output"),
                                             use_absolute_path=True)


def _plain(value: Any, notes: list[str], where: str) -> Any:
    """JSON-ready copy of an output; generators are joined the way promptflow joins them."""
    import types

    if isinstance(value, (types.GeneratorType, types.AsyncGeneratorType)) or (
        hasattr(value, "__next__") and not isinstance(value, (str, bytes, dict, list))
    ):
        notes.append(f"{where}: generator output joined with ''.join(str(x))")
        return "".join(str(x) for x in value)
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        notes.append(f"{where}: not JSON-serializable ({type(value).__name__}); stored as repr")
        return repr(value)


if __name__ == "__main__":
    sys.exit(main())
