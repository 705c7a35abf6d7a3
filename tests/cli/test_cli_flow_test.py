"""``pfl flow test`` as a user runs it: example flows against the scripted server, faults, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main
from promptflow_lite.testing import ScriptedServer

REPO = Path(__file__).resolve().parents[2]
CLASSIFICATION = REPO / "flows" / "classification"
CHAT = REPO / "flows" / "chat_basic"


@pytest.fixture
def server(scripted_connections, monkeypatch):
    with ScriptedServer(rules=str(CLASSIFICATION / "scripted_llm.yaml")) as srv:
        scripted_connections(srv)
        monkeypatch.setenv("PFL_LLM_BACKOFF_SECONDS", "0.01")
        yield srv


def test_classification_variants_and_activate_branch(server, capsys, flow_test_json):
    out = flow_test_json("--flow", str(CLASSIFICATION), "--inputs", "text=The app crashes on start")
    assert out == {"category": "bug", "priority": "high", "summary": "bug ticket (priority: high)"}
    zero_shot = flow_test_json("--flow", str(CLASSIFICATION), "--inputs", "text=Please refund my order")
    assert zero_shot["category"] == "other" and zero_shot["priority"] == "n/a"  # triage bypassed
    few_shot = flow_test_json("--flow", str(CLASSIFICATION), "--inputs", "text=Please refund my order",
                        "--variant", "${classify.variant_1}")
    assert few_shot["category"] == "billing"


def test_chat_flow_uses_history(server, capsys, tmp_path, flow_test_json):
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"question": "And how do I run it?", "chat_history": [
        {"inputs": {"question": "What is promptflow_lite?"}, "outputs": {"answer": "A runner."}}]}))
    server.rules = str(CHAT / "scripted_llm.yaml")
    out = flow_test_json("--flow", str(CHAT), "--inputs-file", str(inputs))
    assert out == {"answer": "Run `pfl flow test --flow flows/chat_basic --interactive`."}
    sent = server.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == "A runner."


def test_transient_faults_are_retried(server, capsys, flow_test_json):
    server.fail_rate = 0.3
    server.fail_kinds = ("429", "500")
    for text in ("The app crashes", "Refund please", "Add dark mode", "Hello there", "Upload fails"):
        flow_test_json("--flow", str(CLASSIFICATION), "--inputs", f"text={text}")
    assert server.stats["faults"], "the server should have injected faults"


def test_permanent_401_fails_fast_with_a_clear_message(scripted_connections, monkeypatch, capsys):
    with ScriptedServer(api_key="the-right-key") as srv:
        scripted_connections(srv, api_key="wrong")
        code = main(["flow", "test", "--flow", str(CLASSIFICATION), "--inputs", "text=hi", "--output", "json"])
        requests = srv.stats["requests"]
    captured = capsys.readouterr()
    assert code == 1 and captured.out == ""
    assert "classify" in captured.err and "401" in captured.err and "api_key" in captured.err
    assert requests == 1  # not retried


def test_failure_prints_type_node_and_message_on_stderr(make_flow, capsys):
    folder = make_flow({
        "flow.dag.yaml": "inputs:\n  x:\n    type: string\noutputs:\n  out:\n    reference: ${boom.output}\n"
        "nodes:\n- name: boom\n  type: python\n  source:\n    type: code\n    path: boom.py\n  inputs:\n"
        "    x: ${inputs.x}\n",
        "boom.py": "from promptflow.core import tool\n@tool\ndef boom(x: str):\n    raise KeyError(x)\n",
    })
    assert main(["flow", "test", "--flow", str(folder), "--inputs", "x=k", "--output", "json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ToolExecutionError" in captured.err and "'boom'" in captured.err and "KeyError" in captured.err


def test_node_test_with_reference_inputs(server, capsys, flow_test_json):
    out = flow_test_json("--flow", str(CLASSIFICATION), "--node", "parse_category",
                   "--inputs", "answer=It is a Billing question.")
    assert out == "billing"


def test_json_output_is_exactly_one_object_even_when_tools_print(make_flow):
    folder = make_flow({
        "flow.dag.yaml": "inputs: {}\noutputs:\n  out:\n    reference: ${talk.output}\nnodes:\n- name: talk\n"
        "  type: python\n  source:\n    type: code\n    path: talk.py\n  inputs: {}\n",
        "talk.py": "from promptflow.core import tool\n@tool\ndef talk():\n    print('chatty tool')\n    return 1\n",
    })
    done = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "flow", "test", "--flow", str(folder),
                           "--output", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"out": 1}
    assert "chatty tool" in done.stderr


def test_interactive_chat_keeps_history(server):
    import io

    from promptflow_lite.cli._chat import chat_loop

    server.rules = str(CHAT / "scripted_llm.yaml")
    questions = iter(["What is promptflow_lite?", "And how do I run it?"])

    def read(prompt: str) -> str:
        try:
            return next(questions)
        except StopIteration:
            raise EOFError from None

    out = io.StringIO()
    assert chat_loop(str(CHAT), read=read, write=out) == 0
    text = out.getvalue()
    assert "Bot: A light, fast runner for promptflow flows." in text
    assert "Bot: Run `pfl flow test --flow flows/chat_basic --interactive`." in text
    second = server.requests[-1]["body"]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[2]["content"] == "A light, fast runner for promptflow flows."


def test_node_test_of_an_aggregation_node_gets_lists(make_flow, capsys, tmp_path):
    folder = make_flow({
        "flow.dag.yaml": "inputs:\n  x:\n    type: int\noutputs: {}\nnodes:\n"
        "- name: double\n  type: python\n  source:\n    type: code\n    path: double.py\n  inputs:\n    x: ${inputs.x}\n"
        "- name: total\n  type: python\n  source:\n    type: code\n    path: total.py\n  inputs:\n"
        "    values: ${double.output}\n  aggregation: true\n",
        "double.py": "from promptflow.core import tool\n@tool\ndef double(x: int):\n    return 2 * x\n",
        "total.py": "from promptflow.core import tool\n@tool\ndef total(values: list):\n    return sum(values)\n",
    })
    given = tmp_path / "given.json"
    given.write_text('{"double.output": 5}')
    assert main(["flow", "test", "--flow", str(folder), "--node", "total", "--inputs-file", str(given),
                 "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == 5


def test_node_test_converts_flow_input_values_to_their_types(make_flow, capsys):
    folder = make_flow({
        "flow.dag.yaml": "inputs:\n  n:\n    type: int\n    default: 2\noutputs: {}\nnodes:\n"
        "- name: double\n  type: python\n  source:\n    type: code\n    path: double.py\n  inputs:\n    x: ${inputs.n}\n",
        "double.py": "from promptflow.core import tool\n@tool\ndef double(x):\n    return 2 * x\n",
    })
    for given in ("x=3", "inputs.n=3"):  # by parameter name or by reference, as promptflow accepts
        assert main(["flow", "test", "--flow", str(folder), "--node", "double", "--inputs", given,
                     "--output", "json"]) == 0
        assert json.loads(capsys.readouterr().out) == 6


def test_stream_prints_the_answer_as_it_arrives(server, capsys):
    server.rules = str(CHAT / "scripted_llm.yaml")
    assert main(["flow", "test", "--flow", str(CHAT), "--inputs", "question=What is promptflow_lite?",
                 "--stream"]) == 0
    assert capsys.readouterr().out == "answer: A light, fast runner for promptflow flows.\n"
    assert server.requests[-1]["body"].get("stream") is True


def test_chat_history_without_default_starts_empty(make_flow, capsys, flow_test_json):
    folder = make_flow({
        "flow.dag.yaml": "inputs:\n  question:\n    type: string\n    is_chat_input: true\n  chat_history:\n"
        "    type: list\noutputs:\n  answer:\n    reference: ${turns.output}\n    is_chat_output: true\nnodes:\n"
        "- name: turns\n  type: python\n  source:\n    type: code\n    path: turns.py\n  inputs:\n"
        "    history: ${inputs.chat_history}\n",
        "turns.py": "from promptflow.core import tool\n@tool\ndef turns(history: list):\n    return len(history)\n",
    })
    assert flow_test_json("--flow", str(folder), "--inputs", "question=hi") == {"answer": 0}  # as pf flow test


def test_offline_mode_needs_no_key_in_the_environment(tmp_path, monkeypatch, capsys, flow_test_json):
    from promptflow_lite.testing import _offline as offline

    connections = {"open_ai_connection": {"type": "OpenAIConnection", "value": {
        "api_key": "${env:PFL_TEST_UNSET_KEY}", "base_url": "https://api.openai.com/v1"}}}
    (tmp_path / "connections.json").write_text(json.dumps(connections))
    monkeypatch.setenv("PROMPTFLOW_CONNECTIONS", str(tmp_path / "connections.json"))
    monkeypatch.delenv("PFL_TEST_UNSET_KEY", raising=False)
    monkeypatch.setenv(offline.ENV, str(CHAT / "scripted_llm.yaml"))  # what `pfl --scripted-llm RULES` sets
    monkeypatch.setattr(offline, "_server", None)
    try:
        out = flow_test_json("--flow", str(CHAT), "--inputs", "question=What is promptflow_lite?")
        assert out == {"answer": "A light, fast runner for promptflow flows."}
        assert main(["flow", "test", "--flow", str(CHAT), "--inputs", "question=Hello"]) == 0
    finally:
        if offline._server is not None:
            offline._server.stop()
    trace_id = capsys.readouterr().err.split("Trace: ")[1].split()[0]
    assert main(["trace", "show", trace_id, "--output", "json"]) == 0
    assert "scripted answer" in capsys.readouterr().out  # the offline key is a secret: not a word answers use


EXAMPLE_INPUTS = {  # inputs without a default (a default would hide the data column of a batch run)
    "chat_basic": ["question=What is promptflow_lite?"],
    "classification": ["text=The app crashes every time I open the settings page."],
    "support_grid": ["ticket=I was charged twice for my subscription this month. -- Sent from my phone"],
}
EXAMPLE_OUTPUTS = {  # each example flow in offline mode
    "chat_basic": {"answer": "A light, fast runner for promptflow flows."},
    "classification": {"category": "bug", "priority": "high", "summary": "bug ticket (priority: high)"},
    "flex_class": {"exact_match": False, "f1": 0.4},
    "flex_function": {"summary": "Build LLM apps as flows; flex flows are plain Python.", "words_in": 17,
                      "words_out": 10},
    "prompty_basic": {"output": "A prompt with its model settings in YAML front matter, runnable on its own."},
    "support_grid": {"team": "billing"},
}


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "flows").iterdir() if p.is_dir()))
def test_every_example_flow_runs_offline(name, tmp_path):
    folder = REPO / "flows" / name
    rules = folder / "scripted_llm.yaml"
    offline = ["--scripted-llm", str(rules)] if rules.is_file() else []
    proc = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", *offline, "flow", "test",
                           "--flow", str(folder), "--output", "json", "--inputs", *EXAMPLE_INPUTS.get(name, [])],
                          capture_output=True, text=True, env={**_env(), "PFL_HOME": str(tmp_path)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == EXAMPLE_OUTPUTS[name]  # stdout is exactly one JSON object


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("PROMPTFLOW_CONNECTIONS", "PFL_SCRIPTED_LLM")}


CHAIN5 = REPO / "benchmarks" / "flows" / "chain5"  # five python nodes: the flow of the flowtest benchmark


def _chain5(tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(CHAIN5, tmp_path / "chain5"))

def test_a_flow_test_writes_its_trace_without_starting_a_writer_process(tmp_path, capsys, monkeypatch):
    # one line's spans are written in the process itself: no second interpreter to start and wait for
    from promptflow_lite.tracing._write import sink

    started = []
    real_popen = sink.subprocess.Popen
    monkeypatch.setattr(sink.subprocess, "Popen", lambda *a, **k: started.append(a) or real_popen(*a, **k))
    folder = _chain5(tmp_path)
    assert main(["flow", "test", "--flow", str(folder), "--inputs", "text=One two  three", "number=3"]) == 0
    captured = capsys.readouterr()
    assert "result: one two three|2.75" in captured.out and not started
    trace_id = captured.err.split("Trace: ")[1].split()[0]
    assert main(["trace", "show", trace_id]) == 0
    assert "format_result" in capsys.readouterr().out  # the trace is in the store


def test_a_python_flow_test_loads_neither_the_opentelemetry_sdk_nor_the_prompty_engine(tmp_path):
    # start-up is most of a flow test: what a python-only flow does not use is not imported
    # (the SDK loads when spans are exported over OTLP; prompty and templates with the nodes that use them)
    import os

    folder = _chain5(tmp_path)
    code = ("import sys\nfrom promptflow_lite.cli.main import main\n"
            f"assert main(['flow', 'test', '--flow', {str(folder)!r}, '--inputs', 'text=hi', 'number=1']) == 0\n"
            "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'promptflow_lite.engine._prompty', "
            "'promptflow_lite.tools._template', 'promptflow_lite.tools._chat'))))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**env, "PFL_HOME": str(tmp_path / "home")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]" and "result: hi|1.0" in done.stdout
    assert "Trace: " in done.stderr  # traced all the same


_GC_PROBE = {
    "flow.dag.yaml": "inputs: {}\noutputs:\n  seen:\n    reference: ${probe.output}\nnodes:\n- name: probe\n"
    "  type: python\n  source:\n    type: code\n    path: probe.py\n  inputs: {}\n",
    "probe.py": "import gc\nfrom promptflow.core import tool\n@tool\n"
    "def probe():\n    return {'collecting': gc.isenabled(), 'start_up_frozen': gc.get_freeze_count() > 0}\n",
}


def test_pfl_runs_the_line_with_the_collector_on_and_its_start_up_frozen(make_flow):
    # the `pfl` process: what start-up imported and loaded is out of the collector's sight (gc.freeze),
    # the flow's own code runs with the collector as usual
    folder = make_flow(_GC_PROBE)
    done = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "flow", "test", "--flow", str(folder),
                           "--output", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"seen": {"collecting": True, "start_up_frozen": True}}


def test_a_flow_test_called_in_process_freezes_nothing(make_flow, capsys):
    # a caller's process lives on: its objects (garbage included) stay collectable
    import gc

    folder = make_flow(_GC_PROBE)
    frozen = gc.get_freeze_count()
    assert main(["flow", "test", "--flow", str(folder), "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["seen"]["collecting"] is True
    assert gc.get_freeze_count() == frozen and gc.isenabled()
