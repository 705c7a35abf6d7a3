"""A batch line's node spans come from its result, without a tracing call per node: the same spans as when
every node is traced as it runs (what happens when OpenTelemetry is in use), for every kind of node outcome."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from promptflow_lite.engine import load_flow
from promptflow_lite.testing import ScriptedServer
from promptflow_lite.tracing import disable_tracing, enable_tracing, get_trace, list_traces
from promptflow_lite.tracing._write import executor

API_KEY = "sk-parity-secret-4242"
HEADER = "from promptflow.core import tool\n"
FLOW = {
    "clean.py": HEADER + "from promptflow.tracing import trace\n\n@trace\ndef words(text: str) -> list:\n"
                         "    return text.split()\n\n@tool\ndef clean(text: str) -> str:\n"
                         "    return ' '.join(words(text.lower()))\n",
    "parse.py": HEADER + "@tool\ndef parse(mode: str) -> dict:\n    return {} if mode == 'broken' else {'key': mode}\n",
    "question.jinja2": "What is the capital of {{text}}?",
    "ask.jinja2": "# system:\nAnswer briefly.\n# user:\n{{question}}\n",
    "shout.py": HEADER + "@tool\ndef shout(text: str) -> str:\n    return text.upper() + '!'\n",
    "pick.py": HEADER + "@tool\ndef pick(key: str, answer: str) -> str:\n    return f'{key}: {answer[:12]}'\n",
    "check.py": HEADER + "@tool\ndef check(text: str, picked: str, loud: str = None) -> dict:\n"
                         "    if 'fail' in text:\n        raise ValueError(f'cannot check {text!r}')\n"
                         "    return {'picked': picked, 'loud': loud}\n",
    "flow.dag.yaml": """
        inputs:
          text: {type: string}
          mode: {type: string}
        outputs:
          answer: {reference: "${ask.output}"}
          result: {reference: "${check.output}"}
        nodes:
        - {name: clean, type: python, source: {type: code, path: clean.py}, inputs: {text: "${inputs.text}"}}
        - {name: parse, type: python, source: {type: code, path: parse.py}, inputs: {mode: "${inputs.mode}"}}
        - {name: question, type: prompt, source: {type: code, path: question.jinja2}, inputs: {text: "${clean.output}"}}
        - name: ask
          type: llm
          source: {type: code, path: ask.jinja2}
          inputs: {model: gpt-4o-mini, max_tokens: 20, question: "${question.output}"}
          connection: open_ai_connection
          api: chat
        - name: shout
          type: python
          source: {type: code, path: shout.py}
          inputs: {text: "${clean.output}"}
          activate: {when: "${inputs.mode}", is: loud}
        - {name: pick, type: python, source: {type: code, path: pick.py},
           inputs: {key: "${parse.output.key}", answer: "${ask.output}"}}
        - {name: check, type: python, source: {type: code, path: check.py},
           inputs: {text: "${inputs.text}", picked: "${pick.output}", loud: "${shout.output}"}}
        """,
}
LINES = [{"text": "Hello World", "mode": "loud"},  # every node runs
         {"text": "quiet please", "mode": "soft"},  # shout is bypassed
         {"text": "this will fail", "mode": "loud"},  # check fails
         {"text": "broken line", "mode": "broken"}]  # pick fails before it starts (its input does not exist)
ANSWER_ID = re.compile(r'chatcmpl-[0-9a-f]+|(?<=created\\": )\d+|(?<="created": )\d+')  # the server's
VARYING = {"trace_id", "span_id", "parent_id", "start_time", "end_time", "duration", "timestamp"}


def shape(span: dict, run: str) -> dict:
    """A span as a user reads it, without what differs between two runs of the same lines (ids, times)."""
    kept = {key: value for key, value in span.items() if key not in VARYING | {"children", "events", "attributes"}}
    kept["attributes"] = {key: ("RUN" if value == run else value) for key, value in span["attributes"].items()
                          if key not in VARYING and "time" not in key and "latency" not in key}
    kept["events"] = [{**event, "timestamp": None} for event in span.get("events") or ()]
    kept["children"] = [shape(child, run) for child in span["children"]]
    return kept


def traced_run(folder, data, name: str, **env: str) -> dict[int, list[dict]]:
    """``pfl run create`` in a process of its own; the shaped span trees of its lines, by line number."""
    done = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "run", "create", "--flow", str(folder),
                           "--data", str(data), "--name", name, "--column-mapping", "text=${data.text}",
                           "mode=${data.mode}", "--allow-failures", "--no-cache"], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = list_traces(run=name, limit=None)
    assert sorted(line["line_number"] for line in lines) == list(range(len(LINES)))
    shaped = {line["line_number"]: [shape(span, name) for span in get_trace(line["trace_id"])["spans"]]
              for line in lines}
    return json.loads(ANSWER_ID.sub(_zero, json.dumps(shaped)), object_hook=lambda d: {int(k) if k.isdigit() else k: v
                                                                                      for k, v in d.items()})


def _zero(found: re.Match) -> str:
    return "chatcmpl-0" if found[0].startswith("chatcmpl") else "0"


def names(spans: list[dict]) -> list:
    return [[span["name"], names(span["children"])] if span["children"] else span["name"] for span in spans]


def test_a_batch_lines_spans_are_the_same_with_and_without_per_node_tracing(make_flow, scripted_connections,
                                                                            tmp_path, pfl_home):
    folder = make_flow(FLOW, name="parity")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(line) + "\n" for line in LINES))
    with ScriptedServer(rules=[{"match": "capital", "reply": "Paris, as scripted."}]) as server:
        scripted_connections(server, api_key=API_KEY)
        fast = traced_run(folder, data, "from-results")
        # a global tracer provider (here from the environment) makes every node OpenTelemetry's current span
        per_node = traced_run(folder, data, "per-node", OTEL_PYTHON_TRACER_PROVIDER="sdk_tracer_provider")

    assert fast == per_node
    ask = ["ask", ["chat gpt-4o-mini"]]  # the model call nests under its node
    assert names(fast[0]) == [["parity", [["clean", ["words"]], "parse", "question", "shout", ask, "pick", "check"]]]
    assert names(fast[1]) == [["parity", [["clean", ["words"]], "parse", "question", ask, "pick", "check"]]]
    [line] = fast[2]
    assert line["status"] == "ERROR" and line["children"][-1]["name"] == "check"
    assert line["children"][-1]["events"][0]["attributes"]["exception.type"] == "ValueError"
    assert "pick" not in [child["name"] for child in fast[3][0]["children"]]  # it never started
    assert API_KEY not in (pfl_home / "traces.sqlite").read_bytes().decode("utf-8", "replace")


TRACED = {
    "add.py": HEADER + "from promptflow.tracing import trace\n\n@trace\ndef plus(a: int, b: int) -> int:\n"
                       "    return a + b\n\n@tool\ndef add(x: int) -> int:\n    return plus(x, 1)\n",
    "flow.dag.yaml": """
        inputs:
          x: {type: int}
        outputs:
          y: {reference: "${second.output}"}
        nodes:
        - {name: first, type: python, source: {type: code, path: add.py}, inputs: {x: "${inputs.x}"}}
        - {name: second, type: python, source: {type: code, path: add.py}, inputs: {x: "${first.output}"}}
        """,
}


@pytest.fixture
def node_calls(monkeypatch):
    """The node names the engine passed to the tracing hooks' ``start_node``."""
    seen: list[str] = []
    start_node = executor.ExecutorSpans.start_node
    if "opentelemetry.trace" in sys.modules:  # an earlier test's start_trace made a tracer provider global
        monkeypatch.setattr(sys.modules["opentelemetry.trace"], "_TRACER_PROVIDER", None)

    def spy(self, node_name, node_type, inputs):
        seen.append(node_name)
        return start_node(self, node_name, node_type, inputs)

    monkeypatch.setattr(executor.ExecutorSpans, "start_node", spy)
    assert enable_tracing()
    yield seen
    disable_tracing()


def test_a_dag_line_makes_no_tracing_call_per_node_and_spans_still_nest_under_their_node(make_flow, node_calls):
    result = load_flow(make_flow(TRACED, name="adds")).run({"x": 1}, line_number=0,
                                                            attributes={"batch_run_id": "r", "line_number": 0})
    assert result.outputs == {"y": 3}
    assert node_calls == []
    [line] = get_trace(result.trace_id)["spans"]
    assert [(node["name"], [child["name"] for child in node["children"]]) for node in line["children"]] == [
        ("first", ["plus"]), ("second", ["plus"])]
    assert [node["children"][0]["parent_id"] for node in line["children"]] == [
        node["span_id"] for node in line["children"]]
