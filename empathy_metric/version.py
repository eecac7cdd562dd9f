"""The package version, in a module of its own: outputs carry it in their signature, and importing
it must not pull in the lazy top-level package API."""
__version__ = "0.1.0"
