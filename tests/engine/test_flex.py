"""Flex flows as a user runs them: function and class entries, init, outputs, aggregation, errors."""

from __future__ import annotations

import asyncio
import json

import pytest

from promptflow_lite.cli.main import main
from promptflow_lite.connections._model_config import AzureOpenAIModelConfiguration
from promptflow_lite.connections._types import OpenAIConnection
from promptflow_lite.engine import FlowRunError, load_flow, run_sync
from promptflow_lite.errors import FlowLoadError, UserError
from promptflow_lite.testing import Rule, ScriptedServer

FUNCTION_FLOW = {
    "flow.flex.yaml": """
        entry: entry:my_flow
        sample:
          inputs:
            text: from the sample
        """,
    "entry.py": """
        from dataclasses import dataclass
        from typing import TypedDict


        @dataclass
        class Answer:
            text: str
            length: int


        class Shout(TypedDict):
            loud: str


        def my_flow(text: str, mode: str = "dict", times: int = 1):
            print("got", text)
            if mode == "dict":
                return {"echo": text * times}
            if mode == "str":
                return text.upper()
            if mode == "dataclass":
                return Answer(text=text, length=len(text))
            if mode == "typed":
                return Shout(loud=text.upper())
            if mode == "gen":
                return (word + " " for word in text.split())
            if mode == "gen_field":
                return Answer(text=(c for c in text), length=0)
            raise ValueError(f"unknown mode {mode}")
        """,
}

CLASS_FLOW = {
    "flow.flex.yaml": """
        entry: scorer:Scorer
        init:
          threshold:
            type: int
            default: 3
        """,
    "scorer.py": """
        from promptflow.core import log_metric


        class Scorer:
            def __init__(self, prefix: str, threshold: int = 1):
                self.prefix, self.threshold = prefix, threshold
                self.calls = 0

            def __call__(self, answer: str):
                self.calls += 1
                return {"label": self.prefix + answer, "long": len(answer) >= self.threshold}

            def __aggregate__(self, line_results):
                log_metric("seen", len(line_results))
                return {"long_rate": sum(r.long for r in line_results) / len(line_results),
                        "first": line_results[0]["label"]}
        """,
}


def test_function_entry_output_forms(make_flow):
    flow = load_flow(make_flow(FUNCTION_FLOW))
    assert flow.kind == "flex"
    assert flow(text="hi", times=2) == {"echo": "hihi"}
    assert flow(text="hi", mode="str") == {"output": "HI"}
    assert flow(text="hey", mode="dataclass") == {"text": "hey", "length": 3}
    assert flow(text="hey", mode="typed") == {"loud": "HEY"}
    assert flow(text="a b c", mode="gen") == {"output": "a b c "}
    assert flow(text="xyz", mode="gen_field") == {"text": "xyz", "length": 0}
    assert flow() == {"echo": "from the sample"}


def test_streaming_keeps_the_generator(make_flow):
    flow = load_flow(make_flow(FUNCTION_FLOW))
    line = flow.run({"text": "a b", "mode": "gen"}, stream=True)
    assert line.ok and "".join(line.outputs["output"]) == "a b "


def test_inputs_come_from_the_signature_and_cli_strings_are_converted(make_flow, capsys, flow_test_json):
    folder = make_flow(FUNCTION_FLOW)
    flow = load_flow(folder)
    assert {k: (v.type.value, v.has_default, v.default) for k, v in flow.inputs.items()} == {
        "text": ("string", False, None), "mode": ("string", True, "dict"), "times": ("int", True, 1)}
    assert flow_test_json("--flow", str(folder), "--inputs", "text=ab", "times=3") == {"echo": "ababab"}


def test_user_errors_name_the_function_and_keep_the_traceback(make_flow):
    flow = load_flow(make_flow(FUNCTION_FLOW))
    line = flow.run({"text": "x", "mode": "nope"})
    assert line.status == "Failed"
    assert line.error["message"] == "Execution failure in 'my_flow': (ValueError) unknown mode nope"
    assert "entry.py" in line.error["debugInfo"]["stackTrace"]
    assert line.node_runs["my_flow"].logs == "got x\n"

    missing = flow.run({"mode": "str"})
    assert "The value for flow input 'text' is not provided" in missing.error["message"]
    with pytest.raises(FlowRunError):
        flow(text="x", mode="nope")


def test_class_entry_init_aggregate_and_metrics(make_flow):
    flow = load_flow(make_flow(CLASS_FLOW), init={"prefix": "L:"})
    assert flow.has_aggregation

    async def batch():
        lines = await asyncio.gather(*(flow.arun({"answer": a}, line_number=i)
                                       for i, a in enumerate(["no", "yes!", "maybe"])))
        return lines, await flow.aaggregate(lines)

    lines, aggregation = run_sync(batch())
    assert [line.outputs for line in lines] == [{"label": "L:no", "long": False}, {"label": "L:yes!", "long": True},
                                                {"label": "L:maybe", "long": True}]  # threshold from the YAML
    assert aggregation.metrics == {"seen": 3, "long_rate": 2 / 3, "first": "L:no"}
    assert flow.func.__self__.calls == 3  # one instance serves every line


def test_aggregate_gets_primitive_outputs_as_they_are_and_skips_failed_lines(make_flow):
    folder = make_flow({
        "flow.flex.yaml": "entry: flow:Upper\n",
        "flow.py": """
            class Upper:
                def __call__(self, text: str):
                    if text == "boom":
                        raise RuntimeError("boom")
                    return text.upper()

                def __aggregate__(self, results):
                    return {"joined": ",".join(results)}
            """,
    })
    flow = load_flow(folder)
    lines = [flow.run({"text": t}, line_number=i) for i, t in enumerate(["a", "boom", "b"])]
    assert [line.status for line in lines] == ["Completed", "Failed", "Completed"]
    assert run_sync(flow.aaggregate(lines)).metrics == {"joined": "A,B"}


def test_failing_aggregate_reports_without_failing(make_flow):
    folder = make_flow({
        "flow.flex.yaml": "entry: flow:Flow\n",
        "flow.py": """
            class Flow:
                def __call__(self, x: int):
                    return {"x": x}

                def __aggregate__(self, results):
                    raise ZeroDivisionError("no metrics today")
            """,
    })
    flow = load_flow(folder)
    result = run_sync(flow.aaggregate([flow.run({"x": 1}, line_number=0)]))
    assert result.metrics == {} and result.failed_node == "__aggregate__"
    assert "(ZeroDivisionError) no metrics today" in result.error["message"]


def test_cli_init_arguments_and_metrics(make_flow, capsys, tmp_path, flow_test_json):
    folder = make_flow(CLASS_FLOW)
    assert flow_test_json("--flow", str(folder), "--inputs", "answer=ok", "--init", "prefix=>",
                    "threshold=2") == {"label": ">ok", "long": True}
    init_file = tmp_path / "init.json"
    init_file.write_text(json.dumps({"prefix": "#"}))
    assert main(["flow", "test", "--flow", str(folder), "--inputs", "answer=ok", "--init", str(init_file)]) == 0
    out = capsys.readouterr().out
    assert "label: #ok" in out and "long_rate" in out


def test_init_failure_names_the_class_and_the_fix_without_values(make_flow):
    folder = make_flow(CLASS_FLOW)
    with pytest.raises(UserError) as info:
        load_flow(folder, init={"secret_key": "sk-do-not-print"})
    message = str(info.value)
    assert "Failed to initialize flow entry Scorer" in message and "--init" in message
    assert "sk-do-not-print" not in message


def test_async_entries_and_async_generators(make_flow):
    folder = make_flow({
        "flow.dag.yaml": "entry: flow:Chat\n",  # named like a DAG, flex by content
        "flow.py": """
            import asyncio


            class Chat:
                async def __call__(self, question: str, stream: bool = False):
                    await asyncio.sleep(0)
                    for word in ["you", "asked:", question]:
                        yield word + " "
            """,
    })
    flow = load_flow(folder)
    assert flow.kind == "flex"
    assert flow(question="why") == {"output": "you asked: why "}

    async def streamed():
        line = await flow.arun({"question": "how"}, stream=True)
        return "".join([piece async for piece in line.outputs["output"]])

    assert run_sync(streamed()) == "you asked: how "


def test_connections_and_model_configurations_by_name(make_flow):
    with ScriptedServer(rules=[Rule(r"Say (\w+)", r"\1!")]) as server:
        conns = {"open_ai_connection": OpenAIConnection(api_key="sk", base_url=server.base_url,
                                                        name="open_ai_connection")}
        folder = make_flow({
            "flow.flex.yaml": """
                entry: flow:ChatFlow
                sample:
                  init:
                    model_config:
                      connection: open_ai_connection
                      azure_deployment: gpt-4o
                    conn: open_ai_connection
                """,
            "flow.py": """
                from pathlib import Path

                from promptflow.connections import OpenAIConnection
                from promptflow.core import AzureOpenAIModelConfiguration, Prompty


                class ChatFlow:
                    def __init__(self, model_config: AzureOpenAIModelConfiguration, conn: OpenAIConnection):
                        self.model_config, self.conn = model_config, conn

                    def __call__(self, word: str) -> str:
                        prompty = Prompty.load(Path(__file__).parent / "say.prompty",
                                               model={"configuration": self.model_config})
                        return prompty(word=word) + " via " + self.conn.name
                """,
            "say.prompty": """
                ---
                model:
                  configuration:
                    type: azure_openai
                    azure_deployment: unused
                ---
                user:
                Say {{word}}
                """,
        })
        flow = load_flow(folder, connections=conns)
        config = flow.func.__self__.model_config
        assert isinstance(config, AzureOpenAIModelConfiguration) and config.azure_endpoint == server.base_url
        assert "sk" not in repr(config)  # the key stays out of logs
        assert flow(word="hello") == {"output": "hello! via open_ai_connection"}
        assert server.requests[-1]["body"]["model"] == "gpt-4o"


def test_extra_line_keys_are_dropped_even_when_the_entry_takes_kwargs(make_flow):
    """As in promptflow, only the entry's named parameters receive a line's values."""
    folder = make_flow({"flow.flex.yaml": "entry: entry:f\n",
                        "entry.py": "def f(text: str, **kwargs):\n    return {'text': text, 'kwargs': kwargs}\n"})
    assert load_flow(folder)(text="a", extra=1) == {"text": "a", "kwargs": {}}


def test_load_flow_of_a_prompty_returns_a_prompty_that_takes_model_overrides(make_flow):
    """promptflow's ``load_flow``/``Flow.load`` on a prompty: ``model=`` applies and a call gives the answer."""
    with ScriptedServer(rules=[Rule(r"Say (\w+)", r"\1!")]) as server:
        folder = make_flow({
            "flow.flex.yaml": "entry: flow:Echo\n",
            "flow.py": """
                from pathlib import Path

                from promptflow.client import load_flow
                from promptflow.core import AsyncFlow, Flow

                SAY = Path(__file__).parent / "say.prompty"


                class Echo:
                    def __init__(self, model_config: dict):
                        self.prompty = load_flow(source=SAY, model={"configuration": model_config})
                        self.kinds = [type(Flow.load(SAY)).__name__, type(AsyncFlow.load(SAY)).__name__]

                    def __call__(self, word: str):
                        return {"answer": self.prompty(word=word), "kinds": self.kinds}
                """,
            "say.prompty": """
                ---
                model:
                  configuration:
                    type: openai
                    model: unused
                    base_url: http://example.invalid/v1
                    api_key: sk-unused
                ---
                user:
                Say {{word}}
                """,
        })
        config = {"type": "openai", "model": "m", "base_url": server.base_url, "api_key": "sk"}
        flow = load_flow(folder, init={"model_config": config})
        assert flow(word="hi") == {"answer": "hi!", "kinds": ["Prompty", "AsyncPrompty"]}


def test_bad_entries_name_the_file_and_the_fix(make_flow):
    folder = make_flow({"flow.flex.yaml": "entry: not a valid entry\n"})
    with pytest.raises(FlowLoadError, match="format of '<module>:<function>'"):
        load_flow(folder)

    folder = make_flow({"flow.flex.yaml": "entry: missing_module:f\n"}, name="m")
    with pytest.raises(FlowLoadError, match="missing_module") as info:
        load_flow(folder)
    assert "flow.flex.yaml" in str(info.value)

    folder = make_flow({"flow.flex.yaml": "entry: code:nope\n", "code.py": "def other():\n    pass\n"}, name="n")
    with pytest.raises(FlowLoadError, match="'nope'.*callables found: other"):
        load_flow(folder)

    folder = make_flow({"flow.flex.yaml": "entry: code:NoCall\n", "code.py": "class NoCall:\n    pass\n"},
                       name="o")
    with pytest.raises(FlowLoadError, match="does not have __call__"):
        load_flow(folder)


def test_flex_lines_are_traced(make_flow):
    from promptflow_lite.engine import _hooks as spans

    events = []

    class Recorder:
        def start_line(self, name, inputs, attributes):
            events.append(("line", name, inputs))
            return "line"

        def end_line(self, handle, result):
            events.append(("end_line", result.status))
            return "trace-id"

        def start_node(self, name, node_type, inputs):
            events.append(("node", name, node_type))
            return "node"

        def end_node(self, handle, run):
            events.append(("end_node", run.status))

    flow = load_flow(make_flow(FUNCTION_FLOW))
    spans.set_backend(Recorder())
    try:
        line = flow.run({"text": "t"})
    finally:
        spans.set_backend(None)
    assert line.trace_id == "trace-id"
    assert events == [("line", flow.name, {"text": "t"}), ("node", "my_flow", "flex"), ("end_node", "Completed"),
                      ("end_line", "Completed")]


# ---------------------------------------------------------------------------------------------
# the example flows in flows/


REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture
def scripted(scripted_connections):
    """Start the scripted server with a flow's rules; connections come from PROMPTFLOW_CONNECTIONS."""
    servers = []

    def start(rules) -> ScriptedServer:
        server = ScriptedServer(rules=str(rules)).start()
        servers.append(server)
        scripted_connections(server)
        return server

    yield start
    for server in servers:
        server.stop()


def test_example_flex_function_flow(scripted, capsys, flow_test_json):
    folder = REPO / "flows" / "flex_function"
    server = scripted(folder / "scripted_llm.yaml")
    assert flow_test_json("--flow", str(folder)) == {
        "summary": "Build LLM apps as flows; flex flows are plain Python.", "words_in": 17, "words_out": 10}
    assert server.requests[-1]["body"]["messages"][0]["content"].endswith("at most 12 words.")
    for row in (folder / "data.jsonl").read_text().splitlines():
        assert load_flow(folder).run(json.loads(row)).ok


def test_example_flex_class_flow(capsys, flow_test_json):
    folder = REPO / "flows" / "flex_class"
    assert flow_test_json("--flow", str(folder), "--inputs", "answer=paris", "ground_truth=Paris") == {
        "exact_match": True, "f1": 1.0}
    assert flow_test_json("--flow", str(folder), "--inputs", "answer=paris", "ground_truth=Paris",
                    "--init", "ignore_case=false") == {"exact_match": False, "f1": 0.0}
    flow = load_flow(folder)
    lines = [flow.run(json.loads(row), line_number=i)
             for i, row in enumerate((folder / "data.jsonl").read_text().splitlines())]
    assert run_sync(flow.aaggregate(lines)).metrics == {"exact_match_rate": 0.5, "mean_f1": 0.6, "lines": 4}


def test_environment_variables_timeout_and_entry_without_yaml(make_flow, monkeypatch):
    monkeypatch.delenv("GREETING", raising=False)
    folder = make_flow({
        "flow.flex.yaml": "entry: slow:greet\nenvironment_variables:\n  GREETING: hello\n",
        "slow.py": """
            import asyncio
            import os


            async def greet(name: str, delay: float = 0.0):
                await asyncio.sleep(delay)
                return f"{os.environ['GREETING']} {name}"
            """,
    })
    flow = load_flow(folder)
    assert flow(name="Ada") == {"output": "hello Ada"}
    line = flow.run({"name": "Ada", "delay": 5}, timeout=0.2)
    assert line.status == "Failed" and "timeout after 0.2 seconds" in line.error["message"]

    from promptflow_lite.engine._flex import FlexFlow

    direct = FlexFlow.from_entry("slow:greet", folder, environment_variables={"GREETING": "hi"})
    assert direct(name="Bo") == {"output": "hi Bo"}
    with pytest.raises(UserError, match="init arguments only apply to a class"):
        load_flow(folder, init={"x": 1})


def test_run_and_test_a_bare_module_function_entry(tmp_path, monkeypatch, capsys):
    """`pfl run create --flow module:function` and `pfl flow test --flow module:function`, as promptflow allows."""
    import json

    from promptflow_lite.cli.main import main

    (tmp_path / "shout.py").write_text("def shout(text: str) -> str:\n    return text.upper() + '!'\n")
    (tmp_path / "data.jsonl").write_text('{"text": "a"}\n{"text": "b"}\n')
    monkeypatch.chdir(tmp_path)
    assert main(["flow", "test", "--flow", "shout:shout", "--inputs", "text=hi", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"output": "HI!"}
    assert main(["run", "create", "--flow", "shout:shout", "--data", "data.jsonl", "--name", "entry_run"]) == 0
    capsys.readouterr()
    assert main(["run", "show-details", "entry_run", "-o", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["outputs.output"] for row in rows] == ["A!", "B!"]


def test_a_bare_entry_gets_one_generated_flow_file_per_entry_and_code_folder(tmp_path):
    from promptflow_lite.flow._loader import entry_flow_file

    (tmp_path / "a").mkdir()
    first, again = entry_flow_file("shout:shout", tmp_path), entry_flow_file("shout:shout", tmp_path)
    assert first == again and first.parent.name == "shout"  # reused: repeated calls leave no new folders
    assert entry_flow_file("shout:shout", tmp_path / "a") != first
    assert entry_flow_file("shout:whisper", tmp_path) != first


def test_additional_includes_are_merged_in_as_for_dag_flows(make_flow, tmp_path, capsys, pfl_home, flow_test_json):
    make_flow({"flex_include_words/words.py": "def shout(text):\n    return text.upper() + '!'\n",
               "greeting.txt": "hello"}, name="shared")
    folder = make_flow({
        "flow.flex.yaml": """
            entry: entry:greet
            additional_includes:
            - ../shared/flex_include_words
            - ../shared/greeting.txt
            """,
        "entry.py": """
            from pathlib import Path
            from flex_include_words.words import shout

            def greet(name: str) -> str:
                return shout(Path("greeting.txt").read_text() + " " + name)
            """,
    }, name="flex_with_includes")
    assert flow_test_json("--flow", str(folder), "--inputs", "name=ada") == {"output": "HELLO ADA!"}
    (tmp_path / "data.jsonl").write_text('{"name": "bob"}\n')
    assert main(["run", "create", "--flow", str(folder), "--data", str(tmp_path / "data.jsonl"), "--name", "inc"]) == 0
    outputs = (pfl_home / "runs" / "inc" / "flow_outputs" / "output.jsonl").read_text()
    assert json.loads(outputs)["output"] == "HELLO BOB!"
    snapshot = pfl_home / "runs" / "inc" / "snapshot"
    assert (snapshot / "flex_include_words" / "words.py").is_file()  # the snapshot has them
    assert not (folder / "flex_include_words").exists()  # the flow folder itself is left alone


def test_a_missing_include_of_a_flex_flow_names_it(make_flow):
    folder = make_flow({"flow.flex.yaml": "entry: entry:f\nadditional_includes: [../nowhere.py]\n",
                        "entry.py": "def f(x: str):\n    return x\n"}, name="flex_missing_include")
    with pytest.raises(FlowLoadError, match="Unable to find additional include .*nowhere.py"):
        load_flow(folder)


def test_a_batch_line_takes_the_entry_defaults_not_the_sample(make_flow, tmp_path, capsys):
    """promptflow's `sample` fills `pf flow test` without inputs; a batch line's unmapped inputs take the defaults."""
    folder = make_flow({
        "flow.flex.yaml": """
            entry: entry:greet
            sample:
              inputs:
                text: from the sample
            """,
        "entry.py": "def greet(text: str = 'the default', punctuation: str = '!'):\n    return text + punctuation\n",
    })
    assert main(["flow", "test", "--flow", str(folder), "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"output": "from the sample!"}
    data = tmp_path / "data.jsonl"
    data.write_text('{"text": "unused: an input with a default gets no default mapping"}\n{"punctuation": "?"}\n')
    assert main(["run", "create", "--flow", str(folder), "--data", str(data), "--name", "greetings"]) == 0
    capsys.readouterr()
    assert main(["run", "show-details", "greetings", "-o", "json"]) == 0
    assert [row["outputs.output"] for row in json.loads(capsys.readouterr().out)] == ["the default!", "the default!"]
