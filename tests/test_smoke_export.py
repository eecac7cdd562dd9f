"""Export: the committed tiny bundles are what the export code makes today, and an export whose graph
strays from torch beyond tolerance fails without leaving a bundle behind."""
import json

import numpy as np
import pytest

from conftest import FIXTURES


def _export(checkpoint, out, precision):
    import sys
    sys.path.insert(0, str(FIXTURES))
    from build_tiny_bundle import export
    return export(checkpoint, out, precision)


def test_committed_bundle_is_what_the_export_makes(tiny_checkpoint, tmp_path):
    """tests/fixtures/tiny-bundle is rebuilt by build_tiny_bundle.py; when this fails, run it again."""
    out = _export(tiny_checkpoint, tmp_path / "tiny-bundle", "fp32")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"] == "onnx-encoder"
    fp32 = manifest["export_validation"]["fp32"]
    assert fp32["min_argmax_agreement"] == 1.0
    assert all(v["max_abs_diff"] < 1e-4 for k, v in fp32.items() if isinstance(v, dict))
    committed = FIXTURES / "tiny-bundle"
    assert (out / "model.onnx").read_bytes() == (committed / "model.onnx").read_bytes()
    expected = json.loads((committed / "manifest.json").read_text())
    # The parity figures (|torch - ORT| differences of ~1e-7) vary with torch's CPU threading, so they
    # are held to a tolerance; everything else in the manifest must be identical.
    unstable = ("sha256", "files", "export_validation")
    assert {k: v for k, v in manifest.items() if k not in unstable} == \
        {k: v for k, v in expected.items() if k not in unstable}
    assert _parity_figures(manifest["export_validation"]) == pytest.approx(
        _parity_figures(expected["export_validation"]), abs=1e-6)


def _parity_figures(validation, prefix: str = "") -> dict:
    """The export validation's numbers, flattened (`fp32.perceived.max_abs_diff` -> value)."""
    flat = {}
    for key, value in validation.items():
        if isinstance(value, dict):
            flat.update(_parity_figures(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_a_graph_beyond_tolerance_fails_the_export_and_writes_no_manifest(tiny_checkpoint, tmp_path, monkeypatch):
    from empathy_metric.export import encoder_graph
    from empathy_metric.export.validation import ExportValidationError
    run_graph = encoder_graph.run_graph

    def drifting(path, batches, threads=None):
        outputs = run_graph(path, batches, threads)
        return {name: value + (0.01 if name.startswith("logits.") else 0.0) for name, value in outputs.items()}
    monkeypatch.setattr(encoder_graph, "run_graph", drifting)
    with pytest.raises(ExportValidationError, match=r"fp32 graph disagrees .* max \|diff\| 0.01 > 0.001"):
        _export(tiny_checkpoint, tmp_path / "drifted", "fp32")
    assert not (tmp_path / "drifted" / "manifest.json").exists()


def test_tolerances_per_precision():
    from empathy_metric.export.validation import ExportValidationError, check_parity, parity
    reference = {"logits.a": np.array([[1.0, 0.0], [0.0, 1.0]]), "perceived": np.array([[0.5], [0.5]])}
    flipped = {"logits.a": np.array([[0.0, 1.0], [0.0, 1.0]]), "perceived": np.array([[0.5], [0.55]])}
    check_parity("int8", parity(reference, {k: v + 0.3 for k, v in reference.items() if k != "perceived"}
                               | {"perceived": reference["perceived"] + 0.05}), "g")   # int8: labels and perceived
    with pytest.raises(ExportValidationError, match="argmax agreement 0.500 < 0.9"):
        check_parity("int8", parity(reference, flipped), "g")
    with pytest.raises(ExportValidationError, match="perceived max"):
        check_parity("fp32", parity(reference, {**reference, "perceived": reference["perceived"] + 0.01}), "g")
