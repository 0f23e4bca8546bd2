"""Browse MLflow and Azure Databricks model registries from a notebook and upload into Wallaroo."""

__version__ = "0.1.0"
