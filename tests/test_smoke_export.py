import json


def test_bundle_is_exported_and_validated(tiny_bundle):
    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    assert manifest["backend"] == "onnx-encoder"
    fp32 = manifest["export_validation"]["fp32"]
    assert fp32["min_argmax_agreement"] == 1.0
    assert all(v["max_abs_diff"] < 1e-4 for k, v in fp32.items() if isinstance(v, dict))
