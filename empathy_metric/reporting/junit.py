"""Gate verdicts as a JUnit XML file (one testcase per gate), the format CI systems display.

Like every output it leads with the decision: the suite's properties give the verdict and the headline
metrics with their CIs and reference points (reporting/headline.py), and gates on headline metrics come
first."""
from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from .gating import GateEvaluation
from .headline import headline_metrics, ordered_metrics, scale_line, verdict_line


def _headline_properties(testsuite: ET.Element, summary: dict | None, gates: list[dict]) -> None:
    if not summary and not gates:
        return
    properties = ET.SubElement(testsuite, "properties")
    if gates:
        ET.SubElement(properties, "property", name="verdict", value=verdict_line(gates))
    corpus, references = (summary or {}).get("corpus", {}), (summary or {}).get("references", {})
    for name in headline_metrics(corpus):
        entry = corpus[name]
        value = f"{entry['mean']:.3f}" + (f" [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]" if "ci_low" in entry else "")
        if scale := scale_line(entry["mean"], references.get(name, [])):
            value += f"; {scale}"
        ET.SubElement(properties, "property", name=name, value=value)


def junit_tree(evaluation: GateEvaluation | None, suite: str, summary: dict | None = None) -> ET.ElementTree:
    """`summary` (a score run's): its headline goes into the suite's properties."""
    results = evaluation.results if evaluation else []
    order = ordered_metrics(list(dict.fromkeys(r.gate.metric for r in results)), {})
    results = sorted(results, key=lambda r: order.index(r.gate.metric))
    failures = str(sum(not r.passed for r in results))
    root = ET.Element("testsuites", name=suite, tests=str(len(results)), failures=failures)
    testsuite = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                              failures=failures, errors="0", skipped="0")
    _headline_properties(testsuite, summary, evaluation.to_list() if evaluation else [])
    for result in results:
        case = ET.SubElement(testsuite, "testcase", classname=suite, name=result.gate.option)
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=result.line(), type="GateFailed")
            failure.text = result.reason
        ET.SubElement(case, "system-out").text = result.line()
    return ET.ElementTree(root)


def junit_bytes(evaluation: GateEvaluation | None, suite: str, summary: dict | None = None) -> bytes:
    """The file's bytes (UTF-8, with the XML declaration); io.output_writer writes them."""
    data = io.BytesIO()
    junit_tree(evaluation, suite, summary).write(data, encoding="utf-8", xml_declaration=True)
    return data.getvalue()
