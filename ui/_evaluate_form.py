"""The New evaluation page's form: the choices of ``pfl eval`` (flow, data, variants, evaluators and their
mapping, repeats, offline mode), checked as they are made, started in the background."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from promptflow_lite.errors import PflError, UserError

OFFLINE_RULES = "scripted_llm.yaml"  # the example flows' scripted answers (pfl --scripted-llm)


def show() -> None:
    st.title("New evaluation")
    st.caption("Runs `pfl eval` in the background: each variant over the data, each evaluator on every run, then "
               "the paired comparison. It goes on if you close this tab; its runs are listed under **Runs** "
               "(and `pfl run resume` completes one that was interrupted).")
    flow = _flow()
    if flow is None:
        return
    data, columns = _data(flow)
    if data is None:
        return
    from promptflow_lite.evaluate._session import choose_variants, flow_output_names, variant_labels

    selectors = choose_variants(flow, "all")
    outputs = flow_output_names(flow)
    from promptflow_lite.ui._evaluate_grid import analysis_options, grid_variants

    chosen, baseline = grid_variants(flow, selectors) or _variants(selectors, variant_labels(selectors))
    specs, texts = _evaluators(columns)
    if not specs:
        st.info("Choose at least one evaluator.", icon=":material/rule:")
        return
    flow_mapping = _flow_mapping(flow, columns)
    evaluator_mapping, missing = _evaluator_mappings(specs, outputs, columns)
    options = {**_options(flow), **analysis_options(columns, len(chosen))}
    if missing:
        st.warning("Map every required evaluator input: " + ", ".join(missing), icon=":material/warning:")
    if st.button("Start evaluation", type="primary", icon=":material/play_arrow:", disabled=bool(missing),
                 key="evaluate_start"):
        _start(flow, data, specs, texts, chosen, baseline, flow_mapping, evaluator_mapping, options)


def _flow() -> Path | None:
    from promptflow_lite.ui import _shell

    default = _shell.current_flow()
    if default is None and (Path.cwd() / "flows" / "classification").is_dir():
        default = Path.cwd() / "flows" / "classification"
    text = st.text_input("Flow folder", value=str(default or ""), key="evaluate_flow",
                         placeholder="path of a flow folder (flow.dag.yaml, flow.flex.yaml or .prompty)").strip()
    if not text:
        st.info("Enter the folder of the flow to evaluate.", icon=":material/folder_open:")
        return None
    from promptflow_lite.flow._loader import resolve_flow_path

    try:
        resolve_flow_path(Path(text).expanduser())
    except PflError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    return Path(text).expanduser().resolve()


def _data(flow: Path) -> tuple[Path | None, list[str]]:
    from promptflow_lite.runs._data import columns, load_data

    guess = next((flow / name for name in ("data.jsonl", "data.csv", "data.json") if (flow / name).is_file()), None)
    text = st.text_input("Data file", value=str(guess or ""), key=f"evaluate_data_{flow}",
                         placeholder=".jsonl, .json, .csv, .tsv, .parquet or a folder").strip()
    if not text:
        st.info("Enter the data file to evaluate over.", icon=":material/dataset:")
        return None, []
    try:
        rows = load_data(Path(text).expanduser())
    except PflError as exc:
        st.error(str(exc), icon=":material/error:")
        return None, []
    found = columns(rows)
    st.caption(f"{len(rows):,} lines · columns: " + ", ".join(f"`{c}`" for c in found))
    return Path(text).expanduser().resolve(), found


def _variants(selectors: list[str | None], labels: list[str]) -> tuple[list[str | None], str | None]:
    if selectors == [None]:
        st.caption("The flow has no node variants: it is evaluated as it is.")
        return [None], None
    by_label = dict(zip(labels, selectors))
    left, right = st.columns([3, 1])
    chosen = left.multiselect("Variants", labels, default=labels, key="evaluate_variants")
    baseline = right.selectbox("Baseline", chosen, key="evaluate_baseline") if chosen else None
    if not chosen:
        raise UserError("Choose at least one variant.")
    return [by_label[label] for label in chosen], baseline


def _evaluators(columns: list[str]):
    from promptflow_lite.evaluate._registry import builtin_names
    from promptflow_lite.evaluate._evaluators import parse_evaluators

    left, right = st.columns([2, 2])
    if "evaluate_builtins" not in st.session_state and "ground_truth" in columns:
        st.session_state["evaluate_builtins"] = ["exact_match"]  # the data holds expected answers
    names = left.multiselect("Built-in evaluators", builtin_names(), key="evaluate_builtins",
                             help="exact_match, f1_score… (the LLM judges need a connection)")
    custom = right.text_area("More evaluators, one per line", key="evaluate_custom", height=68,
                             placeholder="contains:substring=Paris\nacc=./my_eval_flow",
                             help="as `pfl eval --evaluator`: NAME_OR_PATH[:k=v,...], ALIAS=... to rename")
    texts = list(names) + [line.strip() for line in custom.splitlines() if line.strip()]
    try:
        return parse_evaluators(texts), texts
    except PflError as exc:
        st.error(str(exc), icon=":material/error:")
        return [], texts


def _flow_mapping(flow: Path, columns: list[str]) -> dict[str, str]:
    from promptflow_lite.evaluate._evaluators import flow_inputs
    from promptflow_lite.evaluate._session import base_mapping

    inputs = flow_inputs(flow)
    suggested = base_mapping(flow, columns, None)
    choices = [f"${{data.{c}}}" for c in columns]
    edited = _mapping_editor("Flow inputs", "evaluate_flow_mapping", inputs, suggested, choices)
    return {name: value for name, value in edited.items() if value and value != suggested.get(name)}


def _evaluator_mappings(specs, outputs: list[str], columns: list[str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    from promptflow_lite.evaluate._evaluators import flow_inputs, suggested_mapping

    overrides: dict[str, dict[str, str]] = {}
    missing = []
    choices = [f"${{run.outputs.{o}}}" for o in outputs] + [f"${{data.{c}}}" for c in columns]
    for spec in specs:
        inputs = flow_inputs(spec.path)
        suggested = suggested_mapping(spec, outputs, columns)
        edited = _mapping_editor(f"Evaluator {spec.alias}", f"evaluate_mapping_{spec.alias}", inputs, suggested,
                                 choices + [v for v in suggested.values() if v and v not in choices])
        overrides[spec.alias] = {k: v for k, v in edited.items() if v and v != suggested.get(k)}
        missing += [f"{spec.alias}.{name}" for name, has_default in inputs.items()
                    if not has_default and not edited.get(name)]
    return overrides, missing


def _mapping_editor(title: str, key: str, inputs: dict[str, bool], suggested: dict[str, Any],
                    choices: list[str]) -> dict[str, str | None]:
    """A choice per input of where it is read from (a reference, or a typed literal); returns the mapping."""
    if not inputs:
        return {}
    st.markdown(f"**{title}**")
    mapping: dict[str, str | None] = {}
    names = list(inputs)
    for start in range(0, len(names), 4):
        for column, name in zip(st.columns(4), names[start:start + 4]):
            value = suggested.get(name)
            options = list(dict.fromkeys(([value] if value else []) + choices))
            mapping[name] = column.selectbox(
                name + ("" if inputs[name] else " *"), options, index=options.index(value) if value else None,
                key=f"{key}_{name}", accept_new_options=True,
                placeholder="choose…" if not inputs[name] else "its default",
                help="required" if not inputs[name] else "optional: the input has a default")
    return mapping


def _options(flow: Path) -> dict[str, Any]:
    rules = flow / OFFLINE_RULES
    with st.expander("Options", expanded=rules.is_file()):
        left, middle, right = st.columns(3)
        repeats = left.number_input("Repeats", min_value=1, max_value=20, value=1, key="evaluate_repeats",
                                    help="run each variant R times and report per-line consistency")
        concurrency = middle.number_input("Lines in flight", min_value=1, max_value=512, value=16,
                                          key="evaluate_concurrency")
        name = right.text_input("Name (optional)", key="evaluate_name", placeholder="<flow>_eval_<time>",
                                help="prefix of the run names")
        use_cache = st.toggle("Answer repeated LLM requests from the cache", value=True, key="evaluate_cache")
        offline = st.toggle("Offline: answer every LLM call from the scripted server", value=rules.is_file(),
                            key="evaluate_offline", help="pfl --scripted-llm RULES (no key, no network)")
        rules_text = st.text_input("Scripted answers (rules file)", value=str(rules) if rules.is_file() else "",
                                   key="evaluate_rules", disabled=not offline)
    return {"repeats": int(repeats), "max_concurrency": int(concurrency), "name": name.strip() or None,
            "use_cache": use_cache, "scripted_llm": rules_text.strip() if offline and rules_text.strip() else None}


def _start(flow, data, specs, texts, chosen, baseline, flow_mapping, evaluator_mapping, options) -> None:
    from promptflow_lite.evaluate._background import start_evaluation
    from promptflow_lite.evaluate._session import EvaluationPlan

    scripted = options.pop("scripted_llm")
    plan = EvaluationPlan(flow=flow, data=data, evaluators=specs, variants=chosen, baseline=baseline,
                          column_mapping=flow_mapping or None, evaluator_mapping=evaluator_mapping, **options)
    job = start_evaluation(plan, evaluator_args=texts, scripted_llm=scripted)
    from promptflow_lite.ui import _shell

    _shell.open_page("evaluation", evaluation=job.name)
