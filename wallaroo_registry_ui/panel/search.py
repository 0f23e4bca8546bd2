"""What the panel's search box and sort control ask the registry for, in MLflow's grammar.

Searching and sorting happen upstream, so paging with ``next_page_token`` stays consistent with
what is on screen. MLflow filters have no escapes, and ``%``/``_`` are wildcards, so the filter
sent may match more names than typed; ``name_matches`` keeps only the literal matches.
"""

from __future__ import annotations

import pandas as pd

SORT_KEYS = ("name", "updated")


def name_filter(query: str) -> str | None:
    """A case-blind ``name ILIKE`` filter for names containing ``query`` (None: no filter)."""
    text = query.strip()
    if not text:
        return None
    if "'" not in text:
        return f"name ILIKE '%{text}%'"
    if '"' not in text:
        return f'name ILIKE "%{text}%"'
    return "name ILIKE '%{}%'".format(text.replace("'", "_"))


def order_by(sort: str, descending: bool) -> list[str]:
    """MLflow ``order_by`` for sorting by name or by last update (name breaks ties)."""
    if sort not in SORT_KEYS:
        raise ValueError(f"sort must be one of {SORT_KEYS}, not {sort!r}")
    direction = "DESC" if descending else "ASC"
    if sort == "name":
        return [f"name {direction}"]
    return [f"last_updated_timestamp {direction}", "name ASC"]


def name_matches(frame: pd.DataFrame, query: str) -> pd.Series:
    """Rows whose ``name`` contains ``query`` literally, ignoring case."""
    text = query.strip().casefold()
    if not text or frame.empty:
        return pd.Series(True, index=frame.index)
    names = frame["name"].astype(str).map(str.casefold)
    return names.str.contains(text, regex=False)
