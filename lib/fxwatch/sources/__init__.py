"""Quote sources: live TrueFX, historical replay, and a labelled synthetic generator.

Every source yields `Quote` or `BadLine` items (see `fxwatch.schema`), so the producer can
dead-letter what it cannot use instead of dropping it.
"""

from fxwatch.sources.replay import detect_format, event_ts, limited, pace, read_file, read_files
from fxwatch.sources.synthetic import (
    EventLabel, SyntheticConfig, generate, read_labels, write_labels, write_ticks,
)
from fxwatch.sources.truefx import TrueFXClient, parse_truefx_body, parse_truefx_line

__all__ = [
    "detect_format",
    "event_ts",
    "limited",
    "pace",
    "read_file",
    "read_files",
    "EventLabel",
    "SyntheticConfig",
    "generate",
    "read_labels",
    "write_labels",
    "write_ticks",
    "TrueFXClient",
    "parse_truefx_body",
    "parse_truefx_line",
]
