"""Loading a bundle never leaves its folder, never runs code, and names the file that is wrong:
paths stay inside, links are refused, every file's sha256 is checked, only ONNX/JSON/tokenizer/
text files are read (never pickle); the CLI exits 4."""
import json
import pickle
import shutil

import pytest

from empathy_metric.bundle import MANIFEST, load_bundle, write_manifest
from empathy_metric.errors import ModelError

pytestmark = pytest.mark.scoring

GOOD = '{"id": "a", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}\n'


@pytest.fixture
def bundle(tiny_bundle, tmp_path):
    """A private copy of the tiny bundle to damage."""
    return shutil.copytree(tiny_bundle, tmp_path / "bundle")


def manifest_of(folder):
    return json.loads((folder / MANIFEST).read_text())


def save_manifest(folder, manifest):
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_the_copy_loads(bundle):
    assert load_bundle(bundle).name == "tiny-test"


@pytest.mark.parametrize("name, reason", [
    ("/etc/passwd.json", "must be a plain relative path inside the bundle"),
    ("../outside.onnx", "must be a plain relative path inside the bundle"),
    ("sub/../../outside.onnx", "must be a plain relative path inside the bundle"),
    ("..\\outside.onnx", "must be a plain relative path inside the bundle"),
    ("C:/model.onnx", "must be a plain relative path inside the bundle"),
    ("model\0.onnx", "must be a plain relative path inside the bundle"),
    ("", "must be a plain relative path inside the bundle"),
])
def test_file_names_must_stay_inside(bundle, name, reason):
    manifest = manifest_of(bundle)
    manifest["files"]["model"] = name
    manifest["sha256"][name] = "0" * 64
    save_manifest(bundle, manifest)
    with pytest.raises(ModelError) as error:
        load_bundle(bundle)
    assert str(error.value) == f"{bundle / MANIFEST}: file name '{name}' {reason}"


def test_a_linked_file_is_refused(bundle, tmp_path):
    outside = tmp_path / "outside.onnx"
    shutil.move(bundle / "model.onnx", outside)
    (bundle / "model.onnx").symlink_to(outside)            # same bytes, same sha256: still refused
    with pytest.raises(ModelError) as error:
        load_bundle(bundle)
    assert str(error.value) == f"{bundle / 'model.onnx'}: a link; links are refused in a bundle"


def test_a_linked_folder_out_of_the_bundle_is_refused(bundle, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    shutil.move(bundle / "model.onnx", tmp_path / "elsewhere" / "model.onnx")
    (bundle / "graphs").symlink_to(tmp_path / "elsewhere")
    manifest = manifest_of(bundle)
    manifest["files"]["model"] = "graphs/model.onnx"
    manifest["sha256"]["graphs/model.onnx"] = manifest["sha256"].pop("model.onnx")
    save_manifest(bundle, manifest)
    with pytest.raises(ModelError) as error:
        load_bundle(bundle)
    assert str(error.value) == f"{bundle / 'graphs/model.onnx'}: resolves outside the bundle folder (through a linked folder)"


def test_a_linked_manifest_is_refused(bundle, tmp_path):
    shutil.move(bundle / MANIFEST, tmp_path / "m.json")
    (bundle / MANIFEST).symlink_to(tmp_path / "m.json")
    with pytest.raises(ModelError, match="manifest.json: a link; links are refused in a bundle"):
        load_bundle(bundle)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
@pytest.mark.parametrize("role", ["model", "tokenizer", "card"])
def test_altered_or_truncated_files_are_named(bundle, role, damage):
    path = bundle / manifest_of(bundle)["files"][role]
    data = path.read_bytes()
    k = len(data) // 2
    path.write_bytes({"flip": data[:k] + bytes([data[k] ^ 1]) + data[k + 1:], "truncate": data[:k],
                      "empty": b""}[damage])
    with pytest.raises(ModelError) as error:
        load_bundle(bundle)
    assert str(error.value) == f"{path}: sha256 does not match the manifest: the file is altered or truncated"


def test_missing_file_is_named(bundle):
    (bundle / "tokenizer.json").unlink()
    with pytest.raises(ModelError) as error:
        load_bundle(bundle)
    assert str(error.value) == f"{bundle / 'tokenizer.json'}: missing (tokenizer file listed in the manifest)"


def test_a_file_without_a_recorded_sha256_is_refused(bundle):
    manifest = manifest_of(bundle)
    del manifest["sha256"]["tokenizer.json"]
    save_manifest(bundle, manifest)
    with pytest.raises(ModelError, match="no sha256 recorded for 'tokenizer.json'"):
        load_bundle(bundle)


def test_pickle_is_never_read(bundle, tmp_path):
    """A pickle that would leave a mark if it were ever unpickled: refused by its name, before any read."""
    mark = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(mark), "w"))
    for name in ("model.pkl", "model.bin", "model.pt", "model.pickle"):
        (bundle / name).write_bytes(pickle.dumps(Payload()))
        manifest = manifest_of(bundle)
        manifest["files"]["model"] = name
        save_manifest(bundle, manifest)
        manifest["sha256"][name] = "0" * 64
        save_manifest(bundle, manifest)
        with pytest.raises(ModelError) as error:
            load_bundle(bundle)
        assert str(error.value).startswith(f"{bundle / name}: only .onnx, .json, .md, .txt, .data, "
                                           ".safetensors files may be in a bundle")
    assert not mark.exists()


@pytest.mark.parametrize("change, message", [
    (lambda m: m.update(files=["model.onnx"]), "'files' must map roles to file names (text)"),
    (lambda m: m["files"].update(model=3), "'files' must map roles to file names (text)"),
    (lambda m: m.update(sha256="abc"), "'sha256' must map file names to hex digests (text)"),
    (lambda m: m.update(tasks={}), "'tasks' must be a non-empty list"),
    (lambda m: m["tasks"].append({"name": "x"}), "task 4 needs a 'name' and a non-empty list of 'labels' (text)"),
    (lambda m: m.update(window=[]), "'window' must be an object"),
    (lambda m: m["window"].update(max_tokens="many"), "'window' settings are not usable (invalid literal for int() with base 10: 'many')"),
    (lambda m: m.pop("tasks"), "missing key(s) tasks"),
    (lambda m: m.update(schema_version=99), "schema_version 99 is not supported (this version reads 1)"),
    (lambda m: m.update(backend="pickle"), "unknown backend 'pickle' (known: onnx-encoder, onnx-seq2seq, torch-encoder, torch-seq2seq)"),
])
def test_malformed_manifest_is_a_model_error(bundle, change, message):
    manifest = manifest_of(bundle)
    change(manifest)
    save_manifest(bundle, manifest)
    with pytest.raises(ModelError) as error:
        load_bundle(bundle)
    assert str(error.value) == f"{bundle / MANIFEST}: {message}"


@pytest.mark.parametrize("text", ["{", "[]", "\xff", ""])
def test_manifest_that_is_not_a_json_object(bundle, text):
    (bundle / MANIFEST).write_text(text, encoding="latin-1")
    with pytest.raises(ModelError, match=r"manifest.json: (not valid JSON|expected a JSON object)"):
        load_bundle(bundle)


def test_damaged_graph_with_a_matching_sha256_fails_to_load_cleanly(bundle):
    """Someone re-signed a truncated graph: ONNX Runtime refuses it; the error names the graph."""
    from empathy_metric import Scorer
    graph = bundle / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:5000])
    write_manifest(bundle, {k: v for k, v in manifest_of(bundle).items() if k != "sha256"})
    with pytest.raises(ModelError) as error:
        Scorer.from_pretrained(str(bundle))
    assert str(error.value).startswith(f"{graph}: ONNX Runtime cannot load this graph")


def test_damaged_tokenizer_with_a_matching_sha256_fails_to_load_cleanly(bundle):
    from empathy_metric import Scorer
    (bundle / "tokenizer.json").write_text('{"model": "nonsense"}')
    write_manifest(bundle, {k: v for k, v in manifest_of(bundle).items() if k != "sha256"})
    with pytest.raises(ModelError) as error:
        Scorer.from_pretrained(str(bundle))
    assert str(error.value).startswith(f"{bundle / 'tokenizer.json'}: not a valid tokenizer.json")


def test_graph_without_the_tasks_outputs_is_refused(bundle):
    from empathy_metric import Scorer
    manifest = manifest_of(bundle)
    manifest["tasks"].append({"name": "extra", "labels": ["no", "yes"]})
    save_manifest(bundle, manifest)
    with pytest.raises(ModelError, match=r"model.onnx: graph lacks output\(s\) logits.extra"):
        Scorer.from_pretrained(str(bundle))


def test_cli_exits_4_naming_the_file(score_cli, bundle, tmp_path):
    logs = tmp_path / "logs.jsonl"
    logs.write_text(GOOD)
    assert score_cli(logs, model=bundle).exit_code == 0
    graph = bundle / "model.onnx"
    graph.write_bytes(graph.read_bytes()[:-10])
    result = score_cli(logs, model=bundle)
    assert (result.exit_code, result.stderr) == (
        4, f"error: {graph}: sha256 does not match the manifest: the file is altered or truncated\n")
