"""Composition helpers shared by the API, the command line and the workers (below all three)."""
