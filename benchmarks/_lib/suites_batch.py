"""batch: executor overhead, I/O-bound LLM batch, DAG parallelism; tracing: on vs off.

Every figure is the wall time of a whole ``run create`` process (start-up included, for both
tools), with each tool's default settings unless stated. No warm-up is excluded. The LLM flows
call a scripted OpenAI server (``pfl testing serve``) in its own process, shared by both tools;
promptflow_lite's LLM response cache is emptied before every repetition, so every line calls
the server.
"""

from __future__ import annotations

from pathlib import Path

from _lib.context import Context, python_value
from _lib.servers import scripted_llm

CHAIN_MAPPING = {"text": "${data.text}", "number": "${data.number}"}
LLM_MAPPING = {"question": "${data.question}", "context": "${data.context}"}
PARALLEL_MAPPING = {"x": "${data.x}"}
CHAIN_NODES = 5
PF_DEFAULT_WORKERS = 4  # promptflow 1.18.5: min(4, lines, memory estimate) worker processes


def run_batch(ctx: Context) -> None:
    _chain(ctx)
    _llm(ctx)
    _parallel(ctx)


def _lines(path: Path) -> int:
    with path.open(encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())


def _chain(ctx: Context) -> None:
    data, n = ctx.data["chain"], _lines(ctx.data["chain"])
    rate = ctx.figure("batch", "chain_lines_per_s", f"5-node python chain, {n:,} lines", "lines/s",
                      better="higher", target=("ratio", 30))
    per_node = ctx.figure("batch", "chain_us_per_node", "… wall time per node execution", "µs",
                          memory_target=False, note="run wall time ÷ (lines × 5 nodes)")
    cpu_per_node = ctx.figure("batch", "chain_cpu_us_per_node", "… CPU time per node execution", "µs",
                              memory_target=False,
                              note="user + system CPU time of the whole process tree ÷ (lines × 5 nodes); "
                                   "barely affected by other load on the machine")
    for rep in range(ctx.runs):
        for key, tool in ctx.tools.items():
            sample, _ = ctx.run_batch(tool, "chain5", data, CHAIN_MAPPING, tool.env(), n, f"chain x{n}")
            rate.add(key, n / sample.seconds, sample.peak_rss_mb)
            per_node.add(key, sample.seconds / (n * CHAIN_NODES) * 1e6)
            cpu_per_node.add(key, sample.cpu_seconds / (n * CHAIN_NODES) * 1e6)
    rate.note = "`run create --flow chain5` (flows/chain5), tracing at each tool's default"


def _llm(ctx: Context) -> None:
    data, n = ctx.data["llm"], _lines(ctx.data["llm"])
    pfl = ctx.tools["pfl"]
    concurrency = int(python_value(pfl.python(), "from promptflow_lite.runs._engine import DEFAULT_CONCURRENCY as c; "
                                                 "print(c)") or 32)
    for latency in (0, 200):
        fig = ctx.figure("batch", f"llm_{latency}ms", f"python→prompt→llm→python, {n:,} lines, {latency} ms LLM",
                         "s", target=("ratio", 10) if latency else None)
        fig.note = "`run create --flow llm_chain` (flows/llm_chain), one LLM call per line"
        workers8 = None
        if latency and "pf" in ctx.tools:
            workers8 = ctx.figure("batch", f"llm_{latency}ms_pf8", f"… promptflow with PF_WORKER_COUNT=8", "s",
                                  note="promptflow_lite column: the default-concurrency runs of the row above")
        with scripted_llm(pfl.cli(), latency, pfl.env()) as url:
            for rep in range(ctx.runs):
                for key, tool in ctx.tools.items():
                    tool.reset_cache(url)
                    sample, _ = ctx.run_batch(tool, "llm_chain", data, LLM_MAPPING, tool.env(url), n,
                                              f"llm x{n} @{latency}ms")
                    fig.add(key, sample.seconds, sample.peak_rss_mb)
                    if workers8 is not None and key == "pf":
                        sample8, _ = ctx.run_batch(tool, "llm_chain", data, LLM_MAPPING,
                                                   tool.env(url, PF_WORKER_COUNT="8"), n,
                                                   f"llm x{n} @{latency}ms, 8 workers")
                        workers8.add("pf", sample8.seconds, sample8.peak_rss_mb)
                    if workers8 is not None and key == "pfl":
                        workers8.add("pfl", sample.seconds, sample.peak_rss_mb)
        if latency:
            limits = {"pfl": n * latency / 1000 / concurrency,
                      "pf": n * latency / 1000 / min(PF_DEFAULT_WORKERS, n)}
            limit = ctx.figure("batch", f"llm_{latency}ms_vs_limit", "… time ÷ physical limit at default concurrency",
                               "×", target=("at_most", 1.5), memory_target=False,
                               note=f"limit = lines × 1 call × {latency} ms ÷ concurrency: promptflow_lite "
                                    f"{concurrency} lines in flight → {limits['pfl']:.2f} s; promptflow "
                                    f"{PF_DEFAULT_WORKERS} worker processes → {limits['pf']:.2f} s")
            limit.details["limit_seconds"] = limits
            for key, values in fig.values.items():
                for seconds in values:
                    limit.add(key, seconds / limits[key])


def _parallel(ctx: Context) -> None:
    data, n = ctx.data["parallel"], _lines(ctx.data["parallel"])
    fig = ctx.figure("batch", "parallel8", f"8 parallel 50 ms nodes + join, {n:,} lines", "s",
                     target=("ratio", 20))
    fig.note = (f"`run create --flow parallel8` (flows/parallel8); sequential work is {n * 8 * 0.05:.0f} s "
                "(time.sleep in sync tools)")
    for rep in range(ctx.runs):
        for key, tool in ctx.tools.items():
            sample, _ = ctx.run_batch(tool, "parallel8", data, PARALLEL_MAPPING, tool.env(), n, f"parallel8 x{n}")
            fig.add(key, sample.seconds, sample.peak_rss_mb)


def run_tracing(ctx: Context) -> None:
    """promptflow_lite only: the chain with ``PFL_TRACING=off`` vs the default (on)."""
    tool = ctx.tools["pfl"]
    data, n = ctx.data["chain"], _lines(ctx.data["chain"])
    off = ctx.figure("tracing", "chain_tracing_off", f"chain, {n:,} lines, PFL_TRACING=off", "lines/s",
                     better="higher", memory_target=False)
    on = ctx.figure("tracing", "chain_tracing_on", f"chain, {n:,} lines, tracing on (default)", "lines/s",
                    better="higher", memory_target=False)
    overhead = ctx.figure("tracing", "tracing_overhead", "… tracing overhead (throughput lost)", "%",
                          target=("at_most", 10), memory_target=False)
    cpu_overhead = ctx.figure("tracing", "tracing_cpu_overhead", "… tracing overhead (extra CPU time)", "%",
                              memory_target=False,
                              note="paired repetitions; CPU(on) ÷ CPU(off) − 1, user + system time of the process")
    home = tool.home(None)
    for rep in range(ctx.runs):
        s_off, _ = ctx.run_batch(tool, "chain5", data, CHAIN_MAPPING, tool.env(PFL_TRACING="off"), n,
                                 f"chain x{n} tracing off")
        s_on, _ = ctx.run_batch(tool, "chain5", data, CHAIN_MAPPING, tool.env(), n, f"chain x{n} tracing on")
        off.add("pfl", n / s_off.seconds, s_off.peak_rss_mb)
        on.add("pfl", n / s_on.seconds, s_on.peak_rss_mb)
        overhead.add("pfl", (1 - s_off.seconds / s_on.seconds) * 100)
        cpu_overhead.add("pfl", (s_on.cpu_seconds / s_off.cpu_seconds - 1) * 100)
    traced = any(home.glob("trace*.sqlite*"))
    overhead.note = "paired repetitions; 1 − time(off) ÷ time(on)"
    if not traced:
        overhead.skipped = ("not measurable yet: `pfl run create` wrote no trace store (tracing is not wired into "
                            "runs), so 'on' ran untraced")
    overhead.details["trace_store_written"] = traced
