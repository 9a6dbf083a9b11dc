"""The Quote record: one FX tick as it travels from a source through Kafka into Spark."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Union

__all__ = [
    "Quote",
    "QuotePrices",
    "BadLine",
    "SourceItem",
    "WIRE_VERSION",
    "MIN_TS_MS",
    "MAX_FUTURE_SKEW_MS",
    "CURRENCIES",
    "QUOTE_SPARK_DDL",
    "BADLINE_SPARK_DDL",
    "spark_schema",
    "badline_spark_schema",
    "normalize_pair",
    "pair_problem",
    "price_problem",
    "ts_problem",
    "validate_quote",
    "parse_price",
    "parse_ts",
    "make_quote",
    "now_ms",
    "Reason",
]

WIRE_VERSION = 1
MIN_TS_MS = 631_152_000_000  # 1990-01-01T00:00:00Z: older history is not plausible tick data
MAX_FUTURE_SKEW_MS = 5_000  # a source may run ahead of our clock by at most this much

# ISO 4217 currencies that FX venues quote, plus precious metals (XAU, XAG, XPT, XPD).
CURRENCIES = frozenset(
    """
    USD EUR JPY GBP CHF AUD NZD CAD SEK NOK DKK PLN CZK HUF TRY ZAR MXN SGD HKD CNH CNY KRW INR
    RUB BRL ILS THB TWD IDR PHP MYR SAR AED KWD QAR CLP COP PEN ARS ISK RON BGN HRK KZT EGP NGN
    XAU XAG XPT XPD
    """.split()
)

_PAIR_RE = re.compile(r"^([A-Za-z]{3})[/_\-: ]?([A-Za-z]{3})$")


class Reason:
    """Reason codes that start every rejection message (`code: detail`)."""

    UNPARSEABLE = "unparseable"
    FIELD_COUNT = "field_count"
    BAD_PAIR = "bad_pair"
    BAD_PRICE = "bad_price"
    BAD_TS = "bad_timestamp"
    FUTURE_TS = "future_timestamp"

    @staticmethod
    def code(reason: str) -> str:
        """The code part of a reason string."""
        return reason.split(":", 1)[0]


def now_ms() -> int:
    """Wall-clock time in UTC epoch milliseconds."""
    return int(time.time() * 1000)


class QuotePrices:
    """Prices derived from `bid` and `ask`, shared by `Quote` and the offline engine's reusable view."""

    __slots__ = ()
    bid: float
    ask: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0

    @property
    def spread(self) -> float:
        return self.ask - self.bid

    @property
    def crossed(self) -> bool:
        """Bid at or above ask (locked or crossed): valid data, flagged by detectors."""
        return self.bid >= self.ask


@dataclass(frozen=True, slots=True)
class Quote(QuotePrices):
    """One tick. `pair` is 'EUR/USD' form; `ts_ms` is event time in UTC epoch milliseconds."""

    pair: str
    ts_ms: int
    bid: float
    ask: float
    source: str
    low: float | None = None
    high: float | None = None
    open: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The versioned wire form as a dict (optional fields only when set)."""
        d: dict[str, Any] = {
            "v": WIRE_VERSION,
            "pair": self.pair,
            "ts": self.ts_ms,
            "bid": self.bid,
            "ask": self.ask,
            "src": self.source,
        }
        for name in ("low", "high", "open"):
            value = getattr(self, name)
            if value is not None:
                d[name] = value
        return d

    def to_json(self) -> str:
        """Compact JSON wire form: {"v":1,"pair":..,"ts":..,"bid":..,"ask":..,"src":..[,low,high,open]}."""
        if (self.low is None and self.high is None and self.open is None and self.pair in _KNOWN_PAIRS
                and type(self.ts_ms) is int and _finite_float(self.bid) and _finite_float(self.ask)):
            # fast path for the common tick (same text as json.dumps, about 4x quicker)
            return (f'{{"v":{WIRE_VERSION},"pair":"{self.pair}","ts":{self.ts_ms},"bid":{self.bid!r},'
                    f'"ask":{self.ask!r},"src":{json.dumps(self.source)}}}')
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Quote":
        """Inverse of to_dict; raises ValueError on an unknown version or missing field."""
        if d.get("v") != WIRE_VERSION:
            raise ValueError(f"unsupported quote wire version {d.get('v')!r} (expected {WIRE_VERSION})")
        try:
            return cls(
                pair=str(d["pair"]),
                ts_ms=int(d["ts"]),
                bid=float(d["bid"]),
                ask=float(d["ask"]),
                source=str(d["src"]),
                low=_opt_float(d.get("low")),
                high=_opt_float(d.get("high")),
                open=_opt_float(d.get("open")),
            )
        except KeyError as exc:
            raise ValueError(f"quote JSON lacks field {exc.args[0]!r}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> "Quote":
        """Parse the JSON wire form; raises ValueError if it is not a v1 quote."""
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True, slots=True)
class BadLine:
    """A rejected input line, bound for the dead-letter topic: nothing is lost silently."""

    raw: str
    reason: str  # "<code>: <detail>", code from Reason
    source: str
    ts_ms: int  # when it was rejected (UTC epoch ms)
    origin: str | None = None  # e.g. "file.csv:123"

    @property
    def code(self) -> str:
        return Reason.code(self.reason)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "v": WIRE_VERSION,
            "raw": self.raw,
            "reason": self.reason,
            "src": self.source,
            "ts": self.ts_ms,
        }
        if self.origin is not None:
            d["origin"] = self.origin
        return d

    def to_json(self) -> str:
        """Compact JSON DLQ form: {"v":1,"raw":..,"reason":..,"src":..,"ts":..[,"origin":..]}."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> "BadLine":
        d = json.loads(text)
        if d.get("v") != WIRE_VERSION:
            raise ValueError(f"unsupported DLQ wire version {d.get('v')!r}")
        return cls(d["raw"], d["reason"], d["src"], int(d["ts"]), d.get("origin"))


SourceItem = Union[Quote, BadLine]

# ---- Spark ---------------------------------------------------------------------------------
QUOTE_SPARK_DDL = (
    "v INT, pair STRING, ts BIGINT, bid DOUBLE, ask DOUBLE, src STRING, "
    "low DOUBLE, high DOUBLE, open DOUBLE"
)
BADLINE_SPARK_DDL = "v INT, raw STRING, reason STRING, src STRING, ts BIGINT, origin STRING"


def spark_schema():
    """The Spark StructType of the quote JSON wire form (imports pyspark only when called)."""
    from pyspark.sql.types import (
        DoubleType, IntegerType, LongType, StringType, StructField, StructType,
    )

    return StructType([
        StructField("v", IntegerType(), False),
        StructField("pair", StringType(), False),
        StructField("ts", LongType(), False),
        StructField("bid", DoubleType(), False),
        StructField("ask", DoubleType(), False),
        StructField("src", StringType(), False),
        StructField("low", DoubleType(), True),
        StructField("high", DoubleType(), True),
        StructField("open", DoubleType(), True),
    ])


def badline_spark_schema():
    """The Spark StructType of the DLQ JSON form."""
    from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType

    return StructType([
        StructField("v", IntegerType(), False),
        StructField("raw", StringType(), False),
        StructField("reason", StringType(), False),
        StructField("src", StringType(), False),
        StructField("ts", LongType(), False),
        StructField("origin", StringType(), True),
    ])


def __getattr__(name: str):  # lazy module attribute: QUOTE_SPARK_SCHEMA without importing Spark early
    if name == "QUOTE_SPARK_SCHEMA":
        return spark_schema()
    if name == "BADLINE_SPARK_SCHEMA":
        return badline_spark_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- validation: each check returns None when fine, else a reason string -----------------------
def normalize_pair(text: str) -> str | None:
    """'eurusd', 'EUR_USD', 'EUR/USD' -> 'EUR/USD'; None if not two known, distinct currencies."""
    m = _PAIR_RE.match(text.strip())
    if not m:
        return None
    base, quote = m.group(1).upper(), m.group(2).upper()
    if base == quote or base not in CURRENCIES or quote not in CURRENCIES:
        return None
    return f"{base}/{quote}"


_KNOWN_PAIRS: set[str] = set()  # canonical pairs already validated (a cache: validation is per tick)


def _finite_float(x: object) -> bool:
    return type(x) is float and math.isfinite(x)


def pair_problem(pair: str) -> str | None:
    """Reason if `pair` is not canonical 'BASE/QUOTE' of known currencies."""
    if pair in _KNOWN_PAIRS:
        return None
    if not isinstance(pair, str) or not re.fullmatch(r"[A-Z]{3}/[A-Z]{3}", pair):
        return f"{Reason.BAD_PAIR}: {pair!r} is not of the form 'EUR/USD'"
    base, quote = pair.split("/")
    if base == quote:
        return f"{Reason.BAD_PAIR}: {pair!r} has the same currency twice"
    unknown = [c for c in (base, quote) if c not in CURRENCIES]
    if unknown:
        return f"{Reason.BAD_PAIR}: unknown currency {', '.join(unknown)} in {pair!r}"
    _KNOWN_PAIRS.add(pair)
    return None


def price_problem(name: str, value: float | None) -> str | None:
    """Reason if a price is not a finite positive number."""
    if value is None or not isinstance(value, (int, float)) or isinstance(value, bool):
        return f"{Reason.BAD_PRICE}: {name}={value!r} is not a number"
    if not math.isfinite(value):
        return f"{Reason.BAD_PRICE}: {name}={value!r} is not finite"
    if value <= 0:
        return f"{Reason.BAD_PRICE}: {name}={value!r} is not positive"
    return None


def ts_problem(ts_ms: int, now: int | None = None, max_skew_ms: int = MAX_FUTURE_SKEW_MS) -> str | None:
    """Reason if a timestamp is before 1990 or ahead of the clock by more than the skew."""
    if not isinstance(ts_ms, int) or isinstance(ts_ms, bool):
        return f"{Reason.BAD_TS}: {ts_ms!r} is not integer milliseconds"
    if ts_ms < MIN_TS_MS:
        return f"{Reason.BAD_TS}: {ts_ms} is before 1990-01-01 (seconds instead of ms?)"
    limit = (now_ms() if now is None else now) + max_skew_ms
    if ts_ms > limit:
        return f"{Reason.FUTURE_TS}: {ts_ms} is {ts_ms - limit + max_skew_ms} ms ahead of the clock"
    return None


def validate_quote(q: Quote, now: int | None = None, max_skew_ms: int = MAX_FUTURE_SKEW_MS) -> str | None:
    """First reason why `q` is not acceptable, or None. Crossed/locked quotes are acceptable."""
    return (
        pair_problem(q.pair)
        or price_problem("bid", q.bid)
        or price_problem("ask", q.ask)
        or (price_problem("low", q.low) if q.low is not None else None)
        or (price_problem("high", q.high) if q.high is not None else None)
        or (price_problem("open", q.open) if q.open is not None else None)
        or ts_problem(q.ts_ms, now, max_skew_ms)
    )


# ---- parsing helpers shared by the sources --------------------------------------------------------
def parse_price(name: str, text: str) -> float:
    """A decimal price from text; ValueError with a `bad_price` reason otherwise."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{Reason.BAD_PRICE}: {name}={text!r} is not a number") from None
    problem = price_problem(name, value)
    if problem:
        raise ValueError(problem)
    return value


def parse_ts(text: str) -> int:
    """Epoch ms from integer ms, or from ISO-8601 / 'YYYYMMDD HH:MM:SS.fff' (UTC unless offset given)."""
    from datetime import datetime, timezone

    s = text.strip()
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    for fmt in ("%Y%m%d %H:%M:%S.%f", "%Y%m%d %H:%M:%S"):
        try:
            dt = datetime.strptime(s, fmt).replace(tzinfo=timezone.utc)
            return _dt_ms(dt)
        except ValueError:
            pass
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{Reason.BAD_TS}: {text!r} is neither epoch ms nor a date-time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return _dt_ms(dt)


def make_quote(
    pair: str, ts_ms: int, bid: float, ask: float, source: str,
    low: float | None = None, high: float | None = None, open: float | None = None,
    now: int | None = None, max_skew_ms: int = MAX_FUTURE_SKEW_MS,
) -> Quote:
    """Build and validate a Quote; raises ValueError(reason) if it is not acceptable."""
    canonical = normalize_pair(pair) if isinstance(pair, str) else None
    q = Quote(canonical or pair, ts_ms, bid, ask, source, low, high, open)
    problem = validate_quote(q, now, max_skew_ms)
    if problem:
        raise ValueError(problem)
    return q


def _dt_ms(dt) -> int:
    from datetime import datetime, timezone

    delta = dt - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)
