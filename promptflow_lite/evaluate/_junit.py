"""JUnit XML for CI: one testcase per variant and metric, failing exactly when a gate (or --fail-if-worse) fails."""

from __future__ import annotations

import math
from typing import Sequence
from xml.etree import ElementTree as ET

from promptflow_lite.evaluate._comparison import ComparisonReport
from promptflow_lite.evaluate._gates import Check
from promptflow_lite.evaluate._text_table import format_interval, format_number, format_p


def junit_xml(report: ComparisonReport, checks: Sequence[Check], suite: str = "pfl eval") -> str:
    """The XML text; each testcase carries the mean, CI and comparison in ``system-out`` and properties."""
    failed = sum(not c.passed for c in checks)
    root = ET.Element("testsuites", name=suite, tests=str(len(checks)), failures=str(failed))
    suites: dict[str, ET.Element] = {}
    for item in checks:
        if item.variant not in suites:
            suites[item.variant] = ET.SubElement(root, "testsuite", name=f"{suite}: {item.variant}")
        case = ET.SubElement(suites[item.variant], "testcase", name=item.metric, classname=f"pfl.eval.{item.variant}")
        properties = ET.SubElement(case, "properties")
        for key, value in _properties(report, item).items():
            ET.SubElement(properties, "property", name=key, value=value)
        if item.failures:
            ET.SubElement(case, "failure", message=item.failures[0], type="QualityGate").text = "\n".join(item.failures)
        ET.SubElement(case, "system-out").text = _describe(report, item)
    for element in suites.values():
        cases = element.findall("testcase")
        element.set("tests", str(len(cases)))
        element.set("failures", str(sum(case.find("failure") is not None for case in cases)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _properties(report: ComparisonReport, item: Check) -> dict[str, str]:
    estimate = report.summaries[(item.variant, item.metric)].estimate
    values = {"mean": estimate.mean, "ci_low": estimate.low, "ci_high": estimate.high, "n": estimate.n}
    pair = report.pair(item.variant, item.metric)
    if pair is not None:
        c = pair.comparison
        values.update(diff=c.diff_mean, diff_low=c.low, diff_high=c.high, p_value=c.p_value, verdict=c.verdict)
    return {key: "" if isinstance(v, float) and math.isnan(v) else str(v) for key, v in values.items()}


def _describe(report: ComparisonReport, item: Check) -> str:
    e = report.summaries[(item.variant, item.metric)].estimate
    text = f"{item.metric} = {format_number(e.mean)} {format_interval(e.low, e.high)} (n={e.n})"
    pair = report.pair(item.variant, item.metric)
    if pair is not None:
        c = pair.comparison
        text += (f"; vs {pair.baseline}: {format_number(c.diff_mean, True)} "
                 f"{format_interval(c.low, c.high, True)}, p={format_p(c.p_value)}, {c.verdict}")
    return text
