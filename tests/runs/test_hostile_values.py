"""Bad values never kill a run: overflows, lone surrogates, wrong types, huge and deep values fail their
own line (batch) or answer 400 at once (serving), and everything else goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.serve import ServerThread, create_app
from promptflow_lite.serve._client import ScoreClient
from promptflow_lite.testing import ScriptedServer

LINES = 300
FLOW = {
    "measure.py": (
        "from promptflow.core import tool\n"
        "@tool\n"
        "def measure(n: int, s: str) -> dict:\n"
        "    print(f'line with n={n} and {len(s)} characters')\n"
        "    return {'n': n, 'length': len(s)}\n"),
    "total.py": (
        "from promptflow.core import tool, log_metric\n"
        "@tool\n"
        "def total(rows: list) -> dict:\n"
        "    log_metric('count', len(rows))\n"
        "    log_metric('sum', sum(r['n'] for r in rows))\n"
        "    return {}\n"),
    "flow.dag.yaml": """
        inputs:
          n: {type: int}
          s: {type: string}
        outputs:
          n: {type: int, reference: "${measure.output.n}"}
          length: {type: int, reference: "${measure.output.length}"}
        nodes:
        - name: measure
          type: python
          source: {type: code, path: measure.py}
          inputs: {n: "${inputs.n}", s: "${inputs.s}"}
        - name: total
          type: python
          source: {type: code, path: total.py}
          inputs: {rows: "${measure.output}"}
          aggregation: true
        """,
}
DEEP = "[" * 150 + "]" * 150
# (column, JSON text of the value): each breaks its own line only
JSONL_HOSTILE = [
    ("n", "1e400"), ("n", "-1e400"), ("n", "Infinity"), ("n", "-Infinity"), ("n", "NaN"), ("n", '"1e400"'),
    ("n", '"abc"'), ("n", '"1.5"'), ("n", '""'), ("n", "[1, 2]"), ("n", '{"a": 1}'), ("n", '"' + "9" * 5000 + '"'),
    ("n", '"0x1F"'), ("n", '"-5e-400x"'), ("n", '"' + "7" * 100_000 + '"'),
    ("s", '"\\ud800"'), ("s", '"a\\udfffb"'), ("s", '"\\udc80"'), ("s", '["ok", "\\ud83d"]'), ("s", DEEP),
    ("s", '{"key\\ud800": 1}'), ("s", '"x' + "\\ud800" * 3 + '"'),
    ("n", "-" + "9" * 5000),  # an integer literal longer than Python converts (4300 digits)
]
JSONL_UNREADABLE = ['{"n": 1, "s": "a"', "not json", '{"n": 1} {"n": 2}', '["n", 1]', '"n"', "[" * 100_000]
CSV_HOSTILE = [  # (column, raw bytes of the cell)
    ("n", b"1e400"), ("n", b"-1e400"), ("n", b"Infinity"), ("n", b"-inf"), ("n", b"NaN"), ("n", b"abc"),
    ("n", b"1.5"), ("n", b""), ("n", b"9" * 5000), ("n", b"0x1F"), ("n", b"[1, 2]"), ("n", b"7" * 100_000),
    ("s", b"a\xed\xa0\x80b"), ("s", b"\xff\xfe"), ("s", b"caf\xe9"), ("s", b"\x80"),
]
CSV_UNREADABLE = [b"1,a,b", b"1,a,b,c", b'1,"a",b', b"1,a,b,", b"x,y,z", b"1,a,b\tc,d"]  # more fields than the header


def hostile_lines() -> list[int]:
    return [i for i in range(LINES) if i % 10 == 7]  # 30 lines


def huge_text(i: int) -> str:
    """Good lines carry big strings too: size alone never fails a line."""
    return "x" * (200_000 if i % 50 == 0 else i)


def jsonl_data(tmp_path: Path) -> Path:
    bad = hostile_lines()
    rows = []
    for i in range(LINES):
        values = {"n": str(i), "s": json.dumps(huge_text(i))}
        if i in bad and bad.index(i) % 5 == 4:  # every fifth hostile line is not a JSON object at all
            rows.append(JSONL_UNREADABLE[bad.index(i) // 5] + "\n")
            continue
        if i in bad:
            column, value = JSONL_HOSTILE[bad.index(i) % len(JSONL_HOSTILE)]
            values[column] = value
        rows.append("{" + ", ".join(f'"{k}": {v}' for k, v in values.items()) + "}\n")
    path = tmp_path / "hostile.jsonl"
    path.write_text("".join(rows), encoding="utf-8")
    return path


def csv_data(tmp_path: Path) -> Path:
    bad = hostile_lines()
    rows = [b"n,s\n"]
    for i in range(LINES):
        values = {"n": str(i).encode(), "s": huge_text(i).encode()}
        if i in bad and bad.index(i) % 5 == 4:  # every fifth hostile row has too many fields
            rows.append(CSV_UNREADABLE[bad.index(i) // 5] + b"\n")
            continue
        if i in bad:
            column, value = CSV_HOSTILE[bad.index(i) % len(CSV_HOSTILE)]
            values[column] = b'"' + value + b'"' if b"," in value else value
        rows.append(values["n"] + b"," + values["s"] + b"\n")
    path = tmp_path / "hostile.csv"
    path.write_bytes(b"".join(rows))
    return path


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_hostile_lines_fail_alone_and_the_run_completes_and_resumes(kind, make_flow, tmp_path, pfl_json):
    flow = make_flow(FLOW)
    data = jsonl_data(tmp_path) if kind == "jsonl" else csv_data(tmp_path)
    bad = hostile_lines()
    good = [i for i in range(LINES) if i not in bad]

    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "hostile"]) == 1
    run = pfl_json("run", "show", "hostile")
    assert (run["status"], run["completed_lines"], run["failed_lines"], run["total_lines"]) == \
        ("CompletedWithErrors", LINES - 30, 30, LINES)
    failed = pfl_json("run", "show-details", "hostile", "--failed-only", "-o", "json")
    assert [row["line_number"] for row in failed] == bad
    for row in failed:
        message, number = row["error"], row["line_number"]
        assert f"line {number}" in message and row["error_code"] == "InputError"
        where = f"{data}, line {number + 1}" if kind == "jsonl" else f"{data}"
        assert "flow input 'n'" in message or "flow input 's'" in message or \
            f"line {number} cannot be read: {where}: " in message
    assert pfl_json("run", "show-metrics", "hostile") == {"count": len(good), "sum": sum(good)}

    folder = Path(run["output_path"])
    for file in folder.rglob("*.json*"):  # every record, failed lines' inputs included, is valid UTF-8 JSON
        for text in file.read_bytes().decode("utf-8").splitlines():
            json.loads(text) if file.suffix == ".jsonl" else None
    assert len((folder / "flow_outputs" / "output.jsonl").read_text().splitlines()) == len(good)

    assert pfl(["run", "resume", "hostile"]) == 1  # the same lines fail again, the others are kept
    resumed = pfl_json("run", "show", "hostile")
    assert (resumed["status"], resumed["completed_lines"], resumed["failed_lines"]) == \
        ("CompletedWithErrors", LINES - 30, 30)
    log = (folder / "logs.txt").read_text(encoding="utf-8")
    assert log.count("Resuming run hostile: 270 of 300 lines already completed.") == 1


# serving: the same values answer 400 at once ------------------------------------------------------

LLM_FLOW = {
    "ask.jinja2": "# system:\nAnswer briefly.\n# user:\n{{question}} (in {{count}} words)\n",
    "flow.dag.yaml": """
        inputs:
          question: {type: string}
          count: {type: int, default: 5}
          temperature: {type: double, default: 0}
          context: {type: object, default: {}}
        outputs:
          answer: {type: string, reference: "${ask.output}"}
        nodes:
        - name: ask
          type: llm
          source: {type: code, path: ask.jinja2}
          inputs:
            model: gpt-4o-mini
            temperature: ${inputs.temperature}
            question: ${inputs.question}
            count: ${inputs.count}
          connection: open_ai_connection
          api: chat
        """,
}


@pytest.fixture
def llm_endpoint(make_flow, monkeypatch):
    """A served LLM flow and the scripted server behind it; retries would take minutes, not a moment."""
    monkeypatch.setenv("PFL_LLM_MAX_RETRY_SECONDS", "600")
    with ScriptedServer() as llm:
        connections = {"open_ai_connection": OpenAIConnection(api_key="x", base_url=llm.base_url)}
        server = ServerThread(create_app(make_flow(LLM_FLOW, name="ask"), connections=connections)).start()
        try:
            yield ScoreClient(server.url, timeout=120), llm
        finally:
            server.stop()


@pytest.mark.parametrize("body, says", [
    (b'{"question": "\\ud800 hi"}', "lone surrogate '\\ud800'"),
    (b'{"question": "hi", "count": 1e400}', "'count'"),
    (b'{"question": "hi", "count": Infinity}', "'count'"),
    (b'{"question": "hi", "count": "' + b"9" * 5000 + b'"}', "'count'"),
    (b'{"question": "hi", "count": ' + b"9" * 5000 + b"}", "'count'"),  # a bare literal, too long for Python
    (b'{"question": ["a", {"b": "\\udfff"}]}', "lone surrogate"),
    (b'{"question": "hi", "context": ' + DEEP.encode() + b"}", "more than 100 levels"),
    (b'{"question": "hi", "context": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "too deeply"),
    (b"[" * 100_000, "too deeply"),
    (b'{"question": "hi", "temperature": NaN}', "cannot be sent"),  # a valid double, but not for the endpoint
])
def test_serving_answers_400_at_once_without_calling_the_model(llm_endpoint, body, says):
    client, llm = llm_endpoint
    status, _, answer = client.request("POST", "/score", body, {"content-type": "application/json"})
    assert status == 400, answer
    assert answer["error"]["code"] == "UserError" and says in answer["error"]["message"]
    assert llm.stats["requests"] == 0  # nothing reached the model, nothing was retried
    assert client.score({"question": "still fine?"})["answer"]  # the server goes on serving
