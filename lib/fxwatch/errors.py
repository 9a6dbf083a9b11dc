"""Errors the user can fix: the message names the problem and what to do about it."""

__all__ = ["FxwatchError"]


class FxwatchError(Exception):
    """A problem with a one-line, actionable message; the CLI prints it without a traceback."""
