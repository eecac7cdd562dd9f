"""Gate verdicts as a JUnit XML file (one testcase per gate), the format CI systems display."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from .gating import GateEvaluation


def junit_tree(evaluation: GateEvaluation | None, suite: str) -> ET.ElementTree:
    results = evaluation.results if evaluation else []
    failures = str(sum(not r.passed for r in results))
    root = ET.Element("testsuites", name=suite, tests=str(len(results)), failures=failures)
    testsuite = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                              failures=failures, errors="0", skipped="0")
    for result in results:
        case = ET.SubElement(testsuite, "testcase", classname=suite, name=result.gate.option)
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=result.line(), type="GateFailed")
            failure.text = result.reason
        ET.SubElement(case, "system-out").text = result.line()
    return ET.ElementTree(root)


def junit_bytes(evaluation: GateEvaluation | None, suite: str) -> bytes:
    """The file's bytes (UTF-8, with the XML declaration); io.output_writer writes them."""
    data = io.BytesIO()
    junit_tree(evaluation, suite).write(data, encoding="utf-8", xml_declaration=True)
    return data.getvalue()
