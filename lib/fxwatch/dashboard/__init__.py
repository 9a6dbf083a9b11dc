"""The Dash dashboard: data.py queries, figures.py draws, components.py lays out, app.py wires."""

from fxwatch.dashboard.app import Dashboard, create_app, run_inline, serve, stop_inline
from fxwatch.dashboard.data import CassandraSource, InMemorySource, Snapshot, load_snapshot

__all__ = [
    "CassandraSource",
    "Dashboard",
    "InMemorySource",
    "Snapshot",
    "create_app",
    "load_snapshot",
    "run_inline",
    "serve",
    "stop_inline",
]
