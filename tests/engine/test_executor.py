"""The DAG executor on python flows: concurrency, activate/bypass, aggregation, errors, quirks."""

from __future__ import annotations

import pytest

from promptflow_lite.engine import FlowRunError, load_flow, run_sync

HEADER = "from promptflow.core import tool\n"


def py_node(name: str, path: str, inputs: dict[str, str], extra: str = "") -> str:
    lines = [f"- name: {name}", "  type: python", "  source:", "    type: code", f"    path: {path}", "  inputs:"]
    lines += [f"    {k}: {v}" for k, v in inputs.items()] or ["    {}"]
    return "\n".join(lines) + "\n" + extra


def test_independent_sync_nodes_run_at_the_same_time(make_flow):
    # Each node waits at a barrier for the other one: this only finishes if both run concurrently.
    wait = HEADER + (
        "import threading\n"
        "from barrier import BARRIER\n"
        "@tool\n"
        "def wait(name: str) -> str:\n"
        "    BARRIER.wait()\n"
        "    return name\n")
    folder = make_flow({
        "barrier.py": "import threading\nBARRIER = threading.Barrier(2, timeout=10)\n",
        "wait_a.py": wait, "wait_b.py": wait,
        "join.py": HEADER + "@tool\ndef join(a: str, b: str) -> str:\n    return a + b\n",
        "flow.dag.yaml": "inputs: {}\noutputs:\n  out:\n    reference: ${join.output}\nnodes:\n"
        + py_node("a", "wait_a.py", {"name": "A"}) + py_node("b", "wait_b.py", {"name": "B"})
        + py_node("join", "join.py", {"a": "${a.output}", "b": "${b.output}"}),
    })
    assert load_flow(folder)() == {"out": "AB"}


def test_independent_async_nodes_overlap(make_flow):
    # Node a sets an event node b waits for, and vice versa: sequential execution would deadlock.
    code = HEADER + (
        "import asyncio\n"
        "from events import EVENTS\n"
        "@tool\n"
        "async def ping(me: str, other: str) -> str:\n"
        "    EVENTS[me].set()\n"
        "    await asyncio.wait_for(EVENTS[other].wait(), 10)\n"
        "    return me\n")
    folder = make_flow({
        "events.py": "import asyncio\nEVENTS = {'a': asyncio.Event(), 'b': asyncio.Event()}\n",
        "ping_a.py": code, "ping_b.py": code,
        "flow.dag.yaml": "inputs: {}\noutputs:\n  a:\n    reference: ${a.output}\n  b:\n    reference: ${b.output}\n"
        "nodes:\n" + py_node("a", "ping_a.py", {"me": "a", "other": "b"})
        + py_node("b", "ping_b.py", {"me": "b", "other": "a"}),
    })
    assert load_flow(folder)() == {"a": "a", "b": "b"}


CONDITIONAL = {
    "classify.py": HEADER + "@tool\ndef classify(text: str) -> dict:\n    return {'kind': 'math' if text.isdigit() else 'chat'}\n",
    "math.py": HEADER + "@tool\ndef do_math(text: str) -> str:\n    return str(int(text) * 2)\n",
    "chat.py": HEADER + "@tool\ndef do_chat(text: str) -> str:\n    return 'hello ' + text\n",
    "merge.py": HEADER + "@tool\ndef merge(math_result='', chat_result=''):\n    return math_result or chat_result\n",
    "none_merge.py": HEADER + "@tool\ndef none_merge(math_result, chat_result):\n"
                     "    return repr(math_result) + '/' + repr(chat_result)\n",
    "after_math.py": HEADER + "@tool\ndef after_math(x: str) -> str:\n    return 'after ' + x\n",
    "flow.dag.yaml": "inputs:\n  text:\n    type: string\noutputs:\n"
    "  result:\n    reference: ${merge.output}\n  raw:\n    reference: ${none_merge.output}\n"
    "  math:\n    reference: ${math.output}\n  after:\n    reference: ${after_math.output}\nnodes:\n"
    + py_node("classify", "classify.py", {"text": "${inputs.text}"})
    + py_node("math", "math.py", {"text": "${inputs.text}"},
              "  activate:\n    when: ${classify.output.kind}\n    is: math\n")
    + py_node("chat", "chat.py", {"text": "${inputs.text}"},
              "  activate:\n    when: ${classify.output.kind}\n    is: chat\n")
    + py_node("merge", "merge.py", {"math_result": "${math.output}", "chat_result": "${chat.output}"})
    + py_node("none_merge", "none_merge.py", {"math_result": "${math.output}", "chat_result": "${chat.output}"})
    + py_node("after_math", "after_math.py", {"x": "${math.output}"}),
}


def test_activate_bypass_and_defaults(make_flow):
    flow = load_flow(make_flow(CONDITIONAL))
    math = flow(text="21")
    assert math == {"result": "42", "raw": "'42'/None", "math": "42", "after": "after 42"}
    chat = flow.run({"text": "bob"})
    assert chat.outputs == {"result": "hello bob", "raw": "None/'hello bob'", "math": None, "after": None}
    statuses = {name: run.status for name, run in chat.node_runs.items()}
    assert statuses["math"] == "Bypassed" and statuses["after_math"] == "Bypassed"
    assert statuses["merge"] == "Completed"


def test_activate_met_runs_even_if_dependencies_bypassed(make_flow):
    folder = make_flow({
        "echo.py": HEADER + "@tool\ndef echo(x=None):\n    return x\n",
        "flow.dag.yaml": "inputs:\n  go:\n    type: bool\noutputs:\n  out:\n    reference: ${last.output}\nnodes:\n"
        + py_node("first", "echo.py", {"x": "1"}, "  activate:\n    when: ${inputs.go}\n    is: true\n")
        + py_node("last", "echo.py", {"x": "${first.output}"}, "  activate:\n    when: ${inputs.go}\n    is: false\n"),
    })
    assert load_flow(folder)(go="false") == {"out": None}  # executed with None from the bypassed node
    assert load_flow(folder)(go="true") == {"out": None}  # bypassed itself


def test_aggregation_over_successful_lines_with_log_metric(make_flow):
    folder = make_flow({
        "score.py": HEADER + "@tool\ndef score(x: int) -> int:\n    if x < 0:\n        raise ValueError('negative')\n"
                    "    return x * 10\n",
        "agg.py": "from promptflow.core import tool, log_metric\n@tool\ndef agg(scores: list, xs: list, label: str):\n"
                  "    log_metric('mean', sum(scores) / len(scores))\n    log_metric('n', len(xs))\n"
                  "    log_metric('label', label)\n    return {'total': sum(scores)}\n",
        "flow.dag.yaml": "inputs:\n  x:\n    type: int\noutputs:\n  s:\n    reference: ${score.output}\n"
        "  dropped:\n    reference: ${agg.output}\nnodes:\n"
        + py_node("score", "score.py", {"x": "${inputs.x}"})
        + py_node("agg", "agg.py", {"scores": "${score.output}", "xs": "${inputs.x}", "label": "run"},
                  "  aggregation: true\n"),
    })
    flow = load_flow(folder)
    lines = [flow.run({"x": x}, line_number=i) for i, x in enumerate([1, 2, -1, 3])]
    assert [line.status for line in lines] == ["Completed", "Completed", "Failed", "Completed"]
    assert lines[0].outputs == {"s": 10}  # the aggregation output is not a flow output
    aggregation = run_sync(flow.aaggregate(lines))
    assert aggregation.metrics == {"mean": 20.0, "n": 3, "label": "run"}
    assert aggregation.node_runs["agg"].output == {"total": 60}


def test_failure_names_node_exception_and_user_frame(make_flow):
    folder = make_flow({
        "boom.py": HEADER + "@tool\ndef boom(x: str):\n    return helper(x)\n\n"
                   "def helper(x):\n    raise RuntimeError('bad value ' + x)\n",
        "flow.dag.yaml": "inputs:\n  x:\n    type: string\noutputs:\n  out:\n    reference: ${boom.output}\n"
        "nodes:\n" + py_node("boom", "boom.py", {"x": "${inputs.x}"}),
    })
    result = load_flow(folder).run({"x": "q"})
    assert result.status == "Failed"
    message = result.error["message"]
    assert "Execution failure in 'boom'" in message and "(RuntimeError) bad value q" in message
    stack = result.error["debugInfo"]["stackTrace"]
    assert "boom.py" in stack and "in helper" in stack and "promptflow_lite" not in stack
    with pytest.raises(FlowRunError):
        load_flow(folder)(x="q")


def test_literal_coercion_quirks(make_flow):
    folder = make_flow({
        "kinds.py": HEADER + "@tool\ndef kinds(n: int, f: float, b: bool, items: list, anything, s: str = 'dflt',\n"
                    "          stop: str = 'keep'):\n"
                    "    return {'n': n, 'f': f, 'b': b, 'items': items, 'anything': anything, 's': s, 'stop': stop}\n",
        "flow.dag.yaml": "inputs: {}\noutputs:\n  out:\n    reference: ${kinds.output}\nnodes:\n"
        + py_node("kinds", "kinds.py", {"n": '"256"', "f": '"0.5"', "b": '"True"', "items": "'[1, 2]'",
                                        "anything": '"1"', "s": "''", "stop": "''"}),
    })
    out = load_flow(folder)()["out"]
    assert out == {"n": 256, "f": 0.5, "b": True, "items": [1, 2], "anything": 1, "s": "dflt", "stop": "keep"}


def test_bad_literal_is_a_load_error_naming_node(make_flow):
    folder = make_flow({
        "kinds.py": HEADER + "@tool\ndef kinds(n: int):\n    return n\n",
        "flow.dag.yaml": "inputs: {}\noutputs:\n  out:\n    reference: ${kinds.output}\nnodes:\n"
        + py_node("kinds", "kinds.py", {"n": "abc"}),
    })
    with pytest.raises(Exception) as info:
        load_flow(folder)
    assert "node 'kinds'" in str(info.value) and "is not of type int" in str(info.value)


def test_flow_inputs_defaults_and_types(make_flow):
    folder = make_flow({
        "echo.py": HEADER + "@tool\ndef echo(a, b, c, d):\n    return [a, b, c, d]\n",
        "flow.dag.yaml": "inputs:\n  a:\n    type: int\n  b:\n    type: bool\n    default: false\n"
        "  c:\n    type: list\n  d:\n    type: object\n    default: not json\n"
        "outputs:\n  out:\n    reference: ${echo.output}\nnodes:\n"
        + py_node("echo", "echo.py", {"a": "${inputs.a}", "b": "${inputs.b}", "c": "${inputs.c}", "d": "${inputs.d}"}),
    })
    flow = load_flow(folder)
    assert flow(a="3", c='["x"]') == {"out": [3, False, ["x"], "not json"]}
    missing = flow.run({"c": "[]"}, line_number=7)
    assert missing.status == "Failed"
    assert "flow input 'a' is not provided in line 7" in missing.error["message"]
    wrong = flow.run({"a": "three", "c": "[]"})
    assert "does not match the expected type 'int'" in wrong.error["message"]


def test_property_paths_and_invalid_property(make_flow):
    folder = make_flow({
        "data.py": HEADER + "@tool\ndef data():\n    return {'a': {'b': [10, {'k v': 'deep'}]}}\n",
        "flow.dag.yaml": "inputs: {}\noutputs:\n  idx:\n    reference: ${data.output.a.b[0]}\n"
        "  key:\n    reference: ${data.output.a.b[1]['k v']}\n  literal:\n    reference: plain text\n"
        "nodes:\n" + py_node("data", "data.py", {}),
    })
    assert load_flow(folder)() == {"idx": 10, "key": "deep", "literal": "plain text"}
    broken = make_flow({
        "data.py": HEADER + "@tool\ndef data():\n    return {'a': 1}\n",
        "flow.dag.yaml": "inputs: {}\noutputs:\n  x:\n    reference: ${data.output.missing}\nnodes:\n"
        + py_node("data", "data.py", {}),
    }, name="broken")
    result = load_flow(broken).run({})
    assert result.status == "Failed" and result.error["innerError"]["code"] == "InvalidReferenceProperty"
    assert result.error["message"].startswith("Invalid property 'missing' when accessing the output of node 'data' "
                                              "for flow output 'x':")


def test_generators_are_joined_for_outputs(make_flow):
    folder = make_flow({
        "gen.py": HEADER + "@tool\ndef gen(n: int):\n    for i in range(n):\n        yield str(i)\n",
        "agen.py": HEADER + "@tool\nasync def agen(n: int):\n    for i in range(n):\n        yield f'<{i}>'\n",
        "flow.dag.yaml": "inputs: {}\noutputs:\n  sync:\n    reference: ${gen.output}\n"
        "  async_:\n    reference: ${agen.output}\nnodes:\n"
        + py_node("gen", "gen.py", {"n": "3"}) + py_node("agen", "agen.py", {"n": "2"}),
    })
    assert load_flow(folder)() == {"sync": "012", "async_": "<0><1>"}


def test_tool_provider_is_created_once_with_init_inputs(make_flow):
    folder = make_flow({
        "prov.py": "from promptflow.core import ToolProvider, tool\n"
                   "class Greeter(ToolProvider):\n"
                   "    created = 0\n"
                   "    def __init__(self, greeting: str):\n"
                   "        super().__init__()\n"
                   "        Greeter.created += 1\n"
                   "        self.greeting = greeting\n"
                   "    @tool\n"
                   "    def greet(self, name: str) -> str:\n"
                   "        return f'{self.greeting} {name} #{Greeter.created}'\n",
        "flow.dag.yaml": "inputs:\n  name:\n    type: string\noutputs:\n  out:\n    reference: ${greet.output}\n"
        "nodes:\n" + py_node("greet", "prov.py", {"greeting": "Hi", "name": "${inputs.name}"}),
    })
    flow = load_flow(folder)
    assert [flow(name=n)["out"] for n in ("a", "b")] == ["Hi a #1", "Hi b #1"]


def test_module_must_define_exactly_one_tool(make_flow):
    two = HEADER + "@tool\ndef a():\n    return 1\n@tool\ndef b():\n    return 2\n"
    folder = make_flow({"two.py": two, "flow.dag.yaml": "inputs: {}\noutputs: {}\nnodes:\n" + py_node("n", "two.py", {})})
    with pytest.raises(Exception) as info:
        load_flow(folder)
    assert "Multiple tools found (a, b)" in str(info.value) and "node 'n'" in str(info.value)


def test_line_timeout(make_flow):
    folder = make_flow({
        "slow.py": HEADER + "import asyncio\n@tool\nasync def slow():\n    await asyncio.sleep(5)\n",
        "flow.dag.yaml": "inputs: {}\noutputs:\n  out:\n    reference: ${slow.output}\nnodes:\n" + py_node("slow", "slow.py", {}),
    })
    result = load_flow(folder).run({}, timeout=0.2)
    assert result.status == "Failed" and "timeout" in result.error["message"]
    assert result.node_runs["slow"].status == "Canceled"


def test_variants_replace_the_node(make_flow):
    text = ("inputs:\n  x:\n    type: string\noutputs:\n  out:\n    reference: ${pick.output}\nnodes:\n"
            "- name: pick\n  use_variants: true\nnode_variants:\n  pick:\n    default_variant_id: v0\n    variants:\n")
    for vid, suffix in (("v0", "zero"), ("v1", "one")):
        text += (f"      {vid}:\n        node:\n          type: python\n          source:\n            type: code\n"
                 f"            path: tag.py\n          inputs:\n            x: ${{inputs.x}}\n            tag: {suffix}\n")
    folder = make_flow({"tag.py": HEADER + "@tool\ndef tag(x: str, tag: str):\n    return f'{x}-{tag}'\n",
                        "flow.dag.yaml": text})
    assert load_flow(folder)(x="a") == {"out": "a-zero"}
    assert load_flow(folder, variant="${pick.v1}")(x="a") == {"out": "a-one"}


def test_environment_variables_are_exported(make_flow, monkeypatch):
    monkeypatch.delenv("PFL_TEST_VAR", raising=False)
    folder = make_flow({
        "env.py": HEADER + "import os\n@tool\ndef env():\n    return os.environ.get('PFL_TEST_VAR')\n",
        "flow.dag.yaml": "environment_variables:\n  PFL_TEST_VAR: from-flow\ninputs: {}\noutputs:\n"
        "  out:\n    reference: ${env.output}\nnodes:\n" + py_node("env", "env.py", {}),
    })
    assert load_flow(folder)() == {"out": "from-flow"}
    assert load_flow(folder, environment_variables={"PFL_TEST_VAR": "override"})() == {"out": "override"}


def test_additional_includes_and_file_relative_code(make_flow, tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "util.py").write_text("PREFIX = 'shared:'\n")
    (shared / "uses_util.py").write_text(HEADER + "from util import PREFIX\nfrom pathlib import Path\n"
                                         "@tool\ndef uses(x: str):\n    return PREFIX + x + ':' + Path(__file__).name\n")
    folder = make_flow({
        "flow.dag.yaml": "additional_includes:\n  - ../shared/util.py\n  - ../shared/uses_util.py\n"
        "inputs:\n  x:\n    type: string\noutputs:\n  out:\n    reference: ${n.output}\nnodes:\n"
        + py_node("n", "uses_util.py", {"x": "${inputs.x}"}),
    })
    assert load_flow(folder)(x="v") == {"out": "shared:v:uses_util.py"}


def test_prints_are_captured_per_node(make_flow):
    folder = make_flow({
        "talk.py": HEADER + "@tool\ndef talk(x: str):\n    print('saying', x)\n    return x\n",
        "flow.dag.yaml": "inputs:\n  x:\n    type: string\noutputs:\n  out:\n    reference: ${talk.output}\n"
        "nodes:\n" + py_node("talk", "talk.py", {"x": "${inputs.x}"}),
    })
    result = load_flow(folder).run({"x": "hi"})
    assert result.node_runs["talk"].logs == "saying hi\n"


def test_many_lines_share_one_loaded_flow(make_flow):
    import asyncio

    folder = make_flow({
        "sq.py": HEADER + "import asyncio\n@tool\nasync def sq(x: int):\n    await asyncio.sleep(0.001)\n    return x * x\n",
        "flow.dag.yaml": "inputs:\n  x:\n    type: int\noutputs:\n  out:\n    reference: ${sq.output}\n"
        "nodes:\n" + py_node("sq", "sq.py", {"x": "${inputs.x}"}),
    })
    flow = load_flow(folder)

    async def many():
        return await asyncio.gather(*(flow.arun({"x": i}, line_number=i) for i in range(200)))

    results = run_sync(many())
    assert [r.outputs["out"] for r in results] == [i * i for i in range(200)]


def test_cheap_sync_tools_move_onto_the_loop_and_blocking_ones_go_back(make_flow, monkeypatch):
    import threading

    from promptflow_lite.engine import _dispatch as dispatch

    monkeypatch.setattr(dispatch, "INLINE_BELOW", 0.02)  # a loaded CI machine can stretch a no-op past 0.5 ms

    folder = make_flow({
        "where.py": HEADER + "import threading, time\n@tool\ndef where(x: int, nap: float):\n"
                    "    time.sleep(nap)\n    return threading.current_thread().name\n",
        "flow.dag.yaml": "inputs:\n  x:\n    type: int\n  nap:\n    type: double\n    default: 0\n"
        "outputs:\n  thread:\n    reference: ${where.output}\nnodes:\n"
        + py_node("where", "where.py", {"x": "${inputs.x}", "nap": "${inputs.nap}"}),
    })
    flow = load_flow(folder)
    names = [flow(x=i)["thread"] for i in range(12)]
    assert all(n.startswith("pfl-tool") for n in names[:8])  # on probation in the pool
    assert names[-1] == threading.current_thread().name or names[-1] == "pfl-run-sync"  # now called directly
    assert not flow(x=0, nap=0.08)["thread"].startswith("pfl-tool")  # a blocking call happens once on the loop...
    assert flow(x=0)["thread"].startswith("pfl-tool")  # ...and sends the tool back to the pool for good
