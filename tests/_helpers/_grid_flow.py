"""A flow with 2 variants on one node and 3 on another, a scripted server that makes them differ, and its data.

``rewrite`` passes the request on as written (``plain``, the default) or shortened (``short``, which loses
the word on lines whose number ends in 7); ``answer`` repeats the word on lines whose number ends in 0-2
(``casual``, the default), 0-5 (``careful``) or 0-8 (``precise``). So the best combination is
``rewrite=plain,answer=precise`` (90 %), the baseline ``rewrite=plain,answer=casual`` (30 %). Every line has
its own number, so no two lines send the same request and the server's request count is exact. ``prep``
(python, upstream of both) appends a line to ``$PREP_LOG`` each time it runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

WORDS = ["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "melon", "grape", "peach", "mango", "guava",
         "lemon", "olive", "berry", "cherry", "quince", "papaya", "banana", "orange"]

FLOW = """
inputs:
  question: {type: string}
outputs:
  answer: {type: string, reference: "${answer.output}"}
nodes:
- name: prep
  type: python
  source: {type: code, path: prep.py}
  inputs: {question: "${inputs.question}"}
- name: rewrite
  use_variants: true
- name: answer
  use_variants: true
node_variants:
  rewrite:
    default_variant_id: plain
    variants:
      plain:
        node: {type: llm, source: {type: code, path: plain.jinja2}, connection: open_ai_connection, api: chat,
               inputs: {model: gpt-4o-mini, temperature: 0, text: "${prep.output}"}}
      short:
        node: {type: llm, source: {type: code, path: short.jinja2}, connection: open_ai_connection, api: chat,
               inputs: {model: gpt-4o-mini, temperature: 0, text: "${prep.output}"}}
  answer:
    default_variant_id: casual
    variants:
      casual:
        node: {type: llm, source: {type: code, path: casual.jinja2}, connection: open_ai_connection, api: chat,
               inputs: {model: gpt-4o-mini, temperature: 0, text: "${rewrite.output}"}}
      careful:
        node: {type: llm, source: {type: code, path: careful.jinja2}, connection: open_ai_connection, api: chat,
               inputs: {model: gpt-4o-mini, temperature: 0, text: "${rewrite.output}"}}
      precise:
        node: {type: llm, source: {type: code, path: precise.jinja2}, connection: open_ai_connection, api: chat,
               inputs: {model: gpt-4o, temperature: 0, text: "${rewrite.output}"}}
"""

PREP = """
import os
from promptflow.core import tool


@tool
def prep(question: str) -> str:
    with open(os.environ["PREP_LOG"], "a") as log:
        log.write(question + "\\n")
    return question.strip()
"""

PROMPTS = {name: f"# system:\n{system}\n# user:\n{{{{text}}}}\n" for name, system in [
    ("plain.jinja2", "Rewrite the request."), ("short.jinja2", "Shorten the request."),
    ("casual.jinja2", "Answer casually."), ("careful.jinja2", "Answer carefully."),
    ("precise.jinja2", "Answer precisely.")]}

RULES = [
    {"match": r"Rewrite the request\.\s+user: (.*)", "reply": r"\1"},
    {"match": r"Shorten the request\.\s+user: Repeat the word: \w+ (#\d*7)(?!\d)", "reply": r"Word: ? \1"},
    {"match": r"Shorten the request\.\s+user: Repeat the word: (\w+) (#\d+)", "reply": r"Word: \1 \2"},
    {"match": r"Answer casually\.\s+user: .*?(\w+) #\d*[0-2](?!\d)", "reply": r"\1"},
    {"match": r"Answer carefully\.\s+user: .*?(\w+) #\d*[0-5](?!\d)", "reply": r"\1"},
    {"match": r"Answer precisely\.\s+user: .*?(\w+) #\d*[0-8](?!\d)", "reply": r"\1"},
]

EXACT = ["-e", "exact_match", "--evaluator-mapping", "exact_match.answer=${run.outputs.answer}"]


def write_grid_flow(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "flow.dag.yaml").write_text(FLOW)
    (folder / "prep.py").write_text(PREP)
    for name, text in PROMPTS.items():
        (folder / name).write_text(text)
    return folder


def write_words(path: Path, lines: int) -> Path:
    path.write_text("".join(json.dumps({"question": f"Repeat the word: {WORDS[i % len(WORDS)]} #{i}",
                                        "ground_truth": WORDS[i % len(WORDS)], "topic": "abc"[i % 3]}) + "\n"
                            for i in range(lines)))
    return path


BEST, BASELINE = "rewrite=plain,answer=precise", "rewrite=plain,answer=casual"


@pytest.fixture
def server(tmp_path, monkeypatch):
    """The scripted server answering by ``RULES``, behind ``open_ai_connection`` (import it into the test module)."""
    from promptflow_lite.testing import ScriptedServer

    with ScriptedServer(rules=RULES) as running:
        use_server(running, tmp_path, monkeypatch)
        yield running


def pfl(*args) -> int:
    """``pfl ARGS...`` in this process; arguments may be paths."""
    from promptflow_lite.cli.main import main

    return main([str(a) for a in args])


def use_server(server, tmp_path: Path, monkeypatch) -> None:
    """Point ``open_ai_connection`` at ``server`` and ``$PREP_LOG`` at a fresh file."""
    file = tmp_path / "connections.json"
    file.write_text(json.dumps({"open_ai_connection": {
        "type": "OpenAIConnection", "module": "promptflow.connections",
        "value": {"api_key": "test-key", "base_url": server.base_url}, "secret_keys": ["api_key"]}}))
    monkeypatch.setenv("PROMPTFLOW_CONNECTIONS", str(file))
    monkeypatch.setenv("PREP_LOG", str(tmp_path / "prep.log"))
