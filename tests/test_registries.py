"""Engines and evaluators are found by name: what ships, then what installed packages register in the
entry-point groups ``promptflow_lite.engines`` / ``promptflow_lite.evaluators`` - here a package
installed for the test (a ``.dist-info`` with ``entry_points.txt`` on ``sys.path``, as pip writes it)."""

from __future__ import annotations

import importlib
import sys
import textwrap

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.errors import UserError
from promptflow_lite.evaluate import evaluator_names, evaluator_path
from promptflow_lite.runs import Client, RunSpec, engine_for

ENGINE = '''
import asyncio


class SerialEngine:
    """Runs the lines one at a time, in order, and says so."""

    runs = []

    def __init__(self, max_concurrency=None):
        self.max_concurrency = max_concurrency

    @classmethod
    def from_spec(cls, spec):
        return cls(spec.max_concurrency)

    async def execute(self, flow, tasks, on_result, *, line_timeout=None, recipe=None, log=None):
        SerialEngine.runs.append(self.max_concurrency)
        for task in tasks:
            on_result(await flow.arun(task.inputs, line_number=task.line_number, timeout=line_timeout,
                                      attributes=task.attributes))
'''
EVALUATOR_FLOW = {
    "flow.dag.yaml": """
        inputs: {answer: {type: string}}
        outputs: {length: {reference: "${measure.output}"}}
        nodes:
        - {name: measure, type: python, source: {type: code, path: measure.py}, inputs: {answer: "${inputs.answer}"}}
        """,
    "measure.py": """
        from promptflow.core import tool

        @tool
        def measure(answer: str) -> int:
            return len(answer)
        """,
}


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """``pfl_extras`` installed with an engine and an evaluator (a package whose folder is a flow)."""
    site = tmp_path / "site"
    package = site / "pfl_extras"
    (package / "answer_length").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "engines.py").write_text(ENGINE)
    (package / "answer_length" / "__init__.py").write_text("")
    for name, text in EVALUATOR_FLOW.items():
        (package / "answer_length" / name).write_text(textwrap.dedent(text).lstrip())
    info = site / "pfl_extras-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pfl-extras\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[promptflow_lite.engines]\nserial = pfl_extras.engines:SerialEngine\n\n"
                                           "[promptflow_lite.evaluators]\nanswer_length = pfl_extras.answer_length\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield package
    for name in [n for n in sys.modules if n == "pfl_extras" or n.startswith("pfl_extras.")]:
        del sys.modules[name]  # the next test installs it afresh


def test_an_installed_engine_runs_a_batch_by_name(installed, make_flow, tmp_path):
    flow = make_flow({**EVALUATOR_FLOW})
    data = tmp_path / "data.jsonl"
    data.write_text('{"answer": "four"}\n{"answer": "seven"}\n')
    run = Client().run(flow=flow, data=data, engine="serial", max_concurrency=3, name="serial_run")
    assert run.status == "Completed"
    assert list(Client().get_details(run)["outputs.length"]) == [4, 5]
    engines = importlib.import_module("pfl_extras.engines")
    assert engines.SerialEngine.runs == [3]
    assert type(engine_for(RunSpec())).__name__ == "LocalEngine"


def test_an_unknown_engine_is_refused_before_the_run_starts(make_flow, tmp_path, capsys):
    data = tmp_path / "data.jsonl"
    data.write_text('{"answer": "x"}\n')
    assert pfl(["run", "create", "--flow", str(make_flow(EVALUATOR_FLOW)), "--data", str(data),
                "--engine", "warp", "--name", "never"]) == 1
    assert "Unknown engine 'warp'" in capsys.readouterr().err and not Client().runs.list()


def test_an_installed_evaluator_is_found_by_name(installed):
    assert "answer_length" in evaluator_names() and "exact_match" in evaluator_names()
    assert evaluator_path("answer_length") == installed / "answer_length"
    with pytest.raises(UserError, match="answer_length"):  # the error lists what is known
        evaluator_path("no_such_evaluator")


def test_pfl_eval_uses_an_installed_evaluator(installed, make_flow, tmp_path, capsys):
    flow = make_flow({**EVALUATOR_FLOW}, name="base")
    data = tmp_path / "data.jsonl"
    data.write_text('{"answer": "four"}\n{"answer": "seven"}\n')
    assert pfl(["eval", "--flow", str(flow), "--data", str(data), "-e", "answer_length",
                "--evaluator-mapping", "answer_length.answer=${data.answer}", "--quiet"]) == 0
    assert "answer_length.length" in capsys.readouterr().out


def test_a_process_registers_an_engine_function_and_the_known_names_are_listed(make_flow, tmp_path, monkeypatch,
                                                                              capsys):
    from promptflow_lite.runs import LocalEngine, register_engine
    from promptflow_lite.runs._engine import ENGINES

    monkeypatch.setattr(ENGINES, "_registered", {})  # this test's registration ends with it
    made = []

    def one_at_a_time(spec):
        made.append(spec.name)
        return LocalEngine(1)

    register_engine("one_at_a_time", one_at_a_time)
    data = tmp_path / "data.jsonl"
    data.write_text('{"answer": "four"}\n{"answer": "seven"}\n')
    run = Client().run(flow=make_flow(EVALUATOR_FLOW), data=data, engine="one_at_a_time", name="one")
    assert run.status == "Completed" and "one" in made
    assert run.properties["engine"] == "one_at_a_time"
    assert pfl(["run", "create", "--flow", str(make_flow(EVALUATOR_FLOW)), "--data", str(data),
                "--engine", "warp", "--name", "never"]) == 1
    assert "use one of local, one_at_a_time, processes, ray" in capsys.readouterr().err
