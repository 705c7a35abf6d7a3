"""What the run, compare, evaluation and trace pages share: error display, statuses, number formats, links.

Pages lay out what the library's query functions return; everything here only formats.
"""

from __future__ import annotations

import json
import math
import traceback
from datetime import datetime
from html import escape
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

import streamlit as st

from promptflow_lite.errors import PflError

STATUS_COLORS = {"Completed": "green", "CompletedWithErrors": "orange", "Failed": "red", "Canceled": "gray",
                 "Running": "blue", "Preparing": "blue", "NotResponding": "violet", "NotStarted": "gray",
                 "OK": "green", "ERROR": "red", "Unreadable": "red"}
STATUS_HEX = {"green": "#15803d", "orange": "#c2410c", "red": "#b91c1c", "gray": "#6b7280", "blue": "#1d4ed8",
              "violet": "#7e22ce"}
STATUS_LABELS = {"CompletedWithErrors": "Completed with errors", "NotResponding": "Not responding",
                 "NotStarted": "Not started"}


def guard(body: Callable[[], Any]) -> None:
    """Run a page's body; a problem shows as a message, never as a traceback."""
    try:
        body()
    except PflError as exc:
        st.error(str(exc), icon=":material/error:")
    except Exception as exc:  # noqa: BLE001 - the page must stay usable
        st.error(f"Unexpected error: {type(exc).__name__}: {exc}", icon=":material/bug_report:")
        with st.expander("Details for a bug report"):
            st.code("".join(traceback.format_exception(exc)), language=None)


def status_text(status: str | None) -> str:
    """A status as a table cell (coloured by :func:`styled`)."""
    return f"● {STATUS_LABELS.get(status, status)}" if status else "○ Waiting"


STYLED_ROWS = 300  # a table this long goes without per-cell styles (they cost the browser per cell)


def styled(frame, *columns: str):
    """``frame`` as a pandas Styler st.dataframe shows: status ``columns`` coloured, whole numbers without
    decimals, missing values blank (a long table: just the whole numbers)."""
    import pandas as pd

    by_text = {status_text(status): STATUS_HEX[color] for status, color in STATUS_COLORS.items()}
    by_text.update({"✓": STATUS_HEX["green"], "✕": STATUS_HEX["red"]})

    def color(value: Any) -> str:
        return f"color: {by_text[value]}; font-weight: 500" if value in by_text else ""

    for name in frame.columns:  # counts stay integers (None or NaN made them floats or objects)
        values = frame[name].dropna()
        if pd.api.types.is_float_dtype(frame[name]) and values.apply(float.is_integer).all() or \
                frame[name].dtype == object and values.map(_is_count).all():
            frame[name] = frame[name].astype("Int64")
    if len(frame) > STYLED_ROWS:
        return frame
    present = [column for column in columns if column in frame.columns]
    style = frame.style.format(na_rep="", precision=3, thousands=",")
    return style.map(color, subset=present) if present else style


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def stat_cards(items: Iterable[tuple[str, str]]) -> None:
    """Small cards of label and value in a wrapping row (the figures of a run or a trace)."""
    cards = "".join(f"<div class='pfl-card'><div class='pfl-label'>{escape(str(label))}</div>"
                    f"<div class='pfl-value'>{escape(str(value))}</div></div>" for label, value in items)
    st.markdown(STYLE + f"<div class='pfl-cards'>{cards}</div>", unsafe_allow_html=True)


def progress_bar(fraction: float, text: str, status: str | None) -> None:
    """A thin bar coloured by status (green done, blue going, red failed) with its text above."""
    color = STATUS_HEX.get(STATUS_COLORS.get(status or "", "gray"), STATUS_HEX["gray"])
    width = f"{max(min(fraction, 1.0), 0.0) * 100:.1f}%"
    st.markdown(STYLE + f"<div class='pfl-bar-text'>{escape(text)}</div><div class='pfl-bar'>"
                f"<div style='width:{width};background:{color}'></div></div>", unsafe_allow_html=True)


STYLE = """<style>
.pfl-cards {display: flex; flex-wrap: wrap; gap: 10px; margin: 4px 0 12px 0;}
.pfl-card {border: 1px solid #e5e7eb; border-radius: 8px; padding: 8px 14px; min-width: 110px; background: #fff;}
.pfl-label {font-size: 12px; color: #6b7280; white-space: nowrap;}
.pfl-value {font-size: 20px; font-weight: 600; color: #111827; white-space: nowrap;}
.pfl-bar-text {font-size: 14px; color: #374151; margin-bottom: 4px;}
.pfl-bar {height: 8px; border-radius: 4px; background: #f1f5f9; overflow: hidden; margin-bottom: 6px;}
.pfl-bar > div {height: 100%; border-radius: 4px;}
</style>"""


def status_label(status: str | None) -> str:
    return STATUS_LABELS.get(status or "", status or "")


def status_badge(status: str | None) -> str:
    """A status as a coloured markdown badge."""
    label = STATUS_LABELS.get(status or "", status or "Waiting")
    return f":{STATUS_COLORS.get(status or '', 'gray')}-badge[{label}]"


def duration(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.001 else f"{seconds * 1000:.2f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def moment(value: Any) -> str:
    """An ISO time or epoch seconds as local ``YYYY-MM-DD HH:MM:SS``."""
    if value in (None, ""):
        return ""
    try:
        when = datetime.fromtimestamp(float(value)) if isinstance(value, (int, float)) else \
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OSError):
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone()
    return when.strftime("%Y-%m-%d %H:%M:%S")


def number(value: Any) -> str:
    """A metric value: 3 decimals for fractions, thousands separators for counts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def count(value: Any) -> str:
    """A count for a table cell: ``1,234``, or blank when there is none (Streamlit would print "None")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{int(value):,}"


def count_column(label: str, **options: Any):
    """The column of :func:`count` cells: right-aligned like numbers."""
    return st.column_config.TextColumn(label, alignment="right", **options)


def preview(value: Any, width: int = 120) -> str:
    """A value on one line: a lone string as is, anything else as compact JSON; cut at ``width``."""
    if value is None:
        return ""
    if isinstance(value, dict) and len(value) == 1:
        value = next(iter(value.values()))
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def short_names(names: Iterable[str]) -> dict[str, str]:
    """Run names without the words they all start with (``cls_20261207_variant_0`` → ``variant_0``)."""
    names = list(names)
    words = [name.split("_") for name in names]
    shared = 0
    while len(names) > 1 and all(len(w) > shared + 1 for w in words) and len({w[shared] for w in words}) == 1:
        shared += 1
    labels = ["_".join(w[shared:]) for w in words]
    if shared and any(label.isdigit() or len(label) < 3 for label in labels):
        labels = ["_".join(w[shared - 1:]) for w in words]  # "variant_0" says more than "0"
    return dict(zip(names, labels)) if len(set(labels)) == len(names) else {name: name for name in names}


def page_url(page: str, **params: Any) -> str:
    """A relative link to another page of the app (for link columns of a table)."""
    return f"{page}?{urlencode({k: v for k, v in params.items() if v not in (None, '')})}"


def link(page: str, label: str, *, icon: str | None = None, **params: Any) -> None:
    """A link to another page of the app, opening it on ``params``."""
    from promptflow_lite.ui import _shell

    _shell.page_link(page, label, icon=icon, **{k: str(v) for k, v in params.items()})


def go_to(label: str, *, key: str, icon: str | None = None, page: str | None = None, **params: Any) -> None:
    """A button opening ``page`` (by default this same page) on ``params`` as query parameters (a page link to
    the page one is on would not change them for the next rerun)."""
    if page:
        if st.button(label, key=key, icon=icon, type="tertiary"):
            from promptflow_lite.ui import _shell

            _shell.open_page(page, **{k: str(v) for k, v in params.items()})
        return

    def navigate() -> None:
        st.query_params.from_dict({k: str(v) for k, v in params.items() if v not in (None, "")})

    st.button(label, key=key, icon=icon, on_click=navigate, type="tertiary")


def current_page(key: str, *filters: Any) -> int:
    """The page number kept under ``key``; back to the first page when ``filters`` changed."""
    signature = json.dumps(filters, default=str)
    if st.session_state.get(f"{key}_filters") != signature:
        st.session_state[f"{key}_filters"] = signature
        st.session_state[key] = 0
    return int(st.session_state.get(key, 0))


def pager(key: str, page: int, pages: int, total: int, noun: str) -> None:
    """Previous / next buttons (they change the page kept under ``key``) and where we are."""
    if pages <= 1:
        st.caption(f"{total:,} {noun}")
        return

    def go(to: int) -> None:
        st.session_state[key] = to

    left, middle, right = st.columns([1, 4, 1], vertical_alignment="center")
    left.button("← Previous", key=f"{key}_prev", disabled=page <= 0, on_click=go, args=(page - 1,),
                width="stretch")
    right.button("Next →", key=f"{key}_next", disabled=page >= pages - 1, on_click=go, args=(page + 1,),
                 width="stretch")
    middle.markdown(f"<div style='text-align:center;color:#6b7280'>Page {page + 1} of {pages:,} · "
                    f"{total:,} {noun}</div>", unsafe_allow_html=True)


def json_block(value: Any, *, expanded: bool = True) -> None:
    """A value as the viewer shows it: text as text, anything else as collapsible JSON."""
    if value is None:
        st.caption("None")
    elif isinstance(value, str):
        st.code(value, language=None, wrap_lines=True)
    else:
        st.json(value, expanded=expanded)
