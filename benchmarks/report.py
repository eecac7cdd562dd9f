"""Numbers for the table: speed against the baseline, label agreement with fp32, macro-F1 on gold."""
from __future__ import annotations

import numpy as np

STRATEGY_TASK = "esconv_strategy"


def _labels_by_key(result: dict, tasks: list[dict]) -> dict[str, dict[tuple, str]]:
    keys = [tuple(k) for k in result["keys"]]
    if "label_names" in result:                       # the CLI's output holds label names
        named = result["label_names"]
    else:                                             # workers hold argmax indices
        names = {t["name"]: t["labels"] for t in tasks}
        named = {task: [names[task][i] for i in idx] for task, idx in result["labels"].items()}
    return {task: dict(zip(keys, labels)) for task, labels in named.items()}


def agreement(reference: dict, candidate: dict) -> dict[str, float]:
    """Per task, the share of utterances whose label equals the reference's (same (dialogue, turn))."""
    out = {}
    for task, ref in reference.items():
        got = candidate.get(task, {})
        if set(got) != set(ref):
            raise ValueError(f"{task}: the variants scored different utterances "
                             f"({len(ref)} vs {len(got)})")
        out[task] = float(np.mean([got[k] == label for k, label in ref.items()])) if ref else 1.0
    return out


def strategy_macro_f1(result: dict, labels: dict, tasks: list[dict]) -> float | None:
    """The paper's ESConv score: mean over the 7 strategies of one-vs-rest macro-F1 (training/metrics.py)."""
    from empathy_metric.schemas import Task
    from empathy_metric.training.metrics import task_report
    spec = next((t for t in tasks if t["name"] == STRATEGY_TASK), None)
    if spec is None or STRATEGY_TASK not in labels:
        return None
    task = Task.from_dict(spec)
    pairs = [(g, labels[STRATEGY_TASK][tuple(k)]) for k, g in zip(result["keys"], result["gold"])
             if g in task.labels]
    if not pairs:
        return None
    gold = np.array([task.labels.index(g) for g, _ in pairs])
    pred = np.array([task.labels.index(p) for _, p in pairs])
    return task_report(task, gold, pred)["mean"]["f1"]


def _fp32_reference(variant, results: dict) -> str:
    """The fp32 PyTorch run of the variant's own checkpoint (the student's for a student)."""
    own = f"{'fast-' if variant.fast else ''}torch-eager"
    return own if own in results else next(iter(results))


def _bundle_r(variant, variants, results: dict) -> float | None:
    """perceived r of the variant, or (a CLI row) of the ORT variant that runs the same bundle."""
    if "perceived_r" in results[variant.name]:
        return results[variant.name]["perceived_r"]
    same = [v for v in variants if v.kind == "ort" and v.export == variant.export
            and v.fast == variant.fast and v.name in results]
    return results[same[0].name].get("perceived_r") if same else None


def summarise(variants, results: dict, tasks: list[dict]) -> list[dict]:
    labels = {name: _labels_by_key(r, tasks) for name, r in results.items()}
    baseline = "torch-eager" if "torch-eager" in results else next(iter(results))
    base_speed = results[baseline]["n_utterances"] / results[baseline]["seconds"]
    rows = []
    for v in variants:
        r = results[v.name]
        speed = r["n_utterances"] / r["seconds"]
        reference = _fp32_reference(v, results)
        agree = agreement(labels[reference], labels[v.name])
        rows.append({"variant": v.name, "what": v.what, "n_utterances": r["n_utterances"],
                     "seconds": r["seconds"], "utterances_per_s": speed, "ratio": speed / base_speed,
                     "reference": reference, "peak_rss_mib": r["peak_rss_mib"], "process_wall_s": r["wall_s"],
                     "cpu_s": r["cpu_s"], "timed_cpu_s": r.get("timed_cpu_s", r["cpu_s"]),
                     "utterances_per_cpu_s": r["n_utterances"] / max(r.get("timed_cpu_s", r["cpu_s"]), 1e-9),
                     "load_s": r.get("load_s"), "inference_s": r.get("inference_s"),
                     "providers": r.get("providers"),
                     "agreement": agree, "agreement_min": min(agree.values()) if agree else None,
                     "strategy_macro_f1": strategy_macro_f1(r, labels[v.name], tasks),
                     "perceived_r": _bundle_r(v, variants, results),
                     "seconds_runs": r.get("seconds_runs", [r["seconds"]]),
                     "ratio_runs": [b / t for b, t in zip(results[baseline].get("seconds_runs", [results[baseline]["seconds"]]),
                                                          r.get("seconds_runs", [r["seconds"]]))]})
    return rows


def _fmt(value, spec: str, missing: str = "n/a") -> str:
    return missing if value is None else format(value, spec)


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = []
    if report.get("note"):
        lines += [f"**{report['note']}**", ""]
    gpu = f", GPU: {m['gpu']}" if m.get("gpu") else ""
    lines += [f"Machine: {m['cpu']}, {m['usable_cpus']} usable CPUs, {m['memory_gib']} GiB{gpu}; "
              f"load average before {m['load_average'][0]:.2f}, after {report['machine_load_after'][0]:.2f}",
              f"Command: `{report['command']}` ({report['date']}), threads {report['threads']}, "
              f"device {report['device']}",
              f"Input: {report['input']}" + (f" (first {report['limit']} dialogues)" if report["limit"] else ""),
              "",
              "| variant | what | utterances | time (s) | utterances/s | x baseline | utterances per CPU-s "
              "| peak RSS (MiB) | label agreement with fp32 (lowest task) | ESConv strategy macro-F1 "
              "| perceived r, WASSA dev |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["rows"]:
        agree = r["agreement_min"]
        lines.append(f"| {r['variant']} | {r['what']} | {r['n_utterances']} | {r['seconds']:.1f} "
                     f"| {r['utterances_per_s']:.1f} | {r['ratio']:.2f} | {r['utterances_per_cpu_s']:.1f} "
                     f"| {r['peak_rss_mib']:.0f} "
                     f"| {_fmt(None if agree is None else 100 * agree, '.2f')}% "
                     f"| {_fmt(None if r['strategy_macro_f1'] is None else 100 * r['strategy_macro_f1'], '.1f')} "
                     f"| {_fmt(r.get('perceived_r'), '.3f')} |")
    if any(len(r.get("seconds_runs", [])) > 1 for r in report["rows"]):
        lines += ["", "Rounds (interleaved; the table shows medians): seconds, and x baseline within each round:", ""]
        lines += [f"- {r['variant']}: " + " / ".join(f"{t:.1f}" for t in r["seconds_runs"]) + " s; "
                  + " / ".join(f"{x:.2f}" for x in r["ratio_runs"]) + "x" for r in report["rows"]]
    return "\n".join(lines)
