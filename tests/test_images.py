"""Images as promptflow handles them: read from inputs (nested too, both message formats), written as
files next to the outputs of `flow test` and batch runs, inline in served answers."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from promptflow_lite.cli.main import main


def _png(color: str) -> bytes:
    from PIL import Image as PILImage  # present after the plain install: image flows use it

    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 3), color).save(buffer, format="PNG")
    return buffer.getvalue()


FLIP = """
    import io
    from PIL import Image as PILImage
    from promptflow.core import tool
    from promptflow.contracts.multimedia import Image

    @tool
    def flip(image: Image) -> Image:
        assert isinstance(image, Image), type(image)
        flipped = PILImage.open(io.BytesIO(image)).transpose(PILImage.FLIP_LEFT_RIGHT)
        out = io.BytesIO()
        flipped.save(out, format="PNG")
        return Image(out.getvalue())
"""


@pytest.fixture
def flip_flow(make_flow):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs:
              picture: {type: image, default: red.png}
            outputs:
              flipped: {type: image, reference: "${flip.output}"}
            nodes:
            - name: flip
              type: python
              source: {type: code, path: flip.py}
              inputs: {image: "${inputs.picture}"}
        """,
        "flip.py": FLIP,
    }, name="flip")
    (folder / "red.png").write_bytes(_png("red"))
    return folder


def test_flow_test_writes_output_images_as_files(flip_flow, capsys):
    assert main(["flow", "test", "--flow", str(flip_flow), "--output", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    (key, path), = printed["flipped"].items()
    assert key == "data:image/png;path"
    assert Path(path).is_absolute() and Path(path).parent == flip_flow / ".promptflow" / "output"
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    saved = json.loads((flip_flow / ".promptflow" / "flow.output.json").read_text())
    (relative,) = saved["flipped"].values()
    assert (flip_flow / relative).read_bytes() == Path(path).read_bytes()


def test_text_output_shows_the_image_reference_not_its_repr(flip_flow, capsys):
    assert main(["flow", "test", "--flow", str(flip_flow)]) == 0
    out = capsys.readouterr().out
    assert "data:image/png;path" in out and "Image(" not in out


def test_image_dicts_nested_in_list_and_object_inputs_are_images(make_flow, capsys):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs:
              album: {type: list}
              captions: {type: object}
            outputs:
              kinds: {type: object, reference: "${inspect.output}"}
            nodes:
            - name: inspect
              type: python
              source: {type: code, path: inspect_images.py}
              inputs: {album: "${inputs.album}", captions: "${inputs.captions}", literal: [{"data:image/png;path": "a.png"}]}
        """,
        "inspect_images.py": """
            from promptflow.core import tool
            from promptflow.contracts.multimedia import Image

            @tool
            def inspect(album: list, captions: dict, literal: list) -> dict:
                return {"album": [type(x).__name__ for x in album],
                        "captions": {k: type(v["image"]).__name__ for k, v in captions.items()},
                        "literal": [isinstance(x, Image) for x in literal],
                        "mime": album[0]._mime_type}
        """,
    })
    (folder / "a.png").write_bytes(_png("blue"))
    inputs = {"album": [{"data:image/png;path": "a.png"}, "plain text"],
              "captions": {"first": {"image": {"data:image/png;path": "a.png"}}}}
    (folder / "inputs.json").write_text(json.dumps(inputs))
    assert main(["flow", "test", "--flow", str(folder), "--inputs-file", str(folder / "inputs.json"),
                 "--output", "json"]) == 0
    kinds = json.loads(capsys.readouterr().out)["kinds"]
    assert kinds == {"album": ["Image", "str"], "captions": {"first": "Image"}, "literal": [True],
                     "mime": "image/png"}


def test_openai_vision_forms_in_and_out(make_flow, capsys):
    folder = make_flow({
        "flow.dag.yaml": """
            message_format: openai-vision
            inputs:
              question:
                type: list
                default:
                - {type: text, text: what is it?}
                - {type: image_file, image_file: {path: a.png}}
              picture: {type: image, default: {type: image_url, image_url: {url: "data:image/png;base64,iVBORw0KGgo="}}}
            outputs:
              answer: {type: list, reference: "${pick.output}"}
            nodes:
            - name: pick
              type: python
              source: {type: code, path: pick.py}
              inputs: {question: "${inputs.question}", picture: "${inputs.picture}"}
        """,
        "pick.py": """
            from promptflow.core import tool
            from promptflow.contracts.multimedia import Image

            @tool
            def pick(question: list, picture: Image) -> list:
                assert isinstance(picture, Image) and bytes(picture) == b"\\x89PNG\\r\\n\\x1a\\n"
                return [item for item in question if isinstance(item, Image)] + [str(question[0])]
        """,
    })
    (folder / "a.png").write_bytes(_png("green"))
    assert main(["flow", "test", "--flow", str(folder), "--output", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)["answer"]
    assert answer[0]["type"] == "image_file" and Path(answer[0]["image_file"]["path"]).read_bytes() == _png("green")
    assert answer[1] == "what is it?"


def test_a_basic_flow_rejects_an_openai_vision_image_with_the_expected_form(make_flow, capsys):
    folder = make_flow({
        "flow.dag.yaml": """
            inputs:
              picture: {type: image}
            outputs:
              out: {type: string, reference: "${inputs.picture}"}
            nodes: []
        """,
    })
    (folder / "in.json").write_text(json.dumps({"picture": {"type": "image_file", "image_file": {"path": "x.png"}}}))
    assert main(["flow", "test", "--flow", str(folder), "--inputs-file", str(folder / "in.json")]) == 1
    err = capsys.readouterr().err
    assert "Failed to load image for input 'picture'" in err and "{data:image/<image_type>" in err


def test_an_unknown_message_format_is_a_load_error(make_flow, capsys):
    folder = make_flow({"flow.dag.yaml": "message_format: vision\ninputs: {}\noutputs: {}\nnodes: []\n"})
    assert main(["flow", "test", "--flow", str(folder)]) == 1
    assert "Invalid message format 'vision'" in capsys.readouterr().err


def test_batch_run_writes_images_next_to_outputs_and_an_evaluation_reads_them(flip_flow, make_flow, tmp_path,
                                                                                 pfl_home, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "blue.png").write_bytes(_png("blue"))
    data_uri = "data:image/png;base64," + __import__("base64").b64encode(_png("blue")).decode()
    (data / "lines.jsonl").write_text(json.dumps({"picture": {"data:image/png;path": "blue.png"}}) + "\n"
                                      + json.dumps({"picture": data_uri}) + "\n")
    assert main(["run", "create", "--flow", str(flip_flow), "--data", str(data / "lines.jsonl"),
                 "--column-mapping", "picture=${data.picture}", "--name", "flips"]) == 0
    run = pfl_home / "runs" / "flips"
    rows = [json.loads(line) for line in (run / "flow_outputs" / "output.jsonl").read_text().splitlines()]
    assert [row["line_number"] for row in rows] == [0, 1]
    for row in rows:
        (key, name), = row["flipped"].items()
        assert key == "data:image/png;path" and "/" not in name  # next to output.jsonl, as promptflow writes it
        assert (run / "flow_outputs" / name).read_bytes()[:4] == b"\x89PNG"

    size = make_flow({
        "flow.dag.yaml": """
            inputs:
              image: {type: image}
            outputs:
              size: {type: string, reference: "${measure.output}"}
            nodes:
            - name: measure
              type: python
              source: {type: code, path: measure.py}
              inputs: {image: "${inputs.image}"}
        """,
        "measure.py": """
            import io
            from PIL import Image as PILImage
            from promptflow.core import tool

            @tool
            def measure(image) -> str:
                return "x".join(map(str, PILImage.open(io.BytesIO(image)).size))
        """,
    }, name="size")
    assert main(["run", "create", "--flow", str(size), "--run", "flips", "--column-mapping",
                 "image=${run.outputs.flipped}", "--name", "sizes"]) == 0
    outputs = (pfl_home / "runs" / "sizes" / "flow_outputs" / "output.jsonl").read_text()
    assert [json.loads(line)["size"] for line in outputs.splitlines()] == ["4x3", "4x3"]


def test_served_images_are_inline_base64(flip_flow):
    from promptflow_lite.serve import ServerThread, create_app
    from promptflow_lite.serve._client import ScoreClient

    with ServerThread(create_app(flip_flow)) as server:
        answer = ScoreClient(server.url).score({"picture": {"data:image/png;base64": __import__("base64").b64encode(
            _png("red")).decode()}})
    (key, value), = answer["flipped"].items()
    assert key == "data:image/png;base64"
    from PIL import Image as PILImage

    assert PILImage.open(io.BytesIO(__import__("base64").b64decode(value))).size == (4, 3)
