"""The torch-encoder backend: a checkpoint scored with torch gives the ONNX bundle's labels, and
`--device cuda` without ONNX Runtime's CUDA provider falls back to a bundle's torch weights."""
import json
import shutil

import pytest

from conftest import SAMPLE


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def torch_bundle(tiny_checkpoint, tmp_path_factory):
    from empathy_metric.training.torch_encoder import write_checkpoint_manifest
    folder = tmp_path_factory.mktemp("torchbundle") / "ckpt"
    shutil.copytree(tiny_checkpoint, folder)
    write_checkpoint_manifest(folder, "tiny-torch")
    return folder


def test_torch_backend_matches_the_onnx_bundle(score_cli, tmp_path, tiny_bundle, torch_bundle):
    onnx_out, torch_out = tmp_path / "onnx.jsonl", tmp_path / "torch.jsonl"
    assert score_cli(SAMPLE, "-o", onnx_out, "--bootstrap", "0", model=tiny_bundle).exit_code == 0
    result = score_cli(SAMPLE, "-o", torch_out, "--bootstrap", "0", model=torch_bundle)
    assert result.exit_code == 0, result.output
    onnx, torch = _records(onnx_out), _records(torch_out)
    assert len(onnx) == len(torch) > 10
    for a, b in zip(onnx, torch):
        assert (a["dialogue_id"], a["turn_index"], a["labels"]) == (b["dialogue_id"], b["turn_index"], b["labels"])
        assert all(abs(a["probs"][t][k] - b["probs"][t][k]) <= 2e-6 for t in a["probs"] for k in a["probs"][t])


def _no_cuda_anywhere():
    import onnxruntime
    import torch
    return "CUDAExecutionProvider" not in onnxruntime.get_available_providers() and not torch.cuda.is_available()


@pytest.mark.skipif(not _no_cuda_anywhere(), reason="this machine has CUDA")
def test_cuda_without_provider_or_torch_weights_is_a_clear_model_error(score_cli, tmp_path, tiny_bundle):
    result = score_cli(SAMPLE, "-o", tmp_path / "out.jsonl", "--device", "cuda", model=tiny_bundle)
    assert result.exit_code == 4
    assert "onnxruntime-gpu" in result.output and "torch weights" in result.output


@pytest.mark.skipif(not _no_cuda_anywhere(), reason="this machine has CUDA")
def test_cuda_falls_back_to_the_bundles_torch_weights(score_cli, tmp_path, tiny_bundle, tiny_checkpoint):
    from empathy_metric.bundle import checkpoint_files, write_manifest
    bundle = tmp_path / "with-torch"
    shutil.copytree(tiny_bundle, bundle)
    shutil.copytree(tiny_checkpoint, bundle / "checkpoint")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"].update(checkpoint_files("checkpoint/"))
    write_manifest(bundle, manifest)
    with pytest.warns(RuntimeWarning, match="torch weights on CUDA instead"):
        result = score_cli(SAMPLE, "-o", tmp_path / "out.jsonl", "--device", "cuda", model=bundle)
    # The fallback was taken; on this machine torch has no CUDA either, which it says.
    assert result.exit_code == 4 and "torch sees no CUDA device" in result.output
