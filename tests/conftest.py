"""Fixtures: a real MLflow server, a real registry service process, and users of it."""

from mlflow_stack import *  # noqa: F403
from service_stack import *  # noqa: F403
