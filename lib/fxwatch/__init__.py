"""fxwatch: a workbench for real-time FX analysis and manipulation detection."""

__all__ = ["__version__"]

__version__ = "0.1.0"
