"""Composition root: CLI, sources, scheduling, tracking, consensus, health. The only package that wires the others."""

from pipeline import offline as _offline

_offline.apply()
