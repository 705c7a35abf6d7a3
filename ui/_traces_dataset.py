""""Add to dataset" on a trace: the line's inputs and its output (or a corrected value) appended to a JSONL file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st

from promptflow_lite.runs._examples import append_example, pick_output

LAST_PATH = "dataset_last_path"


def add_to_dataset_form(view) -> None:
    line = view.line_run or {}
    inputs = line.get("inputs") if isinstance(line.get("inputs"), dict) else {}
    outputs = line.get("outputs")
    with st.expander("Add this line to a dataset", icon=":material/playlist_add:"):
        st.caption("Appends the line's inputs and an expected value to a JSONL file, e.g. to turn a bad "
                   "answer into a regression test for `pfl eval --data`.")
        path = st.text_input("JSONL file", value=st.session_state.get(LAST_PATH) or _suggested_path(line),
                             key=f"dataset_path_{view.trace_id}")
        names = list(outputs) if isinstance(outputs, dict) else []
        left, right = st.columns(2)
        chosen = left.selectbox("Expected value from output", names + (["(all outputs)"] if len(names) > 1 else []),
                                key=f"dataset_output_{view.trace_id}") if names else None
        column = right.text_input("Column name", value=_suggested_column(path, inputs),
                                  key=f"dataset_column_{view.trace_id}")
        current = pick_output(outputs, None if chosen in (None, "(all outputs)") else chosen)
        text = st.text_area("Expected value (edit it to correct the answer)", value=_as_text(current),
                            key=f"dataset_value_{view.trace_id}_{chosen}")
        if st.button("Add line", icon=":material/add:", key=f"dataset_add_{view.trace_id}", type="primary"):
            example = append_example(path, inputs, _parsed(text, current), column=column.strip())
            st.session_state[LAST_PATH] = str(example.path)
            st.success(f"Added as line {example.line} of `{example.path}`.", icon=":material/check:")
            for note in example.notes:
                st.warning(note)


def _suggested_path(line: dict[str, Any]) -> str:
    """The run's data file when it is a JSONL file, else ``dataset.jsonl`` here."""
    from promptflow_lite.runs._listing import get_run_row

    row = get_run_row(line["run"]) if line.get("run") else None
    data = (row or {}).get("data")
    return data if data and data.endswith(".jsonl") else str(Path.cwd() / "dataset.jsonl")


def _suggested_column(path: str, inputs: dict[str, Any]) -> str:
    """The file's first column that is no input (e.g. ``ground_truth``), else ``ground_truth``."""
    try:
        with open(Path(path).expanduser(), encoding="utf-8") as handle:
            first = json.loads(handle.readline() or "{}")
    except (OSError, ValueError):
        first = {}
    extra = [key for key in first if key not in inputs] if isinstance(first, dict) else []
    return extra[0] if extra else "ground_truth"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1, default=str)


def _parsed(text: str, original: Any) -> Any:
    """The edited value: text for a text output, JSON otherwise (text when it does not parse)."""
    if isinstance(original, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text
