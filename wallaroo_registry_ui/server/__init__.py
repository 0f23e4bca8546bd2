"""The bundled Wallaroo-compatible registry service (needs the ``[server]`` extra)."""
