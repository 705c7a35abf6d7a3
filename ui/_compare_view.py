"""The Compare page: pick runs over the same data; the CLI's paired statistics, a chart per metric, each line
side by side with who won it."""

from __future__ import annotations

from typing import Any

import streamlit as st

from promptflow_lite.evaluate._explain import glossary, reading_note, verdicts
from promptflow_lite.evaluate._line_compare import BETTER, SAME, WORSE, LineComparison, compare_lines
from promptflow_lite.evaluate._text_table import comparison_rows
from promptflow_lite.runs._listing import get_run_row, list_runs
from promptflow_lite.ui._compare_chart import metric_chart
from promptflow_lite.ui._runs_common import current_page, json_block, link, number, pager, preview, short_names

LINES_PER_PAGE = 100
VERDICT_COLORS = {"better": "#15803d", "worse": "#b91c1c"}
ROW_COLORS = {BETTER: "background-color: #ecfdf5", WORSE: "background-color: #fef2f2",
              "differs": "background-color: #fffbeb"}


def show() -> None:
    st.title("Compare runs")
    names, baseline = _choose_runs()
    if len(names) < 2:
        st.info("Pick two or more runs made over the same data (e.g. the variants of one `pfl eval`).",
                icon=":material/compare_arrows:")
        return
    lower = st.session_state.get("compare_lower", [])
    compared = _compare(tuple(names), baseline, tuple(lower), _versions(names))
    labels = short_names(compared.runs)
    with st.expander("Options"):
        st.multiselect("Lower is better for", compared.report.metrics, key="compare_lower",
                       help="metrics where a decrease is an improvement (e.g. latency)")
    _statistics(compared, labels)
    _charts(compared, labels)
    _lines(compared, labels)


def _choose_runs() -> tuple[list[str], str | None]:
    given = [n for part in st.query_params.get_all("runs") + st.query_params.get_all("run")
             for n in part.split(",") if n]
    options = [row["name"] for row in list_runs(kind=None, archived=None, page_size=500).rows]
    options += [name for name in given if name not in options]
    if "compare_runs" not in st.session_state:
        st.session_state["compare_runs"] = [name for name in given if name in options]
    left, right = st.columns([3, 1])
    names = left.multiselect("Runs", options, key="compare_runs", placeholder="choose runs to compare")
    labels = short_names(names)  # long run names differ at their end: show what differs
    baseline = right.selectbox("Baseline", names, index=0 if names else None, key="compare_baseline",
                               format_func=labels.get, help="the run the others are compared with") if names else None
    if names:
        st.query_params["runs"] = ",".join(names)
    return names, baseline


def _versions(names: list[str]) -> tuple:
    """What makes a comparison stale: each run's status and end time."""
    rows = [get_run_row(name) or {} for name in names]
    return tuple((row.get("name"), row.get("status"), row.get("ended_on")) for row in rows)


@st.cache_data(show_spinner="Comparing the runs…", max_entries=16)
def _compare(names: tuple[str, ...], baseline: str | None, lower: tuple[str, ...], _versions: tuple) -> LineComparison:
    from promptflow_lite.runs._client import Client

    return compare_lines(Client(progress=False), list(names), baseline=baseline, lower_is_better=list(lower))


def _statistics(compared: LineComparison, labels: dict[str, str]) -> None:
    import pandas as pd

    report = compared.report
    st.subheader("Statistics", divider="gray")
    st.caption(f"{len(report.variants)} runs on {report.n_lines:,} lines · baseline **{labels[compared.baseline]}** "
               "· the same numbers as `pfl run compare " + " ".join(compared.runs) + "`")
    header, rows = comparison_rows(report)
    header = ["run" if name == "variant" else name for name in header]
    frame = pd.DataFrame([[labels.get(cell, cell) if i == 1 else cell for i, cell in enumerate(row)] for row in rows],
                         columns=_unique(header))
    verdict = frame.columns[-1] if report.baseline else None

    def paint(value: Any) -> str:
        return f"color: {VERDICT_COLORS[value]}; font-weight: 600" if value in VERDICT_COLORS else ""

    style = frame.style.map(paint, subset=[verdict]) if verdict else frame.style
    st.dataframe(style, hide_index=True, width="stretch")
    for sentence in verdicts(report):  # one plain sentence per verdict, as `pfl run compare` prints
        st.markdown(sentence)
    st.caption(reading_note(report, explain_hint=False))
    with st.expander("How the statistics are computed"):
        for note in glossary(report):
            st.caption(note)
    for (run, metric), pair in report.paired.items():
        c = pair.comparison
        st.markdown(f"**{labels[run]}** vs {labels[pair.baseline]} on `{metric}`: "
                    f":green[{c.wins} better] · :red[{c.losses} worse] · {c.ties} same lines")


def _unique(header: list[str]) -> list[str]:
    """Column names made unique (the table repeats "95% CI")."""
    seen: dict[str, int] = {}
    unique = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} (diff)")
    return unique


def _charts(compared: LineComparison, labels: dict[str, str]) -> None:
    report = compared.report
    if not report.metrics:
        return
    records = compared.chart_records()
    columns = st.columns(max(min(len(report.metrics), 3), 2))
    for index, metric in enumerate(report.metrics):
        with columns[index % len(columns)]:
            st.altair_chart(metric_chart(records, metric, labels, report.confidence), width="stretch")
    st.caption(f"Bars: mean over lines; error bars: {report.confidence:.0%} confidence interval. Grey: the baseline.")


def _lines(compared: LineComparison, labels: dict[str, str]) -> None:
    st.subheader("Lines side by side", divider="gray")
    others = [run for run in compared.runs if run != compared.baseline]
    choices = {"All lines": {}, "Outputs differ": {"differing": True}}
    for run in others:
        choices[f"{labels[run]} lost to {labels[compared.baseline]}"] = {"run": run, "outcome": WORSE}
        choices[f"{labels[run]} beat {labels[compared.baseline]}"] = {"run": run, "outcome": BETTER}
    left, middle, right = st.columns([2, 1.5, 1.5])
    show = left.selectbox("Show", list(choices), key="compare_show")
    metric = middle.selectbox("Metric", compared.report.metrics, key="compare_metric") \
        if compared.report.metrics else None
    output_keys = _output_keys(compared)
    output = right.selectbox("Output", output_keys, key="compare_output") if len(output_keys) > 1 else \
        (output_keys[0] if output_keys else None)
    lines = compared.select(metric=metric, **choices[show])
    st.caption(f"{len(lines):,} of {len(compared.lines):,} lines · green: a run beat the baseline on the metric, "
               "red: it lost, yellow: outputs differ")
    if not lines:
        st.info("No line matches.")
        return
    page = current_page("compare_lines_page", show, metric, output, compared.runs)
    pages = max(1, -(-len(lines) // LINES_PER_PAGE))
    page = min(page, pages - 1)
    shown = lines[page * LINES_PER_PAGE:(page + 1) * LINES_PER_PAGE]
    frame, shades = _line_table(shown, compared, labels, metric, output)
    style = frame.style.apply(lambda _: shades, axis=0).format(na_rep="", precision=3)
    event = st.dataframe(style, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                         key=f"compare_lines_{show}_{metric}_{page}")
    pager("compare_lines_page", page, pages, len(lines), "lines")
    if event.selection.rows:
        _line_detail(shown[event.selection.rows[0]], compared, labels)


def _output_keys(compared: LineComparison) -> list[str]:
    keys: dict[str, None] = {}
    for line in compared.lines[:200]:
        for outputs in line["outputs"].values():
            if isinstance(outputs, dict):
                keys.update(dict.fromkeys(outputs))
    return list(keys)


def _line_table(lines, compared: LineComparison, labels, metric, output):
    import pandas as pd

    records, shades = [], []
    for line in lines:
        record: dict[str, Any] = {"#": line["line_number"], "Input": preview(line["inputs"], 90)}
        for run in compared.runs:
            outputs = line["outputs"].get(run)
            value = outputs.get(output) if isinstance(outputs, dict) and output else outputs
            record[labels[run]] = preview(value, 60) if outputs is not None else f"✕ {line['errors'].get(run) or ''}"
            if metric:
                record[f"{labels[run]} · score"] = line["scores"].get(metric, {}).get(run)
        records.append(record)
        outcomes = set((line["outcome"].get(metric) or {}).values()) if metric else set()
        shade = ROW_COLORS[WORSE] if WORSE in outcomes else ROW_COLORS[BETTER] if BETTER in outcomes else \
            ROW_COLORS["differs"] if line["differs"] else ""
        shades.append(shade)
    return pd.DataFrame.from_records(records), shades


def _line_detail(line: dict[str, Any], compared: LineComparison, labels: dict[str, str]) -> None:
    from promptflow_lite.runs._lines import line_entries

    with st.container(border=True):
        st.markdown(f"**Line {line['line_number']}**")
        json_block(line["inputs"], expanded=False)
        for column, run in zip(st.columns(len(compared.runs)), compared.runs):
            with column:
                st.markdown(f"**{labels[run]}**" + (" (baseline)" if run == compared.baseline else ""))
                scores = {m: line["scores"][m].get(run) for m in line["scores"]}
                outcome = {m: line["outcome"][m].get(run) for m in line["outcome"] if line["outcome"][m].get(run)}
                st.caption(" · ".join(f"{m} **{number(v)}**" for m, v in scores.items() if v is not None)
                           + "".join(f" · {o} than baseline" for o in outcome.values() if o != SAME))
                if line["outputs"].get(run) is not None:
                    json_block(line["outputs"][run])
                else:
                    st.error(line["errors"].get(run) or "no output")
                entry = line_entries(run, [line["line_number"]]).get(line["line_number"]) or {}
                if entry.get("trace_id"):
                    link("trace", "trace", icon=":material/timeline:", trace=entry["trace_id"])
