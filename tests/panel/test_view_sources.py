"""The TypeScript view and its built bundle put registry text into the DOM as text only."""

from __future__ import annotations

from pathlib import Path


def test_view_sources_insert_text_only() -> None:
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
