"""grid: ``pfl eval --grid`` over 6 variant combinations (2 x 3), 1,000 lines, LLM at 200 ms (promptflow_lite only).

promptflow has no variant grid (it tunes one node per run), so there is no promptflow column. The
figure that matters is the time against the physical limit *for the calls the evaluation makes*:
``calls × latency ÷ lines in flight`` (every call distinct, the response cache emptied before each
repetition; the count is the one ``pfl eval --json`` reports, ``spend.calls``). The upstream python
and prompt nodes run once per line; each combination's run, its evaluator run and the statistics
(CIs, paired tests, cost and latency) are inside the time, as is process start-up.
"""

from __future__ import annotations

import json
import uuid

from _lib.context import Context, python_value
from _lib.suites_batch import LLM_MAPPING, _lines

LATENCY_MS = 200


def run_grid(ctx: Context) -> None:
    data, n = ctx.data["llm"], _lines(ctx.data["llm"])
    pfl = ctx.tools["pfl"]
    from _lib.servers import scripted_llm

    concurrency = int(python_value(pfl.python(), "from promptflow_lite.runs._engine import DEFAULT_CONCURRENCY as c; "
                                                 "print(c)") or 64)
    seconds = ctx.figure("grid", "grid_6", f"`pfl eval --grid`: 6 combinations × 1 evaluator, {n:,} lines, "
                         f"{LATENCY_MS} ms LLM", "s", memory_target=False,
                         note="flows/llm_grid: python → prompt → llm (2 variants) → llm (3 variants) → python")
    limit = ctx.figure("grid", "grid_6_vs_limit", "… time ÷ physical limit for the calls it makes", "×",
                       target=("at_most", 1.5), memory_target=False)
    calls_seen = []
    with scripted_llm(pfl.cli(), LATENCY_MS, pfl.env()) as url:
        for rep in range(ctx.runs):
            pfl.reset_cache(url)
            out = pfl.scratch / f"grid_{uuid.uuid4().hex[:8]}.json"
            cmd = pfl.cli() + ["eval", "--flow", str(ctx.flow(pfl, "llm_grid")), "--data", str(data), "--grid",
                               "--evaluator", str(ctx.flow(pfl, "eval_exact_match")),
                               "--column-mapping", *[f"{k}={v}" for k, v in LLM_MAPPING.items()],
                               "--json", str(out), "--quiet"]
            sample = ctx.measure(pfl, cmd, pfl.env(url), f"eval --grid 6 x{n} @{LATENCY_MS}ms")
            result = json.loads(out.read_text())
            calls = result["spend"]["calls"]
            if len(result["grid"]["combinations"]) != 6 or result["n_lines"] != n:
                raise RuntimeError(f"pfl eval --grid: expected 6 combinations over {n} lines")
            calls_seen.append(calls)
            seconds.add("pfl", sample.seconds, sample.peak_rss_mb)
            limit.add("pfl", sample.seconds / (calls * LATENCY_MS / 1000 / concurrency))
    limit.note = (f"limit = calls × {LATENCY_MS} ms ÷ {concurrency} lines in flight; calls made per repetition: "
                  f"{', '.join(f'{c:,}' for c in calls_seen)} (2 rewrites + 6 answers per line; the python and "
                  f"prompt nodes upstream run once per line)")
    limit.details["calls"] = calls_seen
