"""`pf` command lines as scripts type them work with `pfl`: every flag of promptflow 1.18's CLI for the verbs
pfl has (`pf <verb> -h`), with the same meaning."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import build_parser, main

# (promptflow command line, what the parsed arguments must say) - the flags of `pf <verb> <command> -h` in 1.18.5
PF_COMMAND_LINES = [
    ("flow test --flow f --inputs a=1 b=2 --node n --variant ${n.v} --environment-variables K=V --collection c "
     "--init x=1 --verbose -d", {"flow": "f", "inputs": ["a=1", "b=2"], "node": "n", "variant": "${n.v}",
                                  "environment_variables": ["K=V"], "collection": "c", "init": ["x=1"],
                                  "verbose": True, "debug": True}),
    ("flow test --flow f --inputs inputs.json", {"inputs": ["inputs.json"]}),
    ("flow test --flow f --interactive --verbose", {"interactive": True, "verbose": True}),
    ("flow test --flow f --ui", {"ui": True}),
    ("flow validate --source f --verbose --debug", {"source": "f", "debug": True}),
    ("flow serve --source f --port 8081 --host 0.0.0.0 --engine fastapi --environment-variables K=V "
     "--skip-open-browser --init x=1 -d", {"source": ["f"], "port": 8081, "host": "0.0.0.0", "engine": "fastapi",
                                          "skip_open_browser": True, "init": ["x=1"]}),
    ("run create -f run.yml -s --flow f --variant ${n.v} --run base -n r1 --column-mapping a=${data.a} "
     "--environment-variables K=V --connections n.connection=c --set display_name=d tags.k=v --resume-from old "
     "--init x=1 --data d.jsonl --verbose -d", {"file": "run.yml", "stream": True, "flow": "f", "run": "base",
                                               "name": "r1", "column_mapping": ["a=${data.a}"],
                                               "connections": ["n.connection=c"],
                                               "set_fields": ["display_name=d", "tags.k=v"],
                                               "resume_from": "old", "data": "d.jsonl"}),
    ("run create --source ./run_folder", {"source": "./run_folder"}),
    ("run update -n r1 --set display_name=x description=y tags.k=v", {"name_option": "r1"}),
    ("run stream -n r1", {"name_option": "r1"}),
    ("run list -r 10 --all-results --archived-only -o json", {"max_results": 10, "all_results": True,
                                                             "archived": True, "output": "json"}),
    ("run list --include-archived", {"include_archived": True}),
    ("run show -n r1 --verbose", {"name_option": "r1"}),
    ("run show-details -r 5 -n r1 --all-results", {"max_results": 5, "all_results": True, "name_option": "r1"}),
    ("run show-metrics -n r1", {"name_option": "r1"}),
    ("run visualize -n r1,r2", {"name_option": "r1,r2"}),
    ("run archive -n r1", {"name_option": "r1"}),
    ("run restore -n r1", {"name_option": "r1"}),
    ("run delete -n r1 -y", {"name_option": "r1", "yes": True}),
    ("connection create --set api_key=k --file c.yaml --name c", {"overrides": ["api_key=k"], "file": "c.yaml"}),
    ("connection create -f .env --name c", {"file": ".env", "name": "c"}),
    ("connection update --set api_key=k --name c", {"name_option": "c"}),
    ("connection show --name c", {"name_option": "c"}),
    ("connection list -r 3 --all-results", {"max_results": 3, "all_results": True}),
    ("connection delete --name c -y", {"name_option": "c", "yes": True}),
    ("run delete -n r1 --assume-yes", {"name_option": "r1", "yes": True}),
    ("connection delete --name c --assume-yes", {"name_option": "c", "yes": True}),
    ("flow init --flow f --type chat --assume-yes", {"flow": "f", "yes": True}),
    ("flow init --flow f --entry e.py --function fn --prompt-template p=p.jinja2 q=q.jinja2",
     {"entry": "e.py", "function": "fn", "prompt_template": ["p=p.jinja2", "q=q.jinja2"]}),
    ("trace delete --run r1 --assume-yes", {"run": "r1", "yes": True}),
    ("trace delete --run r1", {"run": "r1"}),
    ("trace delete --collection c --started-before 2024-03-19T15:17:23.807563 -y",
     {"collection": "c", "older_than": "2024-03-19T15:17:23.807563", "yes": True}),
]


@pytest.mark.parametrize("line, meaning", PF_COMMAND_LINES, ids=[line.split(" -")[0] for line, _ in PF_COMMAND_LINES])
def test_promptflow_command_lines_parse_with_the_same_meaning(line, meaning):
    argv = line.split()
    args = build_parser(argv[0]).parse_args(argv)
    assert callable(args.func)
    for key, value in meaning.items():
        assert getattr(args, key) == value, key


@pytest.fixture
def square_run(make_flow, tmp_path, capsys):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs: {x: {type: int}}
            outputs: {y: {type: int, reference: "${square.output}"}}
            nodes:
            - {name: square, type: python, source: {type: code, path: square.py}, inputs: {x: "${inputs.x}"}}
        """,
        "square.py": "from promptflow import tool\n\n@tool\ndef square(x: int) -> int:\n    return x * x\n",
    })
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"x": i}) + "\n" for i in range(3)))
    assert main(["run", "create", "-n", "sq", "--flow", str(folder), "--data", str(data),
                 "--set", "display_name=squares", "tags.team=ml"]) == 0
    capsys.readouterr()
    return "sq"


def test_show_details_all_results_and_rounded_durations(square_run, capsys):
    assert main(["run", "show-details", "-n", square_run, "--all-results"]) == 0
    table = capsys.readouterr().out
    assert table.count("Completed") == 3
    durations = [line.split()[-1] for line in table.splitlines()[2:]]
    assert all(d.endswith(("ms", " s")) or d[-1] == "s" for d in durations), durations
    assert all(len(d) <= 8 for d in durations), durations  # "7 ms", "1.25 s": no 0.0070452 column


def test_run_update_stream_and_set_fields(square_run, pfl_json, capsys):
    shown = pfl_json("run", "show", square_run)
    assert shown["display_name"] == "squares" and shown["tags"] == {"team": "ml"}
    updated = pfl_json("run", "update", "-n", square_run, "--set", "description=nightly", "tags.env=ci")
    assert updated["description"] == "nightly" and updated["tags"] == {"team": "ml", "env": "ci"}
    assert main(["run", "stream", "-n", square_run]) == 0
    assert "Completed" in capsys.readouterr().err


def test_resume_of_a_completed_run_says_there_is_nothing_to_resume(square_run, capsys):
    assert main(["run", "resume", square_run]) == 0
    assert "nothing to resume" in capsys.readouterr().out


def test_connection_show_takes_the_name_as_scripts_and_pfl_type_it(tmp_path, pfl_json):
    (tmp_path / "c.yaml").write_text("name: my_openai\ntype: open_ai\napi_key: sk-secret\n")
    assert main(["connection", "create", "-f", str(tmp_path / "c.yaml")]) == 0
    assert pfl_json("connection", "show", "my_openai")["api_key"] == "******"
    assert pfl_json("connection", "show", "--name", "my_openai")["name"] == "my_openai"
    assert len(pfl_json("connection", "list", "-r", "1")) == 1


def test_run_create_source_says_what_to_do_instead(capsys, tmp_path):
    assert main(["run", "create", "--source", str(tmp_path)]) == 1
    assert "--source registers a run folder made elsewhere" in capsys.readouterr().err


def test_flow_test_inputs_file_as_promptflow_types_it(make_flow, tmp_path, capsys):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs: {x: {type: int}}
            outputs: {x: {type: int, reference: "${inputs.x}"}}
            nodes: []
        """})
    (tmp_path / "inputs.jsonl").write_text('{"x": 7}\n{"x": 8}\n')
    assert main(["flow", "test", "--flow", str(folder), "--inputs", str(tmp_path / "inputs.jsonl"), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"x": 7}


def test_flow_test_inputs_file_empty_or_one_object_over_many_lines(make_flow, tmp_path, capsys):
    folder = make_flow({"flow.dag.yaml": """
            inputs: {x: {type: int}}
            outputs: {x: {type: int, reference: "${inputs.x}"}}
            nodes: []
        """})
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("\n")
    assert main(["flow", "test", "--flow", str(folder), "--inputs", str(inputs)]) == 1
    assert "inputs.jsonl: The inputs file is empty." in capsys.readouterr().err
    inputs.write_text('{\n  "x": 9\n}\n')  # one object pretty-printed, as some examples ship their data.jsonl
    assert main(["flow", "test", "--flow", str(folder), "--inputs", str(inputs), "-o", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"x": 9}
