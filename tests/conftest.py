"""Fixtures every test directory may use, from ``support/``: a real MLflow server, a real
registry service process and its users, a real JupyterHub with the service in it, the
Databricks stand-in, PostgreSQL, and JupyterLab, Notebook 7 and Chromium for the UI tests.
A fixture starts its server only when a test asks."""

pytest_plugins = [
    "support.mlflow_stack",
    "support.silent_port",
    "support.service_stack",
    "support.databricks_stack",
    "support.postgres_stack",
    "support.jupyter_stack",
    "support.upload_stack",
    "support.hub_stack",
]
