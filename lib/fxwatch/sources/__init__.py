"""Quote sources: live TrueFX, tick files (the one reader, row by row or columnar), synthetic.

Every source yields `Quote` or `BadLine` items (see `fxwatch.schema`), so the producer can
dead-letter what it cannot use instead of dropping it.
"""

from fxwatch.sources.replay import (
    TickColumns,
    detect_format,
    event_ts,
    limited,
    pace,
    read_columns,
    read_file,
    read_files,
    read_quotes,
)
from fxwatch.sources.synthetic import (
    EventLabel,
    SyntheticConfig,
    generate,
    read_labels,
    write_labels,
    write_ticks,
)
from fxwatch.sources.truefx import TrueFXClient, parse_truefx_body, parse_truefx_line

__all__ = [
    "TickColumns",
    "detect_format",
    "event_ts",
    "limited",
    "pace",
    "read_columns",
    "read_file",
    "read_files",
    "read_quotes",
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
