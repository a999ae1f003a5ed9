"""Layers in their two forms: a snapshot directory (overlay format) and a tar blob."""
