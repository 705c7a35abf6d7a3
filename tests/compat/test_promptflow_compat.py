"""pytest form of the compatibility check: one test per recorded corpus case.

Not part of the default test run (``tests/compat/conftest.py`` ignores this folder); run it
explicitly::

    .venv/bin/pytest tests/compat/test_promptflow_compat.py            # every case
    .venv/bin/pytest tests/compat/test_promptflow_compat.py -k llm_    # a subset

Each test runs ``pfl flow test`` on a copy of the flow against the scripted OpenAI server and
asserts the outcome matches promptflow 1.18.5's recording (``expected.json``): equal outputs, or
both failing. Mismatches listed in ``deviations.json`` are expected to differ (xfail, strict).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402
import compare  # noqa: E402

PFL = str(Path(sys.executable).with_name("pfl"))


def _all_cases():
    deviations = compare.accepted_deviations()
    params = []
    for flow in h.flow_dirs([h.DEFAULT_CORPUS]):
        for index, (case, expected) in enumerate(compare._cases_with_expected(flow)):
            label = f"{flow.name}[{index}]"
            marks = [pytest.mark.xfail(reason=deviations[label], strict=True)] if label in deviations else []
            params.append(pytest.param(flow, index, case, expected, id=label, marks=marks))
    return params


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    from promptflow_lite.testing import ScriptedServer

    scratch = tmp_path_factory.mktemp("compat")
    with ScriptedServer() as server:
        connections_file = scratch / "connections.json"
        h.write_json(connections_file, h.connections(server.base_url, server.url))
        yield compare._Runner(PFL, scratch, connections_file, timeout=300)


@pytest.mark.parametrize(("flow", "index", "case", "expected"), _all_cases())
def test_case_matches_promptflow(runner, flow, index, case, expected):
    result = runner.compare(flow, index, case, expected)
    assert result.outcome in compare.MATCHING, (
        f"{result.label}: {result.outcome}\n"
        f"  promptflow:      {compare._brief(result.expected)}\n"
        f"  promptflow_lite: {compare._brief(result.actual)}"
    )
