"""Upload defaults guessed from a model version's files: MLmodel, requirements.txt, conda.yaml,
and the file names alone."""

from __future__ import annotations

from support.artifact_listing import artifact_listing

from wallaroo_registry_ui.panel import upload_defaults

MLMODEL = """
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
  sklearn:
    pickled_model: model.pkl
signature:
  inputs: '[{"type": "double", "name": "alcohol", "required": true},
    {"type": "long", "name": "count", "required": false}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]'
"""


def test_defaults_from_mlmodel_and_requirements() -> None:
    files = artifact_listing(("MLmodel", 500), ("model.pkl", 9000), ("requirements.txt", 40))
    texts = {"MLmodel": MLMODEL, "requirements.txt": "# pinned\nscikit-learn==1.5\n-r x.txt\n"}
    found = upload_defaults.guess_upload_defaults("Wine_Quality", files, texts.get)
    assert found.name == "wine-quality"
    assert found.framework == "sklearn"
    assert found.path == "model.pkl"
    assert found.requirements == ("scikit-learn==1.5",)
    assert [f.name for f in found.input_schema] == ["alcohol", "count"]
    assert str(found.output_schema.field(0).type) == "list<item: int64>"
    assert any("MLmodel" in note for note in found.notes)


def test_defaults_from_file_names_alone() -> None:
    files = artifact_listing(
        ("MLmodel", 500), ("conda.yaml", 30), ("weights.onnx", 1), ("big.bin", 10**6)
    )
    found = upload_defaults.guess_upload_defaults("m", files, lambda path: None)
    assert (found.framework, found.path) == ("onnx", "weights.onnx")
    files = artifact_listing(("README.md", 10), ("a.bin", 10), ("b.bin", 20))
    found = upload_defaults.guess_upload_defaults("m", files, lambda path: None)
    assert (found.framework, found.path, found.input_schema) == ("custom", "b.bin", None)


def test_requirements_from_conda_when_no_requirements_txt() -> None:
    conda = "dependencies:\n- python=3.11\n- pip:\n  - mlflow==3.1\n  - --index-url x\n"
    files = artifact_listing(("MLmodel", 5), ("conda.yaml", 5), ("model.pkl", 5))
    found = upload_defaults.guess_upload_defaults(
        "m", files, {"MLmodel": MLMODEL, "conda.yaml": conda}.get
    )
    assert found.requirements == ("mlflow==3.1",)


def test_unreadable_mlmodel_is_ignored() -> None:
    assert upload_defaults.read_mlmodel("flavors: [unclosed") == {}
    assert upload_defaults.read_mlmodel("just text") == {}
    assert upload_defaults.framework_from_flavors({"transformers": {"task": "translation"}}) == (
        "hugging-face-translation"
    )
    assert upload_defaults.framework_from_flavors({"transformers": {"task": "x"}}) == "custom"
