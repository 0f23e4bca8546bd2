"""The package's version, importable without loading anything else of the package."""

__version__ = "0.1.0"
