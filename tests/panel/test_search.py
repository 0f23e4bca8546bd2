"""The model search box and sort buttons as registry filter and order_by, and the literal name
match over the models already loaded."""

from __future__ import annotations

import pandas as pd
import pytest

from wallaroo_registry_ui.panel import search as model_search


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
def test_name_filter(query: str, expected: str | None) -> None:
    assert model_search.name_filter(query) == expected


def test_order_by_and_literal_match() -> None:
    assert model_search.order_by("name", True) == ["name DESC"]
    assert model_search.order_by("updated", False) == ["last_updated_timestamp ASC", "name ASC"]
    with pytest.raises(ValueError):
        model_search.order_by("size", False)
    frame = pd.DataFrame({"name": ["bulk-model-1", "bulk_model_2", "Wine"]})
    assert list(frame[model_search.name_matches(frame, "BULK_")]["name"]) == ["bulk_model_2"]
    assert model_search.name_matches(frame, " ").all()
