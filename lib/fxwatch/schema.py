"""The Quote record: one FX tick as it travels from a source through Kafka into Spark.

Also the ONE validation rule table (`QUOTE_RULES`): the Python validators evaluate it and the Spark
parse (`fxwatch.stream.read`) is generated from it; and the one dead-letter record (`dead_letter`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

__all__ = [
    "hour_of_week",
    "Quote",
    "QuotePrices",
    "BadLine",
    "SourceItem",
    "WIRE_VERSION",
    "MIN_TS_MS",
    "MAX_FUTURE_SKEW_MS",
    "CURRENCIES",
    "WireField",
    "QUOTE_FIELDS",
    "DEAD_LETTER_FIELDS",
    "QUOTE_SPARK_DDL",
    "BADLINE_SPARK_DDL",
    "spark_schema",
    "badline_spark_schema",
    "STREAM_DLQ_SOURCE",
    "dead_letter",
    "dead_letter_column",
    "kafka_origin",
    "kafka_origin_column",
    "Check",
    "Rule",
    "QUOTE_RULES",
    "normalize_pair",
    "pair_problem",
    "price_problem",
    "ts_problem",
    "validate_quote",
    "validate_record",
    "reason_column",
    "parse_price",
    "parse_ts",
    "make_quote",
    "now_ms",
    "iso_ms",
    "alert_id",
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
_INT_MS = re.compile(r"-?\d+")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def alert_id(pair: str, ts_ms: int, detector: str) -> str:
    """An alert's id: a hash of its primary key in fxwatch.alerts (pair, event time, detector), so
    the same alert raised again (a replayed micro-batch, a rerun, the offline engine) has the same
    id: consumers of the alerts topic de-duplicate by it, incidents list their alerts by it."""
    return hashlib.blake2b(f"{pair}|{int(ts_ms)}|{detector}".encode(), digest_size=8).hexdigest()


def iso_ms(t: int | datetime) -> str:
    """Epoch ms, or a datetime (naive = UTC), -> '2014-05-08T12:45:00.123Z' (UTC, milliseconds)."""
    if isinstance(t, datetime):
        t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    else:
        t = _EPOCH + timedelta(milliseconds=t)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def hour_of_week(ts: datetime) -> int:
    """0 = Monday 00:00-00:59 UTC ... 167 = Sunday 23:00-23:59 UTC: the bucket of fxwatch.stats.

    A naive datetime is taken as UTC. Its Spark twin is fxwatch.stream.features.hour_of_week
    (a test checks they agree)."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC)
    return ts.weekday() * 24 + ts.hour


class QuotePrices:
    """Prices derived from `bid` and `ask`, shared by `Quote` and the offline engine's reusable
    view."""

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
        """Compact JSON wire form:
        {"v":1,"pair":..,"ts":..,"bid":..,"ask":..,"src":..[,low,high,open]}."""
        if (
            self.low is None
            and self.high is None
            and self.open is None
            and self.pair in _KNOWN_PAIRS
            and type(self.ts_ms) is int
            and _finite_float(self.bid)
            and _finite_float(self.ask)
        ):
            # fast path for the common tick (same text as json.dumps, about 4x quicker)
            return (
                f'{{"v":{WIRE_VERSION},"pair":"{self.pair}","ts":{self.ts_ms},"bid":{self.bid!r},'
                f'"ask":{self.ask!r},"src":{json.dumps(self.source)}}}'
            )
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Quote:
        """Inverse of to_dict; raises ValueError on an unknown version or missing field."""
        if d.get("v") != WIRE_VERSION:
            raise ValueError(
                f"unsupported quote wire version {d.get('v')!r} (expected {WIRE_VERSION})"
            )
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
    def from_json(cls, text: str | bytes) -> Quote:
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
        """The dead-letter record (see `dead_letter`)."""
        return dead_letter(self.raw, self.reason, self.source, self.ts_ms, self.origin)

    def to_json(self) -> str:
        """Compact JSON DLQ form: {"v":1,"raw":..,"reason":..,"src":..,"ts":..[,"origin":..]}."""
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> BadLine:
        d = json.loads(text)
        if d.get("v") != WIRE_VERSION:
            raise ValueError(f"unsupported DLQ wire version {d.get('v')!r}")
        return cls(d["raw"], d["reason"], d["src"], int(d["ts"]), d.get("origin"))


SourceItem = Quote | BadLine


# ---- the wire forms: field lists, Spark schemas -------------------------------------------------
class WireField(NamedTuple):
    """One field of a JSON wire form: name, Spark SQL type, and whether every record has it."""

    name: str
    sql: str  # INT, BIGINT, DOUBLE or STRING
    required: bool


QUOTE_FIELDS = (
    WireField("v", "INT", True),
    WireField("pair", "STRING", True),
    WireField("ts", "BIGINT", True),
    WireField("bid", "DOUBLE", True),
    WireField("ask", "DOUBLE", True),
    WireField("src", "STRING", True),
    WireField("low", "DOUBLE", False),
    WireField("high", "DOUBLE", False),
    WireField("open", "DOUBLE", False),
)
DEAD_LETTER_FIELDS = (
    WireField("v", "INT", True),
    WireField("raw", "STRING", True),
    WireField("reason", "STRING", True),
    WireField("src", "STRING", True),
    WireField("ts", "BIGINT", True),
    WireField("origin", "STRING", False),
)
QUOTE_SPARK_DDL = ", ".join(f"{f.name} {f.sql}" for f in QUOTE_FIELDS)
BADLINE_SPARK_DDL = ", ".join(f"{f.name} {f.sql}" for f in DEAD_LETTER_FIELDS)


def _struct_type(fields: tuple[WireField, ...]):
    from pyspark.sql import types as T  # lazy: this module imports without pyspark

    sql = {
        "INT": T.IntegerType,
        "BIGINT": T.LongType,
        "DOUBLE": T.DoubleType,
        "STRING": T.StringType,
    }
    return T.StructType([T.StructField(f.name, sql[f.sql](), not f.required) for f in fields])


def spark_schema():
    """The Spark StructType of the quote JSON wire form (imports pyspark only when called)."""
    return _struct_type(QUOTE_FIELDS)


def badline_spark_schema():
    """The Spark StructType of the DLQ JSON form."""
    return _struct_type(DEAD_LETTER_FIELDS)


def __getattr__(
    name: str,
):  # lazy module attribute: QUOTE_SPARK_SCHEMA without importing Spark early
    if name == "QUOTE_SPARK_SCHEMA":
        return spark_schema()
    if name == "BADLINE_SPARK_SCHEMA":
        return badline_spark_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---- the dead-letter record: one builder, in Python and as a Spark column ------------------------
STREAM_DLQ_SOURCE = "spark"  # `src` of the records the streaming job dead-letters
_KAFKA_ORIGIN = "kafka:{partition}:{offset}"


def dead_letter(raw: str | None, reason: str, src: str, ts: int, origin: str | None = None) -> dict:
    """The DLQ record {"v","raw","reason","src","ts"[,"origin"]}: raw None (a tombstone) becomes ''.

    `ts` is when the record was rejected (UTC epoch ms); `origin` is left out when None.
    """
    values = (WIRE_VERSION, "" if raw is None else raw, reason, src, ts, origin)
    d = {f.name: value for f, value in zip(DEAD_LETTER_FIELDS, values)}
    if origin is None:
        del d["origin"]
    return d


def dead_letter_column(raw, reason, src, ts, origin):
    """`dead_letter` as a Spark struct Column (to_json leaves a NULL origin out, as Python does)."""
    from pyspark.sql import functions as F  # lazy: this module imports without pyspark

    values = (F.lit(WIRE_VERSION), F.coalesce(raw, F.lit("")), reason, src, ts, origin)
    return F.struct(*[c.alias(f.name) for f, c in zip(DEAD_LETTER_FIELDS, values)])


def kafka_origin(partition: int, offset: int) -> str:
    """'kafka:<partition>:<offset>': where a dead-lettered record sat on the quotes topic."""
    return _KAFKA_ORIGIN.format(partition=partition, offset=offset)


def kafka_origin_column(partition, offset):
    """`kafka_origin` of two Spark columns."""
    return _spark_format(
        _KAFKA_ORIGIN, partition=partition.cast("string"), offset=offset.cast("string")
    )


def _spark_format(template: str, **columns):
    """str.format for Spark: '{name}' placeholders become the given string Columns (concat)."""
    from pyspark.sql import functions as F  # lazy: this module imports without pyspark

    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            parts.append(F.lit(literal))
        if name is not None:
            parts.append(columns[name])
    return F.concat(*parts) if len(parts) > 1 else parts[0]


# ---- the validation rule table ------------------------------------------------------------------
# One row per rule: a reason code, the wire field it looks at ('' = the record as a whole), a Check
# and a message template. A Check is one predicate written twice, for a Python value and for a
# Spark Column, with SQL's NULL semantics: it does not fire on a missing value unless it is about
# missing values. Templates use {field}, {value} (the value as Spark's CAST(.. AS STRING) prints
# it) and {detail} (the check's own text). The first rule that fires gives '<code>: <message>';
# none firing: an acceptable quote. Crossed and locked quotes are acceptable (valid data).


class _Ctx(NamedTuple):
    """What a Python check may look at besides its value."""

    record: dict  # the record's values by wire field name
    now: int  # the clock, epoch ms
    max_skew_ms: int
    utf8_ok: bool | None  # None: the record did not come as bytes (or is a tombstone)


class _SparkCtx(NamedTuple):
    """What a Spark check may look at besides its column."""

    F: Any  # pyspark.sql.functions
    record: Any  # the parsed struct Column
    now: Any  # Column: the clock, epoch ms
    max_skew_ms: int
    utf8_ok: Any  # Column: is the raw value valid UTF-8


@dataclass(frozen=True, slots=True)
class Check:
    """A predicate in both languages: `py(value, field, ctx)` and `spark(column, ctx)` (None: it
    cannot fire on a record typed by from_json, where a value of the wrong type is NULL).
    `on_null`: it also looks at missing values. `detail_*`: the text of {detail} in both."""

    py: Callable[[Any, str, _Ctx], bool]
    spark: Callable[[Any, _SparkCtx], Any] | None
    on_null: bool = False
    detail_py: Callable[[Any], str] | None = None
    detail_spark: Callable[[Any, _SparkCtx], Any] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rule table: '<code>: <message>' when `check` holds for `field`."""

    code: str
    field: str
    check: Check
    message: str

    def problem(self, ctx: _Ctx) -> str | None:
        """The reason if the check fires on the record of `ctx`, else None."""
        value = ctx.record.get(self.field) if self.field else None
        if value is None and not self.check.on_null:
            return None
        if not self.check.py(value, self.field, ctx):
            return None
        detail = self.check.detail_py(value) if self.check.detail_py else ""
        text = self.message.format(field=self.field, value=_text(value), detail=detail)
        return f"{self.code}: {text}"

    def spark_reason(self, ctx: _SparkCtx):
        """(condition, reason) Columns of this rule."""
        column = ctx.record[self.field] if self.field else None
        parts = {"field": ctx.F.lit(self.field)}
        if column is not None:
            parts["value"] = column.cast("string")
            if self.check.detail_spark:
                parts["detail"] = self.check.detail_spark(column, ctx)
        return self.check.spark(column, ctx), _spark_format(f"{self.code}: {self.message}", **parts)


_SQL_OF = {f.name: f.sql for f in QUOTE_FIELDS}
_CORE = tuple(f.name for f in QUOTE_FIELDS if f.required)  # v and the fields every quote has
_PRICES = ("bid", "ask", "low", "high", "open")
_PAIR_FORM = re.compile(r"[A-Z]{3}/[A-Z]{3}")


def _has_type(value: Any, sql: str) -> bool:
    """Is a Python value of a wire field's type (INT/BIGINT: int; DOUBLE: int or float; STRING)?"""
    if isinstance(value, bool):
        return False
    if sql == "STRING":
        return isinstance(value, str)
    if sql == "DOUBLE":
        return isinstance(value, (int, float))
    return isinstance(value, int)


def _spark_known(c, ctx: _SparkCtx):
    """Spark: is the currency code `c` in CURRENCIES?"""
    return ctx.F.array_contains(ctx.F.array(*[ctx.F.lit(x) for x in sorted(CURRENCIES)]), c)


def _spark_halves(c, ctx: _SparkCtx):
    return ctx.F.substring(c, 1, 3), ctx.F.substring(c, 5, 3)


def _spark_unknown(c, ctx: _SparkCtx):
    """Spark: 'ABC, XYZ', the unknown currencies of a pair."""
    halves = ctx.F.array(*_spark_halves(c, ctx))
    return ctx.F.array_join(ctx.F.filter(halves, lambda x: ~_spark_known(x, ctx)), ", ")


def _spark_all_null(ctx: _SparkCtx):
    cond = None
    for name in _CORE:
        c = ctx.record[name].isNull()
        cond = c if cond is None else cond & c
    return cond


NOT_UTF8 = Check(lambda v, f, ctx: ctx.utf8_ok is False, lambda c, ctx: ~ctx.utf8_ok, on_null=True)
NO_FIELDS = Check(
    lambda v, f, ctx: all(ctx.record.get(n) is None for n in _CORE),
    lambda c, ctx: _spark_all_null(ctx),
    on_null=True,
)
OTHER_VERSION = Check(lambda v, f, ctx: v != WIRE_VERSION, lambda c, ctx: c != WIRE_VERSION)
MISSING = Check(
    lambda v, f, ctx: v is None or not _has_type(v, _SQL_OF[f]),
    lambda c, ctx: c.isNull(),
    on_null=True,
)
WRONG_TYPE = Check(lambda v, f, ctx: not _has_type(v, _SQL_OF[f]), None)
NOT_PAIR_FORM = Check(
    lambda v, f, ctx: not (len(v) == 7 and _PAIR_FORM.match(v)),
    lambda c, ctx: ~((ctx.F.length(c) == 7) & c.rlike("^[A-Z]{3}/[A-Z]{3}")),
)
SAME_CURRENCY = Check(
    lambda v, f, ctx: v[:3] == v[4:7],
    lambda c, ctx: _spark_halves(c, ctx)[0] == _spark_halves(c, ctx)[1],
)
UNKNOWN_CURRENCY = Check(
    lambda v, f, ctx: v[:3] not in CURRENCIES or v[4:7] not in CURRENCIES,
    lambda c, ctx: (
        ~(_spark_known(_spark_halves(c, ctx)[0], ctx) & _spark_known(_spark_halves(c, ctx)[1], ctx))
    ),
    detail_py=lambda v: ", ".join(x for x in (v[:3], v[4:7]) if x not in CURRENCIES),
    detail_spark=_spark_unknown,
)
NOT_FINITE = Check(
    lambda v, f, ctx: not math.isfinite(v),
    lambda c, ctx: ctx.F.isnan(c) | (ctx.F.abs(c) == math.inf),
)
NOT_POSITIVE = Check(lambda v, f, ctx: v <= 0, lambda c, ctx: c <= 0)
BEFORE_1990 = Check(lambda v, f, ctx: v < MIN_TS_MS, lambda c, ctx: c < MIN_TS_MS)
AHEAD_OF_CLOCK = Check(
    lambda v, f, ctx: v > ctx.now + ctx.max_skew_ms, lambda c, ctx: c > ctx.now + ctx.max_skew_ms
)

QUOTE_RULES: tuple[Rule, ...] = (
    Rule(Reason.UNPARSEABLE, "", NOT_UTF8, "not valid UTF-8 text"),
    Rule(Reason.UNPARSEABLE, "", NO_FIELDS, "not a JSON quote object"),
    Rule(Reason.UNPARSEABLE, "v", OTHER_VERSION, "unsupported wire version {value}"),
    *(
        Rule(Reason.UNPARSEABLE, name, MISSING, "field '{field}' missing or of the wrong type")
        for name in _CORE
    ),
    *(
        Rule(Reason.BAD_PRICE, f.name, WRONG_TYPE, "{field} is not a number")
        for f in QUOTE_FIELDS
        if not f.required
    ),
    Rule(Reason.BAD_PAIR, "pair", NOT_PAIR_FORM, "'{value}' is not of the form 'EUR/USD'"),
    Rule(Reason.BAD_PAIR, "pair", SAME_CURRENCY, "'{value}' has the same currency twice"),
    Rule(Reason.BAD_PAIR, "pair", UNKNOWN_CURRENCY, "unknown currency {detail} in '{value}'"),
    *(
        rule
        for name in _PRICES
        for rule in (
            Rule(Reason.BAD_PRICE, name, NOT_FINITE, "{field}={value} is not finite"),
            Rule(Reason.BAD_PRICE, name, NOT_POSITIVE, "{field}={value} is not positive"),
        )
    ),
    Rule(Reason.BAD_TS, "ts", BEFORE_1990, "{value} is before 1990-01-01 (seconds instead of ms?)"),
    Rule(Reason.FUTURE_TS, "ts", AHEAD_OF_CLOCK, "{value} is ahead of the clock"),
)
"""The validation rules of a quote, in the order they are tried (see the comment above)."""

_RULES_OF = {name: tuple(r for r in QUOTE_RULES if r.field == name) for name in _SQL_OF}


def _first_problem(ctx: _Ctx, rules: tuple[Rule, ...] = QUOTE_RULES) -> str | None:
    for rule in rules:
        problem = rule.problem(ctx)
        if problem:
            return problem
    return None


def _field_problem(
    name: str, value: Any, now: int | None = None, max_skew_ms: int = MAX_FUTURE_SKEW_MS
) -> str | None:
    """The first rule of field `name` that fires on `value`, as a reason."""
    record = {name: value}
    ctx = _Ctx(record, now_ms() if now is None else now, max_skew_ms, None)
    return _first_problem(ctx, _RULES_OF[name])


def reason_column(record, now_ms_col, utf8_ok):
    """QUOTE_RULES as one Spark Column: NULL for an acceptable quote, else '<code>: <message>'.

    `record` is the from_json struct of the quote wire form, `now_ms_col` the clock in epoch ms,
    `utf8_ok` whether the raw value is valid UTF-8. The Spark twin of `validate_record`.
    """
    from pyspark.sql import functions as F  # lazy: this module imports without pyspark

    ctx = _SparkCtx(F, record, now_ms_col, MAX_FUTURE_SKEW_MS, utf8_ok)
    out = None
    for rule in QUOTE_RULES:
        if rule.check.spark is None:
            continue
        cond, reason = rule.spark_reason(ctx)
        out = F.when(cond, reason) if out is None else out.when(cond, reason)
    return out


# ---- the Python validators: all of them evaluate QUOTE_RULES -------------------------------------
@functools.lru_cache(maxsize=4096)  # sources call it per line, on a handful of distinct pairs
def normalize_pair(text: str) -> str | None:
    """'eurusd', 'EUR_USD', 'EUR/USD' -> 'EUR/USD'; None if not two known, distinct currencies."""
    m = _PAIR_RE.match(text.strip())
    if not m:
        return None
    base, quote = m.group(1).upper(), m.group(2).upper()
    if base == quote or base not in CURRENCIES or quote not in CURRENCIES:
        return None
    return f"{base}/{quote}"


_KNOWN_PAIRS: set[str] = (
    set()
)  # canonical pairs already validated (a cache: validation is per tick)


def _finite_float(x: object) -> bool:
    return type(x) is float and math.isfinite(x)


def pair_problem(pair: str) -> str | None:
    """Reason if `pair` is not canonical 'BASE/QUOTE' of known currencies."""
    if pair in _KNOWN_PAIRS:
        return None
    problem = _field_problem("pair", pair)
    if problem is None:
        _KNOWN_PAIRS.add(pair)
    return problem


def price_problem(name: str, value: float | None) -> str | None:
    """Reason if a price (bid, ask, low, high, open) is not a finite positive number."""
    return _field_problem(name, value)


def ts_problem(
    ts_ms: int, now: int | None = None, max_skew_ms: int = MAX_FUTURE_SKEW_MS
) -> str | None:
    """Reason if a timestamp is before 1990 or ahead of the clock by more than the skew."""
    return _field_problem("ts", ts_ms, now, max_skew_ms)


def validate_quote(
    q: Quote, now: int | None = None, max_skew_ms: int = MAX_FUTURE_SKEW_MS
) -> str | None:
    """First reason (QUOTE_RULES) why `q` is not acceptable, or None."""
    clock = now_ms() if now is None else now
    bid, ask, ts = q.bid, q.ask, q.ts_ms
    if (
        q.pair in _KNOWN_PAIRS
        and type(bid) is float
        and 0.0 < bid < math.inf
        and type(ask) is float
        and 0.0 < ask < math.inf
        and type(ts) is int
        and MIN_TS_MS <= ts <= clock + max_skew_ms
        and type(q.source) is str
        and q.low is None
        and q.high is None
        and q.open is None
    ):
        return None  # the common tick, checked inline: no rule of the table can fire on it
    record = {
        "v": WIRE_VERSION,
        "pair": q.pair,
        "ts": ts,
        "bid": bid,
        "ask": ask,
        "src": q.source,
        "low": q.low,
        "high": q.high,
        "open": q.open,
    }
    ctx = _Ctx(record, clock, max_skew_ms, None)
    problem = _first_problem(ctx)
    if problem is None or _first_problem(ctx, _RULES_OF["pair"]) is None:
        _KNOWN_PAIRS.add(q.pair)
    return problem


def validate_record(
    raw: bytes | str | None, now: int | None = None, max_skew_ms: int = MAX_FUTURE_SKEW_MS
) -> str | None:
    """The reason the streaming job gives a record of the quotes topic (None: accepted).

    The Python twin of `reason_column` on `fxwatch.stream.read.parse_records`: same rules, with
    from_json's typing (Jackson reads the first JSON value and ignores what follows; a value of the
    wrong type is NULL; a number or object where text is expected becomes its JSON text; the
    strings NaN and Infinity are doubles). Not mirrored: Jackson's single-quoted JSON.
    """
    utf8_ok = None
    text = raw
    if isinstance(raw, (bytes, bytearray)):
        try:
            text, utf8_ok = bytes(raw).decode("utf-8"), True
        except UnicodeDecodeError:
            text, utf8_ok = None, False
    record = _from_json(text)
    return _first_problem(_Ctx(record, now_ms() if now is None else now, max_skew_ms, utf8_ok))


# ---- from_json's typing and Spark's text of values, in Python -----------------------------------
_JSON = json.JSONDecoder()
_SPARK_DOUBLE_TEXT = {  # the strings from_json reads as doubles
    "NaN": math.nan,
    "Infinity": math.inf,
    "+Infinity": math.inf,
    "+INF": math.inf,
    "-Infinity": -math.inf,
    "-INF": -math.inf,
}


def _from_json(text: str | None) -> dict:
    """A quote record typed like Spark's from_json with the quote schema (NULL -> None)."""
    record: dict[str, Any] = dict.fromkeys(_SQL_OF)
    if not text:
        return record
    try:
        doc, _ = _JSON.raw_decode(text.lstrip(" \t\r\n"))
    except (ValueError, RecursionError):
        return record
    if type(doc) is not dict:
        return record
    for name, sql in _SQL_OF.items():
        record[name] = _spark_value(doc.get(name), sql)
    return record


def _spark_value(value: Any, sql: str) -> Any:
    """One JSON value as from_json types it for a field of type `sql` (None = NULL)."""
    if value is None:
        return None
    if sql == "STRING":
        return value if type(value) is str else _jackson_text(value)
    if type(value) is bool:
        return None
    if sql == "DOUBLE":
        if type(value) is float:
            return value
        if type(value) is int:
            try:
                return float(value)
            except OverflowError:
                return math.copysign(math.inf, value)
        return _SPARK_DOUBLE_TEXT.get(value) if type(value) is str else None
    bound = 2**31 if sql == "INT" else 2**63
    return value if type(value) is int and -bound <= value < bound else None


def _jackson_text(value: Any) -> str:
    """A parsed JSON value written back as Jackson does (compact; doubles as Java prints them)."""
    if value is None:
        return "null"
    if type(value) is bool:
        return "true" if value else "false"
    if type(value) is float:
        return _java_double(value)
    if type(value) is int:
        return str(value)
    if type(value) is str:
        return json.dumps(value, ensure_ascii=False)
    if type(value) is list:
        return "[" + ",".join(_jackson_text(x) for x in value) + "]"
    return (
        "{"
        + ",".join(
            json.dumps(k, ensure_ascii=False) + ":" + _jackson_text(x) for k, x in value.items()
        )
        + "}"
    )


def _java_double(v: float) -> str:
    """A double as Java's Double.toString prints it (and so Spark's CAST(double AS STRING))."""
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if v == 0 or 1e-3 <= abs(v) < 1e7:
        return repr(v)  # Python writes this range in plain notation too, shortest digits
    sign, digits, exponent = Decimal(repr(v)).normalize().as_tuple()
    text = "".join(map(str, digits))
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{exponent + len(digits) - 1}"


def _text(value: Any) -> str:
    """A typed value as Spark's CAST(... AS STRING) prints it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    return str(value)


# ---- parsing helpers shared by the sources -------------------------------------------------
def parse_price(name: str, text: str) -> float:
    """A decimal price from text; ValueError with a `bad_price` reason otherwise."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ValueError(f"{Reason.BAD_PRICE}: {name}={text!r} is not a number") from None
    if 0.0 < value < math.inf:
        return value  # the common price, checked inline: no rule of the table can fire on it
    problem = price_problem(name, value)
    if problem:
        raise ValueError(problem)
    return value


def parse_ts(text: str) -> int:
    """Epoch ms from integer ms, or from ISO-8601 / 'YYYYMMDD HH:MM:SS.fff' (UTC unless offset
    given)."""
    s = text.strip()
    if _INT_MS.fullmatch(s):
        return int(s)
    for fmt in ("%Y%m%d %H:%M:%S.%f", "%Y%m%d %H:%M:%S"):
        try:
            dt = datetime.strptime(s, fmt).replace(tzinfo=UTC)
            return _dt_ms(dt)
        except ValueError:
            pass
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{Reason.BAD_TS}: {text!r} is neither epoch ms nor a date-time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return _dt_ms(dt)


def make_quote(
    pair: str,
    ts_ms: int,
    bid: float,
    ask: float,
    source: str,
    low: float | None = None,
    high: float | None = None,
    open: float | None = None,
    now: int | None = None,
    max_skew_ms: int = MAX_FUTURE_SKEW_MS,
) -> Quote:
    """Build and validate a Quote; raises ValueError(reason) if it is not acceptable."""
    canonical = normalize_pair(pair) if isinstance(pair, str) else None
    q = Quote(canonical or pair, ts_ms, bid, ask, source, low, high, open)
    problem = validate_quote(q, now, max_skew_ms)
    if problem:
        raise ValueError(problem)
    return q


def _dt_ms(dt) -> int:
    delta = dt - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _opt_float(v: Any) -> float | None:
    return None if v is None else float(v)
