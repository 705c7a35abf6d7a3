"""Reading --data: every supported format keeps values as loaded; bad files get errors naming file and line."""

from __future__ import annotations

import json

import pytest

from promptflow_lite.cli.main import main as pfl
from promptflow_lite.runs._data import columns, load_data
from promptflow_lite.runs._errors import DataError, EmptyInputsData

ROWS = [{"q": "a", "n": 1, "date": "2024-01-02", "tags": ["x"]}, {"q": "b", "n": 2.5, "date": "2024-02-03", "tags": []}]


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_values_keep_their_json_types(tmp_path):
    file = write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    rows = load_data(file)
    assert rows == ROWS  # no date parsing, no int→float, lists stay lists
    assert type(rows[0]["n"]) is int and rows[0]["date"] == "2024-01-02"


def test_jsonl_files_joined_end_to_end_keep_each_file_s_byte_order_mark_out_of_the_data(tmp_path):
    parts = ["\ufeff" + json.dumps(row) + "\r\n" for row in ROWS]  # two files saved by Windows tools, concatenated
    file = tmp_path / "d.jsonl"
    file.write_bytes("".join(parts).encode("utf-8"))
    assert load_data(file) == ROWS


def test_jsonl_text_may_hold_the_separators_json_allows_unescaped(tmp_path):
    rows = [{"q": "line\u2028separator"}, {"q": "paragraph\u2029separator, next line\x85"}, {"q": "c"}]
    file = write(tmp_path / "d.jsonl", "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    assert load_data(file) == rows


def test_absent_keys_stay_absent_instead_of_nan(tmp_path):
    file = write(tmp_path / "d.jsonl", '{"q": "a", "extra": 1}\n{"q": "b"}\n')
    assert load_data(file) == [{"q": "a", "extra": 1}, {"q": "b"}]
    assert columns(load_data(file)) == ["q", "extra"]


def test_json_list_of_records_and_columns_orientation(tmp_path):
    records = write(tmp_path / "r.json", json.dumps(ROWS))
    by_column = write(tmp_path / "c.json", json.dumps({"q": ["a", "b"], "n": [1, 2]}))
    assert load_data(records) == ROWS
    assert load_data(by_column) == [{"q": "a", "n": 1}, {"q": "b", "n": 2}]


def test_csv_and_tsv_cells_are_strings_and_empty_cells_stay_empty(tmp_path):
    csv = write(tmp_path / "d.csv", "q,n,missing\nhello,1,\n\"a, b\",2.50,NA\n")
    tsv = write(tmp_path / "d.tsv", "q\tn\nhello\t007\n")
    assert load_data(csv) == [{"q": "hello", "n": "1", "missing": ""}, {"q": "a, b", "n": "2.50", "missing": "NA"}]
    assert load_data(tsv) == [{"q": "hello", "n": "007"}]


def test_parquet_values_are_plain_python(tmp_path):
    import pandas as pd

    file = tmp_path / "d.parquet"
    pd.DataFrame({"q": ["a", "b"], "n": [1, 2], "x": [0.5, 1.5]}).to_parquet(file)
    rows = load_data(file)
    assert rows == [{"q": "a", "n": 1, "x": 0.5}, {"q": "b", "n": 2, "x": 1.5}]
    assert type(rows[0]["n"]) is int
    json.dumps(rows)  # plain values: serialisable


def test_folder_is_read_recursively_in_path_order(tmp_path):
    (tmp_path / "data" / "sub").mkdir(parents=True)
    write(tmp_path / "data" / "b.jsonl", '{"q": "b"}\n')
    write(tmp_path / "data" / "a.csv", "q\na\n")
    write(tmp_path / "data" / "sub" / "c.json", '[{"q": "c"}]')
    write(tmp_path / "data" / ".hidden.jsonl", '{"q": "hidden"}\n')
    notes = []
    write(tmp_path / "data" / "README.txt", "not data at all")
    write(tmp_path / "data" / "notes.md", 'An example line:\n{"q": "example"}\n')
    assert [r["q"] for r in load_data(tmp_path / "data", warn=notes.append)] == ["a", "b", "c"]
    assert any("README.txt" in n for n in notes) and any("notes.md" in n for n in notes)


def test_image_paths_resolve_next_to_the_data_file(tmp_path):
    write(tmp_path / "d.jsonl", '{"img": {"data:image/png;path": "pics/cat.png"}}\n')
    row = load_data(tmp_path / "d.jsonl")[0]
    assert row["img"] == {"data:image/png;path": str((tmp_path / "pics" / "cat.png").resolve())}


def test_a_jsonl_file_where_no_line_is_json_names_file_and_line(tmp_path):
    file = write(tmp_path / "d.jsonl", 'q,n\na,1\n')  # a CSV file saved as .jsonl
    with pytest.raises(DataError) as info:
        load_data(file)
    assert info.value.line == 1 and str(file) in str(info.value)
    assert "Invalid JSON" in str(info.value)


def test_pretty_printed_json_in_a_jsonl_file_gets_a_specific_hint(tmp_path):
    file = write(tmp_path / "d.jsonl", json.dumps(ROWS, indent=2))
    with pytest.raises(DataError) as info:
        load_data(file)
    assert info.value.line == 1 and "rename it to .json" in str(info.value)




def test_empty_file_and_missing_path(tmp_path):
    with pytest.raises(EmptyInputsData, match="no rows"):
        load_data(write(tmp_path / "empty.jsonl", ""))
    with pytest.raises(EmptyInputsData):
        load_data(write(tmp_path / "blank.csv", ""))
    with pytest.raises(DataError, match="does not exist"):
        load_data(tmp_path / "nope.jsonl")


def test_an_item_of_a_json_list_that_is_not_an_object_fails_alone(make_flow, tmp_path, pfl_json):
    flow = make_flow(FLOW)
    data = write(tmp_path / "d.json", '[{"q": "a"}, ["q", "b"], "c", {"q": "d"}]')
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "items"]) == 1
    rows = pfl_json("run", "show-details", "items", "-o", "json")
    assert [row["outputs.out"] for row in rows if row["status"] == "Completed"] == ["a", "d"]
    failed = {row["line_number"]: row["error"] for row in rows if row["status"] == "Failed"}
    assert "line 1 cannot be read: " in failed[1] and "Item 1 of the list is a list, not an object" in failed[1]
    assert "Item 2 of the list is a str" in failed[2]
    with pytest.raises(DataError, match="Item 0 of the list is a int"):
        load_data(write(tmp_path / "numbers.json", "[1, 2, 3]"))


def test_a_csv_row_with_too_many_fields_fails_alone(make_flow, tmp_path, pfl_json):
    flow = make_flow(FLOW)
    data = write(tmp_path / "d.csv", 'q,n\nz,0,extra\na,1\nb,2,3\n"c,d",4\ne,5,6,7\nf\n' + "g," + "x" * 200_000 +
                 "\nh,8,\n")  # (a trailing separator is no extra field)
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "rows"]) == 1
    rows = pfl_json("run", "show-details", "rows", "-o", "json")
    assert [(row["line_number"], row["outputs.out"]) for row in rows if row["status"] == "Completed"] == \
        [(1, "a"), (3, "c,d"), (5, "f"), (6, "g"), (7, "h")]
    failed = {row["line_number"]: row["error"] for row in rows if row["status"] == "Failed"}
    assert failed.keys() == {0, 2, 4}
    assert f"line 2 cannot be read: {data}: The row has 3 fields, the header 2." in failed[2]
    assert "The row has 3 fields" in failed[0] and "The row has 4 fields" in failed[4]


def test_extra_fields_in_the_first_csv_row_are_an_error_not_a_shifted_column(tmp_path):
    file = write(tmp_path / "d.csv", "q,n\na,b,c,d\ne,f\n")  # pandas would make `a, b` the row index: q=c, n=d
    with pytest.raises(DataError) as info:
        load_data(file)
    assert "more than the header" in str(info.value) and str(file) in str(info.value)


FLOW = {
    "echo.py": "from promptflow.core import tool\n@tool\ndef echo(q: str) -> str:\n    return q\n",
    "flow.dag.yaml": """
        inputs:
          q:
            type: string
        outputs:
          out:
            type: string
            reference: ${echo.output}
        nodes:
        - name: echo
          type: python
          source: {type: code, path: echo.py}
          inputs: {q: "${inputs.q}"}
        """,
}


def test_cli_reports_a_data_file_with_no_readable_line_and_records_a_failed_run(make_flow, tmp_path, capsys):
    flow = make_flow(FLOW)
    data = write(tmp_path / "d.jsonl", '{"q": \n{"q": "b"\n')
    code = pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "broken"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{data}, line 1: Invalid JSON" in err
    pfl(["run", "show", "broken"])
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "Failed" and shown["total_lines"] == 0
    assert "line 1" in shown["error"]["message"]


def test_a_jsonl_line_that_cannot_be_read_fails_alone_naming_file_and_line(make_flow, tmp_path, pfl_json):
    flow = make_flow(FLOW)
    data = write(tmp_path / "d.jsonl", '{"q": "a"}\n{"q": "b",}\n["q", "c"]\n{"q": "d"} {"q": "e"}\n'
                                       + "[" * 100_000 + "\n" + '{"q": "f"}\n')
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data), "--name", "partly"]) == 1
    run = pfl_json("run", "show", "partly")
    assert (run["status"], run["completed_lines"], run["failed_lines"]) == ("CompletedWithErrors", 2, 4)
    rows = pfl_json("run", "show-details", "partly", "-o", "json")
    assert [(row["line_number"], row["status"], row["outputs.out"]) for row in rows if row["status"] == "Completed"] \
        == [(0, "Completed", "a"), (5, "Completed", "f")]
    failed = {row["line_number"]: row["error"] for row in rows if row["status"] == "Failed"}
    assert failed.keys() == {1, 2, 3, 4}
    for number, says in [(1, "Invalid JSON"), (2, "Expected a JSON object, got list"), (3, "Extra data"),
                         (4, "nests arrays/objects too deeply")]:
        assert f"line {number} cannot be read: {data}, line {number + 1}: " in failed[number] and says in failed[number]

    assert pfl(["run", "resume", "partly"]) == 1  # the same lines fail again, for the same reasons
    again = pfl_json("run", "show-details", "partly", "--failed-only", "-o", "json")
    assert {row["line_number"]: row["error"] for row in again} == failed


def test_cli_reports_an_empty_data_file(make_flow, tmp_path, capsys):
    flow = make_flow(FLOW)
    data = write(tmp_path / "empty.jsonl", "")
    assert pfl(["run", "create", "--flow", str(flow), "--data", str(data)]) == 1
    err = capsys.readouterr().err
    assert "The data has no rows" in err and str(data) in err
