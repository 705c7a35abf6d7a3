"""A batch run tunes the garbage collector for its lines only: the process gets its settings back; a ``pfl``
command spares its exit the interpreter's last full collections."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

import pytest

from promptflow_lite._gc import BATCH_YOUNG_THRESHOLD, batch_collection, collection_paused
from promptflow_lite.cli.main import main as pfl

FLOW = {
    "flow.dag.yaml": """
        inputs:
          x: {type: int}
        outputs:
          threshold: {type: int, reference: "${probe.output}"}
        nodes:
        - name: probe
          type: python
          source: {type: code, path: probe.py}
          inputs: {x: "${inputs.x}"}
        """,
    "probe.py": """
        import gc
        from promptflow.core import tool

        @tool
        def probe(x: int) -> int:
            if x < 0:
                raise ValueError("negative")
            return gc.get_threshold()[0]
        """,
}


@pytest.fixture
def restore_gc():
    before, enabled = gc.get_threshold(), gc.isenabled()
    yield before
    gc.set_threshold(*before)
    (gc.enable if enabled else gc.disable)()


def _run(make_flow, tmp_path, values, name):
    data = tmp_path / f"{name}.jsonl"
    data.write_text("".join(json.dumps({"x": v}) + "\n" for v in values))
    assert pfl(["run", "create", "--flow", str(make_flow(FLOW)), "--data", str(data), "--name", name, "--allow-failures"]) == 0


def test_lines_run_with_fewer_young_collections_and_the_process_gets_its_settings_back(
        make_flow, tmp_path, pfl_json, restore_gc):
    gc.set_threshold(900, 11, 12)
    _run(make_flow, tmp_path, [1, 2, -1, 3], "tuned")  # a failing line changes nothing
    details = pfl_json("run", "show-details", "tuned", "-o", "json")
    seen = [row.get("outputs.threshold", row.get("threshold")) for row in details]
    assert [value for value in seen if value is not None] == [BATCH_YOUNG_THRESHOLD] * 3
    assert gc.get_threshold() == (900, 11, 12)
    assert gc.isenabled()


def test_batch_collection_nests_and_never_lowers_a_threshold(restore_gc):
    gc.set_threshold(50_000, 10, 10)
    with batch_collection():
        assert gc.get_threshold() == (50_000, 10, 10)  # the process asked for more already
    gc.set_threshold(700, 10, 10)
    with batch_collection():
        with batch_collection():
            assert gc.get_threshold() == (BATCH_YOUNG_THRESHOLD, 10, 10)
        assert gc.get_threshold() == (BATCH_YOUNG_THRESHOLD, 10, 10)  # the outer batch still runs
    assert gc.get_threshold() == (700, 10, 10)


def test_a_paused_collection_resumes_only_if_it_ran_before(restore_gc):
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()  # the user's choice is kept
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_a_pfl_command_freezes_its_objects_before_the_interpreter_collects_them_at_exit(make_flow, tmp_path):
    """The last collections of a batch run's process scanned every object it made (~0.2 s with the SDK loaded);
    frozen, they are skipped, and nothing the run wrote is lost."""
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"x": v}) + "\n" for v in range(5)))
    script = ("import atexit, gc, sys\n"  # registered first, so it runs after pfl's own exit work
              "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
              "from promptflow_lite.cli.main import main\n"
              "sys.exit(main())")  # the process is the command's, as with the pfl executable
    done = subprocess.run([sys.executable, "-c", script, "run", "create", "--flow", str(make_flow(FLOW)), "--data",
                           str(data), "--name", "frozen"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "frozen at exit: True"
    shown = subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "run", "show-details", "frozen", "-o",
                            "json"], capture_output=True, text=True, timeout=300)
    assert [row["outputs.threshold"] for row in json.loads(shown.stdout)] == [BATCH_YOUNG_THRESHOLD] * 5
