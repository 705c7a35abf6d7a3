"""eval: an evaluation run over a base run, and ``pfl eval`` with 2 variants × 2 evaluators.

The LLM flow calls the scripted server with 0 ms latency (what is measured is orchestration).
The base runs of the first figure are made once per tool before timing. promptflow has no
``eval`` command: its column runs ``_lib/pf_eval.py`` (2 variant runs + 4 evaluation runs
through ``PFClient`` in one process); promptflow_lite's also computes confidence intervals and
paired comparisons, promptflow's does not.
"""

from __future__ import annotations

import uuid

from _lib.context import Context
from _lib.servers import scripted_llm
from _lib.suites_batch import LLM_MAPPING, _lines

EVAL_MAPPING = {"answer": "${run.outputs.answer}", "ground_truth": "${data.ground_truth}"}
EVALUATORS = ("eval_exact_match", "eval_token_f1")


def run_eval(ctx: Context) -> None:
    data, n = ctx.data["llm"], _lines(ctx.data["llm"])
    pfl = ctx.tools["pfl"]
    over_base = ctx.figure("eval", "eval_run", f"evaluation run over a base run, {n:,} lines", "s",
                           note="`run create --flow eval_exact_match --run BASE` (base run made beforehand)")
    full = None
    if pfl.has_command("eval"):
        full = ctx.figure("eval", "pfl_eval", f"`pfl eval`: 2 variants × 2 evaluators, {n:,} lines", "s",
                          note="promptflow: 6 runs via PFClient in one process (`_lib/pf_eval.py`), no statistics")
    else:
        ctx.skip("eval", "pfl_eval", "`pfl eval`: 2 variants × 2 evaluators", "not available yet (no `pfl eval`)")
    with scripted_llm(pfl.cli(), 0, pfl.env()) as url:
        bases = {key: ctx.run_batch(tool, "llm_chain", data, LLM_MAPPING, tool.env(url), n, "base run (setup)")[1]
                 for key, tool in ctx.tools.items()}
        for rep in range(ctx.runs):
            for key, tool in ctx.tools.items():
                sample, _ = ctx.run_batch(tool, "eval_exact_match", data, EVAL_MAPPING, tool.env(url), n,
                                          f"eval run x{n}", base_run=bases[key])
                over_base.add(key, sample.seconds, sample.peak_rss_mb)
                if full is None:
                    continue
                tool.reset_cache(url)
                sample = ctx.measure(tool, _eval_command(ctx, tool), tool.env(url), f"eval 2x2 x{n}")
                full.add(key, sample.seconds, sample.peak_rss_mb)


def _eval_command(ctx: Context, tool) -> list[str]:
    flow = ctx.flow(tool, "llm_chain")
    evaluators = [str(ctx.flow(tool, name)) for name in EVALUATORS]
    data = str(ctx.data["llm"])
    if tool.key == "pf":
        from _lib.context import BENCH_DIR

        return [tool.python(), str(BENCH_DIR / "_lib" / "pf_eval.py"), str(flow), data, *evaluators,
                "--variants", "variant_0,variant_1"]
    out = tool.scratch / f"eval_{uuid.uuid4().hex[:8]}.json"
    return tool.cli() + ["eval", "--flow", str(flow), "--data", data, "--variants", "variant_0,variant_1",
                         "--evaluator", *evaluators, "--column-mapping", *[f"{k}={v}" for k, v in LLM_MAPPING.items()],
                         "--json", str(out), "--quiet"]
