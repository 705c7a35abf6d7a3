"""One evaluation's page (``/evaluation?evaluation=NAME``): a live progress bar per run, read from the run index,
then the comparison table ``pfl eval`` printed; and the list of past evaluations for the New evaluation page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptflow_lite.evaluate._background import (FAILED, GATES_FAILED, INTERRUPTED, RUNNING, SUCCEEDED,
                                                 EvaluationJob, get_evaluation, job_runs, list_evaluations)
from promptflow_lite.ui._runs_common import link, moment, page_url, progress_bar, short_names, status_text
from promptflow_lite.ui._shell import open_page

STATE_BADGES = {RUNNING: ":blue-badge[running]", SUCCEEDED: ":green-badge[finished]",
                GATES_FAILED: ":orange-badge[finished, a gate failed]", FAILED: ":red-badge[failed]",
                INTERRUPTED: ":violet-badge[interrupted]"}


def show(name: str) -> None:
    if st.button("New evaluation", icon=":material/add:", key="evaluate_new"):
        open_page("evaluate")
    job = get_evaluation(name)
    st.title(job.name)
    settings = job.settings
    st.markdown(f"{STATE_BADGES[job.state]} · started {moment(job.started)} · flow `{settings.get('flow')}` · "
                + _plan(settings))
    if job.state == RUNNING:
        _live(job.name)
    else:
        _bars(job)
        _outcome(job)


def _plan(settings: dict[str, Any]) -> str:
    """What the evaluation runs, in words: "2 variants × 3 repeats · evaluated by `exact_match`"."""
    variants, repeats = len(settings.get("variants") or []) or 1, settings.get("repeats") or 1
    evaluators = settings.get("evaluators") or []
    plan = f"{variants} variant{'s' if variants > 1 else ''}" + (f" × {repeats} repeats" if repeats > 1 else "")
    return plan + (" · evaluated by " + ", ".join(f"`{e}`" for e in evaluators) if evaluators else "")


@st.fragment(run_every=1.0)
def _live(name: str) -> None:
    """The bars, refreshed every second; the whole page reloads once the evaluation has ended."""
    job = get_evaluation(name)
    _bars(job)
    if job.state != RUNNING:
        st.rerun()


def _bars(job: EvaluationJob) -> None:
    """A bar per run, from the run index."""
    runs = job_runs(job)
    labels = short_names([run["name"] for run in runs])
    done = sum(1 for run in runs if run["status"] in ("Completed", "CompletedWithErrors", "Failed", "Canceled"))
    progress_bar(done / len(runs) if runs else 1.0, f"{done} of {len(runs)} runs done",
                 "Running" if done < len(runs) else "Completed")
    for run in runs:
        left, right = st.columns([1, 3], vertical_alignment="bottom")
        label = labels[run["name"]]
        left.markdown(f"[{label}]({page_url('run', run=run['name'])})" if run["status"] else f"{label}")
        with right:
            progress_bar(_fraction(run), _line_text(run), run["status"] or "NotStarted")


def _fraction(run: dict[str, Any]) -> float:
    total = run.get("total_lines") or 0
    return min((run.get("completed_lines", 0) + run.get("failed_lines", 0)) / total, 1.0) if total else 0.0


def _line_text(run: dict[str, Any]) -> str:
    if not run["status"]:
        return "waiting"
    total = run.get("total_lines") or 0
    text = f"{status_text(run['status'])} · {run['completed_lines'] + run['failed_lines']:,} of {total:,} lines"
    return text + (f" · {run['failed_lines']:,} failed" if run["failed_lines"] else "")


def _outcome(job: EvaluationJob) -> None:
    if job.output.strip():
        st.subheader("Comparison", divider="gray")
        with st.container(key="pfl_comparison_table"):  # a smaller font: the CLI's table fits at 1280 px
            st.code(job.output.rstrip(), language=None)
        result = job.result or {}
        bases = [runs["base"][0] for runs in (result.get("runs") or {}).values() if runs.get("base")]
        if len(bases) >= 2:
            link("compare", "Open in Compare (chart, lines side by side)", icon=":material/compare_arrows:",
                 runs=",".join(bases))
        _charts(result)
    if job.state in (FAILED, INTERRUPTED):
        tail = "\n".join(job.log.strip().splitlines()[-12:])
        message = "The evaluation stopped before its end." if job.state == INTERRUPTED else "The evaluation failed."
        st.error(message + (f"\n\n```\n{tail}\n```" if tail else ""), icon=":material/error:")
        st.caption("A run that was interrupted can be completed with `pfl run resume NAME`.")
    with st.expander("Log"):
        st.code(job.log or "(empty)", language=None)


def _charts(result: dict[str, Any]) -> None:
    """The HTML report's charts (means with CIs, paired differences, Pareto scatter, slices), from the JSON result."""
    from promptflow_lite.evaluate._chart_figures import draw_figures

    figures = draw_figures(result.get("charts") or {}, result.get("confidence") or 0.95)
    if not figures:
        return
    st.subheader("Charts", divider="gray")
    for svg in [*figures.metrics, *figures.forest]:
        st.image(svg)  # as an image: st.html's sanitizer removes inline SVG
    if figures.pareto:
        st.image(figures.pareto)
        st.caption("Points: " + ", ".join(f"**{number}** {row['variant']}" for number, row in
                                          enumerate(_plotted(result["charts"]["pareto"]), 1))
                   + ". Blue: on the Pareto front (quality × cost × p95 latency); point size: p95 latency.")
    for figure in figures.slices:
        st.image(figure["chart"])


def _plotted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Pareto records that are points of the scatter, in its numbering."""
    return [row for row in rows if row.get("quality") is not None and row.get("cost") is not None]


def past_evaluations() -> None:
    jobs = list_evaluations()
    if not jobs:
        return
    import pandas as pd

    st.subheader("Started from here", divider="gray")
    frame = pd.DataFrame.from_records([{
        "Evaluation": page_url("evaluation", evaluation=job.name), "State": job.state,
        "Flow": str(job.settings.get("flow", "")).rsplit("/", 1)[-1],
        "Variants": ", ".join(job.settings.get("variants") or []),
        "Evaluators": ", ".join(job.settings.get("evaluators") or []), "Started": moment(job.started)} for job in jobs])
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "Evaluation": st.column_config.LinkColumn("Evaluation", display_text=r"evaluation=(.*)$")})
