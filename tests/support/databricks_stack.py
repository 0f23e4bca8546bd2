"""The Databricks stand-in (``databricks_standin.py``) as a fixture, one per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.databricks_standin import DatabricksStandIn

__all__ = ["standin"]


@pytest.fixture(scope="module")
def standin() -> Iterator[DatabricksStandIn]:
    """A stand-in Azure Databricks workspace on 127.0.0.1, fresh for each test module."""
    server = DatabricksStandIn()
    yield server
    server.close()
