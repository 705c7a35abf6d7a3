"""Run promptflow_lite on every corpus case and compare with promptflow's recorded outputs.

Run with the promptflow_lite venv (see README.md)::

    .venv/bin/python tests/compat/compare.py                 # whole corpus, starts the scripted server
    .venv/bin/python tests/compat/compare.py --only py_hello llm_variants -v
    .venv/bin/python tests/compat/compare.py --report /tmp/compat.json

Each case runs ``pfl flow test --flow <copy> --inputs-file <case.json> [--variant V] [--node N]
--output json`` in a subprocess with a private ``PFL_HOME`` and the corpus connections passed as
``PROMPTFLOW_CONNECTIONS`` (promptflow's execution-time JSON format). Outcomes per case:

* ``same``            both succeeded with equal outputs
* ``different``       both succeeded, outputs differ
* ``both-failed``     promptflow and promptflow_lite both rejected the case
* ``only-pf-failed``  promptflow failed, promptflow_lite produced outputs
* ``only-pfl-failed`` promptflow succeeded, promptflow_lite failed

The match rate counts ``same`` and ``both-failed``. Mismatches listed in ``deviations.json``
(``{"flow[index]": "why promptflow_lite deliberately differs"}``) are reported but accepted; the exit
status is 0 only when every other case matches.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

OUTCOMES = ("same", "different", "both-failed", "only-pf-failed", "only-pfl-failed")
MATCHING = ("same", "both-failed")
DEVIATIONS_FILE = h.COMPAT_DIR / "deviations.json"


def accepted_deviations() -> dict[str, str]:
    """``{"flow[index]": reason}`` for mismatches promptflow_lite makes on purpose."""
    if not DEVIATIONS_FILE.exists():
        return {}
    return json.loads(DEVIATIONS_FILE.read_text(encoding="utf-8"))


@dataclass
class CaseResult:
    flow: str
    index: int
    outcome: str
    case: dict[str, Any]
    expected: dict[str, Any]
    actual: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.flow}[{self.index}]"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", action="append", type=Path, help="corpus root (default: tests/compat/flows)")
    parser.add_argument("--only", nargs="+", help="flow folder names to compare")
    parser.add_argument("--base-url", help="use an already running scripted server (http://127.0.0.1:PORT/v1)")
    parser.add_argument("--server-python", help="python that runs the scripted server (default: this one)")
    parser.add_argument("--port", type=int, default=h.DEFAULT_PORT + 1)
    parser.add_argument("--pfl", default=str(Path(sys.executable).with_name("pfl")), help="pfl executable")
    parser.add_argument("--jobs", type=int, default=2, help="cases run in parallel")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per case")
    parser.add_argument("--report", type=Path, help="write every case result as JSON here")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each mismatch")
    args = parser.parse_args(argv)

    flows = h.flow_dirs(args.corpus or [h.DEFAULT_CORPUS], args.only)
    work = [(flow, i, case, exp) for flow in flows for i, (case, exp) in enumerate(_cases_with_expected(flow))]
    if not work:
        h.eprint("no recorded cases found (run record.py first)")
        return 2
    # fake keys in connections.json look random: masking hides any word holding a key's first or last characters
    with tempfile.TemporaryDirectory(prefix="pfl-corpus-") as scratch, h.scripted_server(
        args.base_url, args.server_python or sys.executable, args.port
    ) as (base_url, root_url):
        scratch_dir = Path(scratch)
        connections_file = scratch_dir / "connections.json"
        h.write_json(connections_file, h.connections(base_url, root_url))
        runner = _Runner(args.pfl, scratch_dir, connections_file, args.timeout)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda item: runner.compare(*item), work))

    deviations = accepted_deviations()
    _print_table(results, deviations, verbose=args.verbose)
    if args.report:
        h.write_json(args.report, [asdict(r) for r in results])
    return 0 if all(r.outcome in MATCHING or r.label in deviations for r in results) else 1


def _cases_with_expected(flow: Path) -> list[tuple[dict, dict]]:
    expected = h.load_expected(flow)
    if expected is None:
        h.eprint(f"{flow.name}: no expected.json, skipped")
        return []
    cases = h.load_cases(flow)
    if len(cases) != len(expected):
        h.eprint(f"{flow.name}: cases.json has {len(cases)} cases but expected.json {len(expected)}; re-record")
        return []
    return list(zip(cases, expected))


class _Runner:
    def __init__(self, pfl: str, scratch: Path, connections_file: Path, timeout: float):
        self.pfl = pfl
        self.scratch = scratch
        self.connections_file = connections_file
        self.timeout = timeout

    def compare(self, flow: Path, index: int, case: dict, expected: dict) -> CaseResult:
        actual = self.run(flow, index, case)
        return CaseResult(flow.name, index, _outcome(expected, actual), case, expected, actual)

    def run(self, flow: Path, index: int, case: dict) -> dict[str, Any]:
        case_dir = self.scratch / f"{flow.name}.{index}"
        case_dir.mkdir()
        copy = h.copy_flow(flow, case_dir)
        inputs_file = case_dir / "case_inputs.json"
        h.write_json(inputs_file, case["inputs"])
        entry = copy / case["flow_file"] if case.get("flow_file") else copy
        cmd = [self.pfl, "flow", "test", "--flow", str(entry), "--inputs-file", str(inputs_file), "--output", "json"]
        if case.get("variant"):
            cmd += ["--variant", case["variant"]]
        if case.get("node"):
            cmd += ["--node", case["node"]]
        if case.get("init") is not None:
            init_file = case_dir / "case_init.json"
            h.write_json(init_file, case["init"])
            cmd += ["--init", str(init_file)]
        env = h.env_with(
            {
                "PFL_HOME": str(case_dir / "pfl_home"),
                "PROMPTFLOW_CONNECTIONS": str(self.connections_file),
                "PYTHONDONTWRITEBYTECODE": "1",
            }
        )
        try:
            proc = subprocess.run(cmd, env=env, cwd=str(case_dir), capture_output=True, text=True,
                                  timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return {"ok": False, "error_type": "Timeout", "message": f"no result within {self.timeout:.0f} s"}
        except OSError as exc:
            return {"ok": False, "error_type": "CannotRun", "message": f"{cmd[0]}: {exc.strerror}"}
        if proc.returncode != 0:
            return {"ok": False, "error_type": f"exit {proc.returncode}",
                    "message": h.scrub_paths(_error_line(proc.stderr), copy)}
        try:
            outputs = json.loads(proc.stdout)
        except ValueError:
            return {"ok": False, "error_type": "BadOutput",
                    "message": f"stdout is not JSON: {proc.stdout[:200]!r}"}
        return {"ok": True, "outputs": h.image_digests(outputs)}


def _error_line(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.startswith("Error"):
            return line
    return lines[-1] if lines else "(no message)"


def _outcome(expected: dict, actual: dict) -> str:
    if expected["ok"] and actual["ok"]:
        return "same" if _normal(expected["outputs"]) == _normal(actual["outputs"]) else "different"
    if not expected["ok"] and not actual["ok"]:
        return "both-failed"
    return "only-pf-failed" if not expected["ok"] else "only-pfl-failed"


def _normal(value: Any) -> Any:
    """JSON round trip, so 1 == 1.0 style differences in tuples/lists vs. JSON are not reported."""
    return json.loads(json.dumps(value, sort_keys=True))


def _print_table(results: list[CaseResult], deviations: dict[str, str], verbose: bool) -> None:
    per_flow: dict[str, Counter] = {}
    for r in results:
        per_flow.setdefault(r.flow, Counter())[r.outcome] += 1
    width = max(len(name) for name in per_flow) + 2
    header = f"{'flow':{width}}" + "".join(f"{o:>17}" for o in OUTCOMES)
    print(header)
    print("-" * len(header))
    for name, counts in per_flow.items():
        print(f"{name:{width}}" + "".join(f"{counts.get(o, 0) or '':>17}" for o in OUTCOMES))
    totals = Counter(r.outcome for r in results)
    print("-" * len(header))
    print(f"{'total':{width}}" + "".join(f"{totals.get(o, 0):>17}" for o in OUTCOMES))
    matched = sum(totals[o] for o in MATCHING)
    print(f"\n{matched}/{len(results)} cases match promptflow 1.18.5 ({100.0 * matched / len(results):.1f}%)")
    known = [r for r in results if r.outcome not in MATCHING and r.label in deviations]
    if known:
        print(f"{len(known)} of the mismatches are accepted deviations (deviations.json)")
    if verbose:
        for r in results:
            if r.outcome not in MATCHING:
                note = f"  [accepted: {deviations[r.label]}]" if r.label in deviations else ""
                print(f"\n{r.label} {r.outcome}{note}  case={json.dumps(r.case, ensure_ascii=False)[:300]}")
                print(f"  promptflow:      {_brief(r.expected)}")
                print(f"  promptflow_lite: {_brief(r.actual)}")


def _brief(record: dict) -> str:
    if record.get("ok"):
        return "outputs " + json.dumps(record.get("outputs"), ensure_ascii=False, sort_keys=True)[:600]
    return f"{record.get('error_type')}: {record.get('message', '')[:400]}"


if __name__ == "__main__":
    sys.exit(main())
