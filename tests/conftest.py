"""Fixtures: a real MLflow server, a real registry service process, and users of it; the
Databricks stand-in."""

from databricks_stack import *  # noqa: F403
from mlflow_stack import *  # noqa: F403
from service_stack import *  # noqa: F403
