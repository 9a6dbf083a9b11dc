"""PipelineConfig: everything that shapes the streaming job, in one frozen object."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from fxwatch.config import Settings
from fxwatch.detect.bank import STATE_VERSION, WATCHED_PAIRS, default_cross, default_detectors
from fxwatch.errors import FxwatchError

__all__ = ["QUERIES", "DEFAULT_WINDOWS", "PipelineConfig", "expand_queries", "interval_ms"]

# The streaming job's queries, one module each, named after what they write:
#   quotes        -> fxwatch.quote_chunks (+ pair_status, dead letters) stream/quotes.py
#   trends        -> fxwatch.trends                                    stream/trends.py
#   tick_alerts   -> fxwatch.alerts + fx-alerts (stateful detectors)   stream/tick_alerts.py
#   window_alerts -> fxwatch.alerts + fx-alerts (the classic rule)     stream/window_alerts.py
#   incidents     -> fxwatch.incidents + fx-incidents (reads fx-alerts) stream/incidents.py
QUERIES = ("quotes", "trends", "tick_alerts", "window_alerts", "incidents")
# `alerts`: the alert path, both alert queries and the incidents grouped from what they publish
# (the incidents query costs little: 12 s beside 346 s for the other four on the demo sample)
_ALIASES = {
    "alerts": ("tick_alerts", "window_alerts", "incidents"),
    "anomalies": ("tick_alerts", "window_alerts"),
    "detectors": ("tick_alerts",),  # the names of earlier releases
    "classic": ("window_alerts",),
}

# (label stored in trends.window_len, window duration, slide or None for tumbling)
DEFAULT_WINDOWS: tuple[tuple[str, str, str | None], ...] = (
    ("1m", "1 minute", None),
    ("5m/1m", "5 minutes", "1 minute"),
)


def expand_queries(names: Iterable[str]) -> tuple[str, ...]:
    """'quotes,trends,alerts'-style names (aliases allowed) -> query names in QUERIES order."""
    wanted: set[str] = set()
    for n in names:
        n = n.strip()
        if not n:
            continue
        if n in _ALIASES:
            wanted.update(_ALIASES[n])
        elif n in QUERIES:
            wanted.add(n)
        else:
            choices = ", ".join(QUERIES + tuple(_ALIASES))
            raise FxwatchError(f"unknown query {n!r}: choose among {choices}")
    return tuple(q for q in QUERIES if q in wanted)


def interval_ms(text: str) -> int:
    """'30 seconds', '1 minute', '500 milliseconds' (Spark's interval words) -> milliseconds."""
    units = {
        "millisecond": 1,
        "second": 1000,
        "minute": 60_000,
        "hour": 3_600_000,
        "day": 86_400_000,
    }
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*", text.lower())
    if not m or m.group(2) not in units:
        raise FxwatchError(
            f"cannot read the interval {text!r}: write it like '30 seconds' or '2 minutes'"
        )
    return int(float(m.group(1)) * units[m.group(2)])


@dataclass(frozen=True)
class PipelineConfig:
    """How the streaming job runs. `config.with_(field=value)` makes a variant.

    Triggers: with `until_idle` every query processes what Kafka holds (Trigger.AvailableNow) and
    stops; otherwise each runs on a processing-time trigger of its own — the alert path fastest,
    the minute windows slowest (every micro-batch costs fixed work, so few cores go first to
    alerts).
    """

    queries: tuple[str, ...] = QUERIES
    until_idle: bool = False
    starting_offsets: str = "earliest"  # where a new checkpoint starts: earliest | latest
    max_offsets_per_trigger: int | None = None  # cap a micro-batch's size
    alerts_trigger_s: float = 1.0  # tick alerts
    quotes_trigger_s: float = 1.0
    windows_trigger_s: float = 5.0  # trends and window alerts (minute windows)
    watermark: str = "30 seconds"  # how late a tick may come and still count
    trend_windows: tuple[tuple[str, str, str | None], ...] = DEFAULT_WINDOWS
    stats_refresh_s: float = 30.0  # how often the window alerts look for a new stats version
    publish_alerts: bool = True  # also send alerts (and incidents) to their topics
    # how late an alert may reach the incidents query: window alerts come ~90 s after their time
    incidents_watermark: str = "2 minutes"
    pairs: tuple[str, ...] = WATCHED_PAIRS  # their currency triangles get cross-pair checks
    cooldown_ms: int = 60_000  # one alert per pair and detector until this much quiet
    detectors: Callable[[], list] = field(default=default_detectors, repr=False)
    cross: Callable[[], list] | None = field(default=default_cross, repr=False)
    checkpoints: Path | None = None  # default: <checkpoint_dir>/<keyspace>/<topic>

    def __post_init__(self):
        object.__setattr__(self, "queries", expand_queries(self.queries))
        object.__setattr__(self, "pairs", tuple(self.pairs))
        interval_ms(self.watermark)  # fail now, with the fix, not inside Spark
        interval_ms(self.incidents_watermark)
        if self.starting_offsets not in ("earliest", "latest"):
            raise FxwatchError(
                f"starting offsets {self.starting_offsets!r}: use earliest or latest"
            )

    def with_(self, **changes) -> PipelineConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def trigger(self, query: str) -> dict:
        """Keyword arguments of `DataStreamWriter.trigger` for a query."""
        if self.until_idle:
            return {"availableNow": True}
        seconds = {"quotes": self.quotes_trigger_s, "tick_alerts": self.alerts_trigger_s}.get(
            query, self.windows_trigger_s
        )
        return {"processingTime": f"{seconds} seconds"}

    def checkpoint(self, settings: Settings, query: str) -> str:
        """The checkpoint folder of a query: <root>/<query>, root per keyspace and topic."""
        if self.checkpoints is not None:
            root = Path(self.checkpoints)
        else:
            topic = re.sub(r"[^\w.-]", "_", settings.quotes_topic)
            root = settings.checkpoint_dir / settings.keyspace / topic
        # the detectors' pickled state has a layout version: a new layout, a new folder
        folder = f"{query}-state-v{STATE_VERSION}" if query == "tick_alerts" else query
        return str(root / folder)
