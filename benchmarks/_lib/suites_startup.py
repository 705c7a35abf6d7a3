"""startup: ``--version`` and the package import; flowtest: a cold ``flow test`` of the 5-node chain.

Every figure is a fresh process. One unmeasured warm-up per command goes first (it fills the
OS page cache and the ``.pyc`` caches, as on any machine where the tool was used before).
"""

from __future__ import annotations

from _lib.context import Context

FLOW_TEST_INPUTS = {"text": "Hello benchmark world", "number": "3"}


def run_startup(ctx: Context) -> None:
    version = ctx.figure("startup", "version", "`--version` (fresh process)", "s", target=("ratio", 15))
    imports = ctx.figure("startup", "import", "`import` the package (fresh process)", "s", target=("ratio", 15))
    commands = {key: {"version": tool.version_command(), "import": tool.import_command()}
                for key, tool in ctx.tools.items()}
    _repeat(ctx, {"version": version, "import": imports}, commands)
    version.note = "`pfl --version` vs `pf --version`"
    imports.note = "`python -c 'import promptflow_lite'` vs `python -c 'import promptflow'`"


def run_flowtest(ctx: Context) -> None:
    fig = ctx.figure("flowtest", "flow_test", "cold `flow test`, 5-node python flow", "s", target=("ratio", 15))
    commands = {key: {"flow_test": tool.flow_test_command(ctx.flow(tool, "chain5"), FLOW_TEST_INPUTS)}
                for key, tool in ctx.tools.items()}
    _repeat(ctx, {"flow_test": fig}, commands)
    fig.note = "`pfl flow test --flow chain5 --inputs ...` vs `pf flow test ...` (flows/chain5)"


def _repeat(ctx: Context, figures: dict, commands: dict) -> None:
    for key, tool in ctx.tools.items():  # warm-up, not measured
        for what, cmd in commands[key].items():
            ctx.measure(tool, cmd, tool.env(), f"{what} (warm-up)")
    for _ in range(ctx.runs):  # tools interleaved, so drift of the machine hits both alike
        for key, tool in ctx.tools.items():
            for what, cmd in commands[key].items():
                sample = ctx.measure(tool, cmd, tool.env(), what)
                figures[what].add(key, sample.seconds, sample.peak_rss_mb)
