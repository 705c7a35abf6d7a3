"""serve: the LLM flow served over HTTP, driven by ``loadgen.py`` (a separate process).

For each LLM latency (0 and 50 ms) the flow server starts once per tool (start-up not timed)
against the same scripted server; each repetition sends 32 warm-up requests (not counted), then
the measured requests at concurrency 32 to ``POST /score``. Peak memory is the flow server's
process tree during the load.
"""

from __future__ import annotations

import json

from _lib.context import Context, loadgen_command
from _lib.measure import TreeMemorySampler, run_measured
from _lib.servers import flow_server, free_port, scripted_llm

CONCURRENCY = 32
LATENCIES = (0, 50)


def run_serve(ctx: Context) -> None:
    requests = ctx.sizes["requests"]
    pfl = ctx.tools["pfl"]
    for latency in LATENCIES:
        title = f"serve llm_chain, {requests:,} requests, concurrency {CONCURRENCY}, {latency} ms LLM"
        rps = ctx.figure("serve", f"serve_{latency}ms_rps", title, "req/s", better="higher", target=("ratio", 3),
                         note="`pfl flow serve` vs `pf flow serve` (its default Flask engine), POST /score")
        p50 = ctx.figure("serve", f"serve_{latency}ms_p50", "… p50 latency", "ms", memory_target=False)
        p99 = ctx.figure("serve", f"serve_{latency}ms_p99", "… p99 latency", "ms", target=("ratio", 1),
                         memory_target=False)
        if pfl.serve_command(ctx.flow(pfl, "llm_chain"), 0) is None:
            rps.skipped = "the serve extra is not installed (`pip install -e '.[serve]'`): promptflow column only"
            ctx.log(f"  pfl  serve: {rps.skipped}")
        with scripted_llm(pfl.cli(), latency, pfl.env()) as url:
            for key, tool in ctx.tools.items():
                port = free_port()
                cmd = tool.serve_command(ctx.flow(tool, "llm_chain"), port)
                if cmd is None:
                    continue
                with flow_server(cmd, tool.env(url), port, cwd=str(tool.scratch)) as server:
                    for rep in range(ctx.runs):
                        with TreeMemorySampler(server.pid) as memory:
                            sample = run_measured(loadgen_command(f"http://127.0.0.1:{port}/score",
                                                                  ctx.data["serve"], requests, CONCURRENCY))
                        result = json.loads(sample.check(f"{tool.label}: load generator").stdout)
                        if result["errors"]:
                            raise RuntimeError(f"{tool.label} serve: {result['errors']} failed requests, "
                                               f"e.g. {result['error_example']}")
                        ctx.log(f"  {key:4s} serve @{latency}ms: {result['rps']} req/s, p50 {result['p50_ms']} ms, "
                                f"p99 {result['p99_ms']} ms, peak {memory.peak_mb:.0f} MB")
                        rps.add(key, result["rps"], memory.peak_mb)
                        p50.add(key, result["p50_ms"])
                        p99.add(key, result["p99_ms"])
