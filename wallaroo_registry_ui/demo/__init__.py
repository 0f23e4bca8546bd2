"""A whole local stack on one machine: MLflow with sample models, the registry service and
JupyterLab on the panel's notebook (``wallaroo-registry-ui demo``); the tests start the same
servers through these modules.

Needs the ``[demo]`` extra; nothing here is imported by ``import wallaroo_registry_ui``.
"""
