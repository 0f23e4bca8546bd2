"""The view's PanelState (js/state.ts) names exactly the widget's own synced traits, so a trait
added, renamed or removed on one side cannot go unnoticed on the other."""

from __future__ import annotations

import re
from pathlib import Path

import anywidget
import pytest

from wallaroo_registry_ui.panel import RegistryBrowser

STATE_TS = Path(__file__).resolve().parents[2] / "js" / "state.ts"

_INTERFACE = re.compile(r"^export interface PanelState \{\n(?P<body>.*?)^\}", re.M | re.S)
_MEMBER = re.compile(r"^  (?P<name>[A-Za-z_][A-Za-z0-9_]*): (?P<type>[^;\n]+);$")


def panel_state_keys(source: str) -> list[str]:
    """The member names of ``interface PanelState``, one ``name: type;`` per line.

    Anything else in the body (an optional member, a comment, a type over several lines) is an
    error, so a change of layout fails here instead of silently hiding a key.
    """
    found = _INTERFACE.search(source)
    if found is None:
        raise ValueError("no `export interface PanelState { ... }` in js/state.ts")
    names = []
    for number, line in enumerate(found.group("body").splitlines(), start=1):
        member = _MEMBER.match(line)
        if member is None:
            raise ValueError(f"PanelState line {number} is not `  name: type;`: {line!r}")
        names.append(member.group("name"))
    if not names:
        raise ValueError("PanelState in js/state.ts has no members")
    return names


def widget_trait_names() -> set[str]:
    """RegistryBrowser's synced traits, without the ones every anywidget has."""
    own = set(RegistryBrowser.class_traits(sync=True))
    return own - set(anywidget.AnyWidget.class_traits(sync=True))


def test_panel_state_names_every_synced_trait_and_nothing_else() -> None:
    keys = panel_state_keys(STATE_TS.read_text())
    duplicated = sorted({k for k in keys if keys.count(k) > 1})
    assert not duplicated, f"PanelState declares {duplicated} more than once"
    traits = widget_trait_names()
    missing = sorted(traits - set(keys))
    extra = sorted(set(keys) - traits)
    assert not missing, f"synced traits of RegistryBrowser missing from PanelState: {missing}"
    assert not extra, f"PanelState keys that are no synced trait of RegistryBrowser: {extra}"


def test_the_base_widget_traits_are_not_the_panels() -> None:
    """The subtraction removes ipywidgets' own state and keeps the panel's."""
    traits = widget_trait_names()
    assert {"workspace_id", "model_rows", "upload_status"} <= traits
    assert not {"layout", "tabbable", "tooltip", "_dom_classes", "_model_name"} & traits


@pytest.mark.parametrize(
    "source",
    [
        "export interface Other {\n  a: number;\n}\n",
        "export interface PanelState {\n  a: number;\n  b?: string;\n}\n",
        "export interface PanelState {\n  // a comment\n  a: number;\n}\n",
        "export interface PanelState {\n  a: {\n    b: number;\n  };\n}\n",
        "export interface PanelState {\n}\n",
    ],
    ids=["no-interface", "optional-member", "comment", "multi-line-type", "empty"],
)
def test_an_unreadable_panel_state_fails_loudly(source: str) -> None:
    with pytest.raises(ValueError):
        panel_state_keys(source)


def test_the_reader_takes_one_member_per_line() -> None:
    source = (
        "export interface Preview {\n  path?: string;\n}\n\n"
        "export interface PanelState {\n  a: number | null;\n  b_c: [string, string][];\n}\n"
    )
    assert panel_state_keys(source) == ["a", "b_c"]
