"""The panel's pure parts: upload defaults, search/sort translation, display rows, the protocol,
and that importing the package stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from wallaroo_registry_ui.client.frames import artifacts_frame
from wallaroo_registry_ui.client.records import Artifact
from wallaroo_registry_ui.panel import rows as view_rows
from wallaroo_registry_ui.panel import search as model_search
from wallaroo_registry_ui.panel import upload_defaults
from wallaroo_registry_ui.panel.protocol import ViewRequest, failure, reply

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


def _files(*entries: tuple[str, int]) -> pd.DataFrame:
    return artifacts_frame(
        Artifact(path=p, relative_path=p, full_path=f"s3://b/{p}", file_size=size)
        for p, size in entries
    )


def test_defaults_from_mlmodel_and_requirements():
    files = _files(("MLmodel", 500), ("model.pkl", 9000), ("requirements.txt", 40))
    texts = {"MLmodel": MLMODEL, "requirements.txt": "# pinned\nscikit-learn==1.5\n-r x.txt\n"}
    found = upload_defaults.guess_upload_defaults("Wine_Quality", files, texts.get)
    assert found.name == "wine-quality"
    assert found.framework == "sklearn"
    assert found.path == "model.pkl"
    assert found.requirements == ("scikit-learn==1.5",)
    assert [f.name for f in found.input_schema] == ["alcohol", "count"]
    assert str(found.output_schema.field(0).type) == "list<item: int64>"
    assert any("MLmodel" in note for note in found.notes)


def test_defaults_from_file_names_alone():
    files = _files(("MLmodel", 500), ("conda.yaml", 30), ("weights.onnx", 1), ("big.bin", 10**6))
    found = upload_defaults.guess_upload_defaults("m", files, lambda path: None)
    assert (found.framework, found.path) == ("onnx", "weights.onnx")
    files = _files(("README.md", 10), ("a.bin", 10), ("b.bin", 20))
    found = upload_defaults.guess_upload_defaults("m", files, lambda path: None)
    assert (found.framework, found.path, found.input_schema) == ("custom", "b.bin", None)


def test_requirements_from_conda_when_no_requirements_txt():
    conda = "dependencies:\n- python=3.11\n- pip:\n  - mlflow==3.1\n  - --index-url x\n"
    files = _files(("MLmodel", 5), ("conda.yaml", 5), ("model.pkl", 5))
    found = upload_defaults.guess_upload_defaults(
        "m", files, {"MLmodel": MLMODEL, "conda.yaml": conda}.get
    )
    assert found.requirements == ("mlflow==3.1",)


def test_unreadable_mlmodel_is_ignored():
    assert upload_defaults.read_mlmodel("flavors: [unclosed") == {}
    assert upload_defaults.read_mlmodel("just text") == {}
    assert upload_defaults.framework_from_flavors({"transformers": {"task": "translation"}}) == (
        "hugging-face-translation"
    )
    assert upload_defaults.framework_from_flavors({"transformers": {"task": "x"}}) == "custom"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", None),
        ("  ", None),
        ("wine", "name ILIKE '%wine%'"),
        ("a'b", 'name ILIKE "%a\'b%"'),
        ("a'b\"c", "name ILIKE '%a_b\"c%'"),
    ],
)
def test_name_filter(query, expected):
    assert model_search.name_filter(query) == expected


def test_order_by_and_literal_match():
    assert model_search.order_by("name", True) == ["name DESC"]
    assert model_search.order_by("updated", False) == ["last_updated_timestamp ASC", "name ASC"]
    with pytest.raises(ValueError):
        model_search.order_by("size", False)
    frame = pd.DataFrame({"name": ["bulk-model-1", "bulk_model_2", "Wine"]})
    assert list(frame[model_search.name_matches(frame, "BULK_")]["name"]) == ["bulk_model_2"]
    assert model_search.name_matches(frame, " ").all()


def test_display_rows():
    assert view_rows.human_size(None) == ""
    assert view_rows.human_size(512) == "512 B"
    assert view_rows.human_size(40 * 1024 * 1024) == "40.0 MiB"
    assert view_rows.is_previewable("MLmodel", 100)
    assert not view_rows.is_previewable("requirements.txt", 10**7)
    assert not view_rows.is_previewable("model.pkl", 10)
    assert view_rows.stage_text("None, Production") == "Production"
    assert view_rows.stage_text("None") == ""
    tree = view_rows.artifact_tree(_files(("b/c/d.txt", 3), ("a.txt", 1)))
    assert [(r["path"], r["depth"], r["is_dir"]) for r in tree] == [
        ("a.txt", 0, False),
        ("b", 0, True),
        ("b/c", 1, True),
        ("b/c/d.txt", 2, False),
    ]
    json.dumps(tree)


def test_protocol_shapes():
    request = ViewRequest.parse({"id": "1", "type": "preview", "path": "MLmodel"})
    assert (request.type, request.text("path"), request.text("missing")) == (
        "preview",
        "MLmodel",
        "",
    )
    for bad in (None, {"type": "preview"}, {"id": "1", "type": "rm -rf"}, {"id": 3, "type": "x"}):
        with pytest.raises(ValueError):
            ViewRequest.parse(bad)
    assert reply("1", {"a": 1}) == {"type": "reply", "id": "1", "ok": True, "result": {"a": 1}}
    assert failure("1", "no") == {"type": "reply", "id": "1", "ok": False, "error": "no"}


def test_import_stays_light():
    code = (
        "import sys, wallaroo_registry_ui as w; from wallaroo_registry_ui import RegistryBrowser;"
        "heavy = [m for m in ('fastapi', 'sqlalchemy', 'mlflow', 'uvicorn') if m in sys.modules];"
        "print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_view_sources_insert_text_only():
    """Registry text reaches the DOM as text nodes: no HTML parsing anywhere in the view."""
    root = Path(__file__).resolve().parents[2]
    sources = sorted((root / "js").glob("*.ts"))
    bundle = root / "wallaroo_registry_ui" / "static" / "widget.js"
    assert bundle.exists(), "the view is not built: npm ci && npm run build (make setup does)"
    assert sources
    sources.append(bundle)
    for source in sources:
        text = source.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in text, f"{source.name} uses {sink}"
