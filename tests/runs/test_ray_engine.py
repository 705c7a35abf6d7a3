"""The Ray engine (``--engine ray``) on a real local Ray cluster: same results as the local engine, faults, resume.

One cluster serves all the tests here (``ray_cluster``): started by the engine's own ``local`` mode in this
process, so in-process runs use it directly and ``pfl`` subprocesses join it with ``--ray-address``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.runs import Client

from _engine_runs import (  # noqa: F401 - server is a fixture
    QA_FLOW, cancel_then_resume, expected, kill_driver_then_resume, outputs, questions, server, traced_lines,
    wait_for,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ray_cluster():
    """A real Ray cluster on 127.0.0.1 for these tests, started the way ``--ray-address local`` starts one."""
    from promptflow_lite.runs._ray_cluster import connect

    cluster = connect("local")
    yield cluster
    import ray

    ray.shutdown()


@pytest.fixture
def connections(server, scripted_connections):
    return scripted_connections(server, api_key="sk-ray-test")


def worker_pids(log: Path) -> list[int]:
    """The worker processes the run's log names ("... 2 workers (pid 123 on host, ...)")."""
    text = log.read_text() if log.is_file() else ""
    match = re.search(r"Ray engine: .* workers \(([^)]*)\)", text)
    return [int(pid) for pid in re.findall(r"pid (\d+)", match.group(1))] if match else []


def test_the_local_cluster_listens_on_127_0_0_1_only_and_reports_no_usage_stats(ray_cluster):
    import ray

    assert ray_cluster.started and ray_cluster.address.startswith("127.0.0.1:")
    assert {node["NodeManagerAddress"] for node in ray.nodes()} == {"127.0.0.1"}

    @ray.remote(num_cpus=0)
    def settings():
        from ray._common.usage import usage_lib

        return usage_lib.usage_stats_enabled(), os.environ.get("RAY_AUTH_MODE"), os.nice(0)

    # the token lives in memory, not in ~/.ray; workers get the CPU as this process does (not niceness 15)
    assert ray.get(settings.remote()) == (False, "token", os.nice(0))
    assert not (Path.home() / ".ray" / "auth_token").exists()


def test_an_llm_flow_on_ray_equals_the_local_run_line_for_line(ray_cluster, connections, make_flow, tmp_path):
    from promptflow_lite.tracing import get_trace, list_traces

    flow, data = make_flow(QA_FLOW, name="qa"), questions(tmp_path, 1000)
    client = Client(progress=False)
    local = client.run(flow, data=data, name="qa_local")
    remote = client.run(flow, data=data, name="qa_ray", engine="ray", ray_actors=2, use_cache=False)

    assert (local.status, remote.status) == ("Completed", "Completed")
    assert outputs(remote) == outputs(local) == expected(1000)
    assert remote.metrics == local.metrics and local.metrics["lines"] == 1000
    assert remote.completed_lines == 1000 and remote.properties["engine"] == "ray"
    assert len(set(worker_pids(Path(remote.output_path, "logs.txt")))) == 2

    assert traced_lines("qa_ray") == list(range(1000))  # the workers' spans reached this process's trace store
    traces = list_traces(run="qa_ray", limit=1)
    tree = get_trace(traces[0]["trace_id"])["spans"]
    spans = [tree[0]] + [child for node in tree[0]["children"] for child in [node, *node["children"]]]
    assert {s["name"] for s in spans} >= {"qa", "ask", "chat gpt-4o-mini"}
    assert "sk-ray-test" not in json.dumps(get_trace(traces[0]["trace_id"]))


@pytest.mark.parametrize("engine", ["local", "ray"])
def test_lines_nest_under_the_callers_span_with_their_tokens(engine, ray_cluster, connections, make_flow, tmp_path):
    from promptflow_lite.tracing import enable_tracing, flush_tracing, get_trace, trace

    flow, data = make_flow(QA_FLOW, name="qa"), questions(tmp_path, 12)
    enable_tracing()

    @trace
    def nightly_check():
        return Client(progress=False).run(flow, data=data, engine=engine, use_cache=False)

    run = nightly_check()
    flush_tracing()
    trace_ids = {json.loads(line)["run_info"]["otel_trace_id"] for line in
                 Path(run.output_path, "flow_artifacts", "000000000_000000099.jsonl").read_text().splitlines()}
    [caller] = get_trace(trace_ids.pop())["spans"]  # every line is in the caller's trace
    assert caller["name"].endswith("nightly_check") and not trace_ids
    assert sorted(child["name"] for child in caller["children"]) == ["qa"] * 12
    assert caller["attributes"]["__computed__.cumulative_token_count.total"] == run.tokens["total_tokens"] > 0


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "flows").iterdir() if p.is_dir()))
def test_every_example_flow_gives_the_same_results_on_ray(name, ray_cluster, monkeypatch):
    from promptflow_lite.testing import _offline as offline

    folder = REPO / "flows" / name
    rules = folder / "scripted_llm.yaml"
    offline_flag = ["--scripted-llm", str(rules)] if rules.is_file() else []
    subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", *offline_flag, "run", "create", "--flow",
                    str(folder), "--data", str(folder / "data.jsonl"), "--no-cache", "--name", "local"],
                   check=True, capture_output=True)  # a fresh process: other tests' modules are not in the way
    if rules.is_file():
        monkeypatch.setenv(offline.ENV, str(rules))  # what `pfl --scripted-llm RULES` sets
    monkeypatch.setattr(offline, "_server", None)
    try:
        remote = Client(progress=False).run(folder, data=folder / "data.jsonl", use_cache=False, engine="ray",
                                            ray_actors=1)
    finally:
        if offline._server is not None:
            offline._server.stop()
    local = Client().runs.get("local")
    assert (local.status, remote.status) == ("Completed", "Completed")
    assert outputs(remote) == outputs(local) and remote.metrics == local.metrics


def test_ray_workers_answer_from_the_llm_cache_the_local_engine_filled(ray_cluster, connections, server, make_flow,
                                                                       tmp_path):
    flow, data = make_flow(QA_FLOW, name="qa"), questions(tmp_path, 60)
    first = Client(progress=False).run(flow, data=data, name="first")
    calls = server.stats["requests"]
    again = Client(progress=False, engine="ray", ray_actors=2).run(flow, data=data, name="again")
    assert (first.cached_lines, again.cached_lines) == (0, 60)
    assert server.stats["requests"] == calls  # every answer came from the cache file the workers share
    assert outputs(again) == outputs(first) == expected(60)


def test_killing_a_worker_mid_run_loses_only_its_lines_in_flight(ray_cluster, connections, server, make_flow,
                                                                 tmp_path):
    flow, data = make_flow(QA_FLOW, name="qa"), questions(tmp_path, 300)
    server.latency = 0.2  # long enough to kill a worker while lines are in flight
    client = Client(progress=False)
    done: dict = {}
    runner = threading.Thread(target=lambda: done.setdefault("run", client.run(
        flow, data=data, name="kill_worker", engine="ray", ray_actors=2, max_concurrency=8, use_cache=False)))
    runner.start()
    folder = Path(os.environ["PFL_HOME"], "runs", "kill_worker")
    victim = wait_for(lambda: worker_pids(folder / "logs.txt"), what="the workers")[0]
    wait_for(lambda: (folder / "line_results.jsonl").is_file()
             and len((folder / "line_results.jsonl").read_text().splitlines()) >= 30, what="30 finished lines")
    os.kill(victim, signal.SIGKILL)
    runner.join(300)

    run = done["run"]
    assert run.status == "Completed" and run.completed_lines == 300
    assert outputs(run) == expected(300)
    assert traced_lines("kill_worker") == list(range(300))  # lines lost with the worker left no trace: once each
    log = Path(run.output_path, "logs.txt").read_text()
    given_back = re.search(r"Ray worker \d died .*; (\d+) lines in flight go back to the queue", log)
    assert given_back and int(given_back.group(1)) > 0
    assert server.stats["requests"] >= 300  # every line asked; those in flight on the dead worker once more


def test_a_killed_driver_leaves_a_run_that_pfl_run_resume_completes(ray_cluster, connections, server, make_flow,
                                                                    tmp_path):
    kill_driver_then_resume(server, make_flow(QA_FLOW, name="qa"), questions(tmp_path, 400),
                            ["--engine", "ray", "--ray-address", ray_cluster.address, "--ray-actors", "2"],
                            worker_pids, "Ray engine:")


def test_pfl_run_cancel_ends_the_workers_and_the_run_resumes(ray_cluster, connections, server, make_flow, tmp_path):
    cancel_then_resume(server, make_flow(QA_FLOW, name="qa"), questions(tmp_path, 300), worker_pids, engine="ray", ray_actors=2)


def test_lines_are_handed_out_only_as_workers_have_room(ray_cluster, make_flow):
    import asyncio

    from promptflow_lite.runs import FlowRecipe, LineTask
    from promptflow_lite.runs._ray_engine import RayEngine

    folder = make_flow({
        "slow.py": "import time\nfrom promptflow.core import tool\n"
                   "@tool\ndef slow(x: int) -> int:\n    time.sleep(0.01)\n    return x * 2\n",
        "flow.dag.yaml": """
            inputs: {x: {type: int}}
            outputs: {y: {reference: "${slow.output}"}}
            nodes:
            - {name: slow, type: python, source: {type: code, path: slow.py}, inputs: {x: "${inputs.x}"}}
            """}, name="slow")
    recipe = FlowRecipe(str(folder))
    flow = recipe.load()
    results, ahead = [], []

    def tasks():  # a dataset too big to hand out at once
        for number in range(400):
            ahead.append(number - len(results))  # lines handed out and not back yet
            yield LineTask(number, {"x": number})

    asyncio.run(RayEngine(actors=2, max_concurrency=5).execute(flow, tasks(), results.append, recipe=recipe))
    assert sorted(r.line_number for r in results) == list(range(400))
    assert all(r.outputs == {"y": 2 * r.line_number} for r in results)
    assert max(ahead) <= 2 * 5  # never more than the workers' room


def test_lines_on_ray_run_with_the_collector_tuned_for_a_batch_as_locally(ray_cluster, make_flow, tmp_path):
    flow = make_flow({
        "probe.py": "import gc\nfrom promptflow.core import tool\n"
                    "@tool\ndef probe(x: int) -> int:\n    return gc.get_threshold()[0]\n",
        "flow.dag.yaml": """
            inputs: {x: {type: int}}
            outputs: {threshold: {reference: "${probe.output}"}}
            nodes:
            - {name: probe, type: python, source: {type: code, path: probe.py}, inputs: {x: "${inputs.x}"}}
            """}, name="probe")
    data = tmp_path / "numbers.jsonl"
    data.write_text("".join(json.dumps({"x": i}) + "\n" for i in range(6)))
    local = Client(progress=False).run(flow, data=data)
    remote = Client(progress=False).run(flow, data=data, engine="ray", ray_actors=2)
    from promptflow_lite._gc import BATCH_YOUNG_THRESHOLD

    thresholds = [{row["threshold"] for row in outputs(run).values()} for run in (local, remote)]
    assert thresholds == [{BATCH_YOUNG_THRESHOLD}] * 2


ONE_PIXEL_PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def test_images_a_flow_makes_on_ray_are_written_as_files_and_aggregated_as_locally(ray_cluster, make_flow,
                                                                                   tmp_path):
    flow = make_flow({
        "draw.py": "import base64\nfrom promptflow.core import tool\n"
                   "from promptflow.contracts.multimedia import Image\n"
                   f"PNG = base64.b64decode('{ONE_PIXEL_PNG}')\n"
                   "@tool\ndef draw(n: int):\n    return Image(PNG + bytes([n]), mime_type='image/png')\n",
        "size.py": "from promptflow.core import tool, log_metric\n"
                   "@tool\ndef size(pictures: list) -> int:\n"
                   "    log_metric('bytes', sum(len(bytes(p)) for p in pictures))\n    return len(pictures)\n",
        "flow.dag.yaml": """
            inputs: {n: {type: int}}
            outputs: {picture: {reference: "${draw.output}"}}
            nodes:
            - {name: draw, type: python, source: {type: code, path: draw.py}, inputs: {n: "${inputs.n}"}}
            - {name: size, type: python, source: {type: code, path: size.py}, inputs: {pictures: "${draw.output}"},
               aggregation: true}
            """}, name="pictures")
    data = tmp_path / "numbers.jsonl"
    data.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(8)))
    local = Client(progress=False).run(flow, data=data, name="pictures_local")
    remote = Client(progress=False).run(flow, data=data, name="pictures_ray", engine="ray", ray_actors=2)
    assert (local.status, remote.status) == ("Completed", "Completed")
    assert outputs(remote) == outputs(local)
    assert all(set(row["picture"]) == {"data:image/png;path"} for row in outputs(remote).values())
    written = sorted(p.name for p in Path(remote.output_path, "flow_outputs").glob("*.png"))
    assert len(written) == 8
    assert written == sorted(p.name for p in Path(local.output_path, "flow_outputs").glob("*.png"))
    assert remote.metrics == local.metrics == {"bytes": 8 * 71}


def test_an_evaluation_flex_flow_over_a_flex_base_run_on_ray_uses_its_own_helpers(ray_cluster, make_flow,
                                                                                   tmp_path):
    answer = make_flow({"flow.flex.yaml": "entry: flow:answer\n",
                        "flow.py": "from ray_helpers import shout\ndef answer(q: str) -> str:\n    return shout(q)\n",
                        "ray_helpers.py": "def shout(text):\n    return text.upper() + '!'\n"}, name="answer")
    grader = make_flow({"flow.flex.yaml": "entry: flow:grade\n",
                        "flow.py": "from ray_helpers import judge\ndef grade(answer: str) -> bool:\n"
                                   "    return judge(answer)\n",
                        "ray_helpers.py": "def judge(text):\n    return text.endswith('!')\n"}, name="grader")
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"q": f"question {i}"}) + "\n" for i in range(6)))
    client = Client(progress=False, engine="ray", ray_actors=2)
    base = client.run(answer, data=data, column_mapping={"q": "${data.q}"})
    graded = client.run(grader, data=data, run=base, column_mapping={"answer": "${run.outputs.output}"})
    assert (base.status, graded.status) == ("Completed", "Completed")
    assert [row["output"] for _, row in sorted(outputs(base).items())] == [f"QUESTION {i}!" for i in range(6)]
    assert [row["output"] for row in outputs(graded).values()] == [True] * 6


def test_pfl_eval_on_ray_prints_the_same_comparison_table(ray_cluster, tmp_path):
    example = REPO / "flows" / "classification"
    command = [sys.executable, "-m", "promptflow_lite.cli.main", "--scripted-llm", str(example / "scripted_llm.yaml"),
               "eval", "--flow", str(example), "--data", str(example / "data.jsonl"), "--variants", "all", "--evaluator",
               "exact_match", "--evaluator-mapping", "exact_match.answer=${run.outputs.category}", "--quiet"]
    env = {k: v for k, v in os.environ.items() if k not in ("PROMPTFLOW_CONNECTIONS", "PFL_SCRIPTED_LLM")}
    local = subprocess.run(command, capture_output=True, text=True, env={**env, "PFL_HOME": str(tmp_path / "a")},
                           timeout=300)
    remote = subprocess.run(command + ["--engine", "ray", "--ray-address", ray_cluster.address, "--ray-actors", "1"],
                            capture_output=True, text=True, env={**env, "PFL_HOME": str(tmp_path / "b")}, timeout=600)
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert "variant_0" in local.stdout and remote.stdout == local.stdout
    runs = json.loads(subprocess.run([sys.executable, "-m", "promptflow_lite.cli.main", "run", "list", "-o", "json"],
                                     capture_output=True, text=True, env={**env, "PFL_HOME": str(tmp_path / "b")},
                                     check=True).stdout)
    assert len(runs) == 4 and {r["properties"]["engine"] for r in runs} == {"ray"}


def test_additional_includes_environment_and_secrets_reach_the_workers_in_memory_only(ray_cluster, make_flow,
                                                                                      tmp_path, monkeypatch):
    import ray

    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "shouting.py").write_text("def shout(text):\n    return text.upper() + '!'\n")
    flow = make_flow({
        "use.py": "import os\nfrom promptflow.core import tool\nfrom promptflow.connections import CustomConnection\n"
                  "from shouting import shout\n"
                  "@tool\ndef use(text: str, conn: CustomConnection) -> dict:\n"
                  "    return {'text': shout(text), 'key_length': len(conn.secret_key), 'mode': os.environ['MODE'],\n"
                  "            'pid': os.getpid(), 'echo': conn.secret_key}\n",
        "flow.dag.yaml": """
            additional_includes: [../shared/shouting.py]
            environment_variables: {MODE: from-flow}
            inputs:
              text: {type: string}
            outputs:
              out: {reference: "${use.output}"}
            nodes:
            - {name: use, type: python, source: {type: code, path: use.py},
               inputs: {text: "${inputs.text}", conn: my_secret_conn}}
            """}, name="includes")
    secret = "s3cr3t-value-that-must-not-be-written"
    file = tmp_path / "connections.json"
    file.write_text(json.dumps({"my_secret_conn": {"type": "CustomConnection", "value": {"secret_key": secret},
                                                   "secret_keys": ["secret_key"]}}))
    monkeypatch.setenv("PROMPTFLOW_CONNECTIONS", str(file))
    data = tmp_path / "words.jsonl"
    data.write_text("".join(json.dumps({"text": f"word {i}"}) + "\n" for i in range(20)))

    run = Client(progress=False).run(flow, data=data, engine="ray", ray_actors=2,
                                     environment_variables={"MODE": "given"})
    assert run.status == "Completed"
    rows = outputs(run)
    assert [rows[i]["out"]["text"] for i in range(20)] == [f"WORD {i}!" for i in range(20)]
    assert {row["out"]["key_length"] for row in rows.values()} == {len(secret)}
    assert {row["out"]["mode"] for row in rows.values()} == {"given"}
    assert {row["out"]["echo"] for row in rows.values()} == {"***"}  # a tool echoing its key: masked, as locally
    assert os.getpid() not in {row["out"]["pid"] for row in rows.values()}  # the lines ran in the workers

    session = Path(ray._private.worker._global_node.get_session_dir_path())
    for root in (session, Path(os.environ["PFL_HOME"])):
        for path in root.rglob("*"):
            if path.is_file() and not path.is_socket():
                assert secret.encode() not in path.read_bytes(), f"the secret is written in {path}"


def test_engine_choices_are_checked_before_a_run_starts(make_flow, tmp_path, capsys):
    flow = make_flow(QA_FLOW, name="qa")
    data = questions(tmp_path, 2)
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--engine", "spark"]) != 0
    assert "Unknown engine 'spark'" in capsys.readouterr().err
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--engine", "ray",
                "--ray-address", "nowhere"]) != 0
    assert "'nowhere' is not a Ray address" in capsys.readouterr().err
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--engine", "local",
                "--ray-actors", "2"]) != 0
    assert "apply to the Ray engine, not to 'local'" in capsys.readouterr().err
    assert Client().runs.list() == []


def test_without_ray_installed_the_ray_engine_says_how_to_install_it(make_flow, tmp_path):
    flow, data = make_flow(QA_FLOW, name="qa"), questions(tmp_path, 2)
    code = ("import sys\nsys.modules['ray'] = None  # as if Ray were not installed\n"
            "from promptflow_lite.cli.main import main\n"
            f"sys.exit(main(['run', 'create', '--flow', {str(flow)!r}, '--data', {str(data)!r}, '--engine', 'ray']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "The Ray engine needs Ray" in done.stderr and "pip install 'promptflow_lite[ray]'" in done.stderr


def test_nothing_imports_ray_unless_the_ray_engine_runs():
    code = ("import sys\nfrom promptflow_lite.cli.main import main\n"
            "try:\n    main(['run', 'create', '--help'])\nexcept SystemExit:\n    pass\n"
            "import promptflow_lite.runs._ray_engine\nprint('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "--engine" in out and out.strip().endswith("False")
