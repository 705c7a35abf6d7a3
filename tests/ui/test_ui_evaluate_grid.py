"""The New evaluation page starts a grid with halving, slices and a price table, as ``pfl eval`` would, and
shows its sections and charts when it has finished (Streamlit AppTest on the example flow, offline)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP, FLOW = ROOT / "ui" / "app.py", ROOT / "flows" / "support_grid"


def _texts(app: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("title", "markdown", "caption", "subheader", "error", "code")
                     for e in getattr(app, kind))


def test_a_grid_started_from_the_page_races_slices_costs_and_draws_its_charts(pfl_home, monkeypatch):
    monkeypatch.chdir(ROOT)
    app = AppTest.from_file(str(APP), default_timeout=120)
    app.run()
    app.switch_page("views/evaluate.py").run()
    app.text_input(key="evaluate_flow").input(str(FLOW)).run()
    assert not app.exception, app.exception
    app.toggle(key="evaluate_grid").set_value(True).run()
    assert "6 combinations: `condense=keep,route=zero_shot`" in _texts(app)
    assert app.selectbox(key="evaluate_grid_baseline").value == "condense=keep,route=zero_shot"
    app.selectbox(key="evaluate_mapping_exact_match_answer").select("${run.outputs.team}").run()
    app.toggle(key="evaluate_halving").set_value(True).run()
    app.multiselect(key="evaluate_slice_by").select("topic").run()
    app.text_input(key="evaluate_prices").input(str(FLOW / "prices.yaml")).run()
    assert app.toggle(key="evaluate_offline").value  # the flow has scripted answers: no key, no network
    app.button(key="evaluate_start").click().run()
    assert not app.exception, app.exception
    name = app.query_params["evaluation"]
    name = name[0] if isinstance(name, list) else name
    command = json.loads((pfl_home / "evaluations" / name / "job.json").read_text())["command"]
    assert {"--grid", "--halving", "--slice-by", "--prices"} <= set(command)

    deadline = time.monotonic() + 300
    while "Comparison" not in _texts(app):
        assert time.monotonic() < deadline, _texts(app)
        time.sleep(1)
        app.run()
    text = _texts(app)
    assert "6 variants on 160 lines; baseline: condense=keep,route=zero_shot" in text
    for section in ("Successive halving on exact_match.passed", "Cost and latency per variant", "By topic:",
                    "where topic = account"):
        assert section in text
    charts = [base64.b64decode(image.proto.imgs[0].url.split(",", 1)[1]).decode()  # data:image/svg+xml;base64,…
              for image in app.get("image")]
    titles = ("mean per variant", "difference against condense=keep,route=zero_shot", "Quality against cost per line",
              "exact_match.passed by topic")
    assert len(charts) == 4 and all(chart.startswith("<svg") for chart in charts)
    assert all(any(title in c for c in charts) for title in titles)
    assert "**1** condense=keep,route=zero_shot" in text  # the Pareto points' numbers
