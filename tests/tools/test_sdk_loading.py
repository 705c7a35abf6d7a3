"""How the openai SDK loads: its API types as they are used (the same names, classes and modules as an eager
import), ahead of time in a batch run, and a clear error when the package cannot be imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from promptflow_lite.runs._client import Client
from promptflow_lite.testing import ScriptedServer
from _served import ASK_FLOW, PFL

# Every package under openai.types and, for each public name that is not a module, where it is defined.
# With "lazy", the SDK is loaded as promptflow_lite loads it; the count of type modules the import alone
# loaded is printed first.
TYPES_SCRIPT = textwrap.dedent("""
    import importlib, json, pathlib, sys, types
    if sys.argv[1] == "lazy":
        from promptflow_lite.tools._sdk import load_sdk
        openai = load_sdk()
    else:
        import openai
    loaded = sum(name.startswith("openai.types") for name in sys.modules)
    root = pathlib.Path(openai.__file__).parent
    names = {}
    for init in sorted((root / "types").rglob("__init__.py")):
        package = ".".join(init.parent.relative_to(root.parent).parts)
        module = importlib.import_module(package)
        values = {name: getattr(module, name) for name in dir(module) if not name.startswith("_")}
        names[package] = {name: f"{value.__module__}.{getattr(value, '__qualname__', '')}"
                          for name, value in values.items() if not isinstance(value, types.ModuleType)}
    print(json.dumps({"loaded": loaded, "names": names}))
""")

def _types(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", TYPES_SCRIPT, mode], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_sdk_types_load_as_used_with_the_names_of_an_eager_import():
    eager, lazy = _types("eager"), _types("lazy")
    assert lazy["names"] == eager["names"]  # every package, every name, the same class from the same module
    assert sum(map(len, eager["names"].values())) > 500
    assert lazy["loaded"] < eager["loaded"] / 2  # the import itself left most type modules unloaded


def test_a_type_package_reexporting_a_name_like_one_of_its_modules_loads_as_it_is(tmp_path):
    """A lazy package would lose such a name to its module once that is imported: it loads eagerly."""
    package = tmp_path / "openai" / "types" / "kinds"
    package.mkdir(parents=True)
    (tmp_path / "openai" / "__init__.py").write_text("")
    (tmp_path / "openai" / "types" / "__init__.py").write_text("from .shape import Shape as Shape\n")
    (tmp_path / "openai" / "types" / "shape.py").write_text("class Shape:\n    pass\n")
    (package / "__init__.py").write_text("from .kinds import kinds as kinds\nfrom .other import Other as Other\n")
    (package / "kinds.py").write_text("def kinds():\n    return 'the-function'\n")
    (package / "other.py").write_text("class Other:\n    pass\n")
    script = ("import importlib, sys\n"
              "from promptflow_lite.tools._sdk_types import lazy_types\nlazy_types()\n"
              "types = importlib.import_module('openai.types')\n"
              "print('openai.types.shape' in sys.modules, types.Shape.__module__)\n"
              "kinds = importlib.import_module('openai.types.kinds')\n"
              "importlib.import_module('openai.types.kinds.kinds')\n"
              "print('openai.types.kinds.other' in sys.modules, kinds.kinds())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "openai.types.shape", "True", "the-function"]


@pytest.mark.parametrize("package", [
    "raise ModuleNotFoundError(\"No module named 'openai'\", name='openai')",  # as if it were not installed
    "import a_dependency_that_is_gone",  # installed but broken
])
@pytest.mark.parametrize("command", ["run", "flow test"])
def test_an_llm_flow_without_a_usable_openai_package_fails_with_a_clear_error(package, command, tmp_path, make_flow,
                                                                              scripted_connections):
    """A batch run imports the SDK in a background thread: its failure is reported as the import's own would be,
    by the run, and nothing waits for it."""
    shadow = tmp_path / "shadow" / "openai"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(package + "\n")
    flow = make_flow(ASK_FLOW)
    data = tmp_path / "data.jsonl"
    data.write_text('{"question": "What is the capital of France?"}\n')
    with ScriptedServer() as server:
        scripted_connections(server)
        args = (["run", "create", "--flow", str(flow), "--data", str(data), "--name", "no_sdk",
                 "--column-mapping", "question=${data.question}"] if command == "run" else
                ["flow", "test", "--flow", str(flow), "--inputs", "question=hi"])
        done = subprocess.run([*PFL, *args], capture_output=True, text=True,
                              timeout=300, env={**os.environ, "PYTHONPATH": str(shadow.parent)})
        assert server.stats["requests"] == 0
    assert done.returncode == 1
    error = done.stderr.splitlines()[-1]  # `flow test` names the node that needs it
    assert error.startswith("Error (SdkUnavailable): ") and "The openai package cannot be imported" in error
    assert "pip install 'openai[aiohttp]" in done.stderr
    assert "Traceback" not in done.stderr
    if command == "run":
        shown = subprocess.run([*PFL, "run", "show", "-n", "no_sdk"],
                               capture_output=True, text=True, timeout=120)
        assert json.loads(shown.stdout)["status"] == "Failed"


def test_a_batch_run_reaches_its_endpoint_past_the_proxies_of_the_environment(tmp_path, make_flow,
                                                                             scripted_connections, monkeypatch):
    """The transports of a batch run's client (one per proxy, one direct) share the TLS context made ahead of
    time; NO_PROXY still sends the calls to the local endpoint directly."""
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    flow = make_flow(ASK_FLOW)
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"question": f"Question {i}?"}) + "\n" for i in range(12)))
    with ScriptedServer() as server:
        scripted_connections(server)
        run = Client().run(flow=flow, data=data, column_mapping={"question": "${data.question}"}, use_cache=False)
        assert server.stats["requests"] == 12
    assert (run.status, run.completed_lines) == ("Completed", 12)
