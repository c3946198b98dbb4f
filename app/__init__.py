"""Identito: identity qualification service for French hospitals."""

__version__ = "0.1.0"
