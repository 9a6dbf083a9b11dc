"""One rule table, two engines: the Python validator and Spark's parse give the same reasons, and
the Python and Spark dead-letter builders the same records."""

from __future__ import annotations

import json

import pytest

from fxwatch import schema
from fxwatch.schema import (
    DEAD_LETTER_FIELDS,
    QUOTE_RULES,
    STREAM_DLQ_SOURCE,
    Quote,
    dead_letter,
    dead_letter_column,
    kafka_origin,
    now_ms,
    validate_record,
)

pytestmark = pytest.mark.spark

TS = 1_705_327_200_000  # 2024-01-15T14:00:00Z
GOOD = {"v": 1, "pair": "EUR/USD", "ts": TS, "bid": 1.1, "ask": 1.1001, "src": "rules"}


def variant(**kw) -> bytes:
    """The good record with fields changed (value ...: field left out)."""
    d = {**GOOD, **kw}
    return json.dumps({k: v for k, v in d.items() if v is not ...}).encode()


def raw(fields: str) -> bytes:
    """A hand-written record (for JSON that json.dumps does not write)."""
    return f'{{"v":1,"pair":"EUR/USD","ts":{TS},{fields}}}'.encode()


LINES: list[bytes | None] = [
    # acceptable, also with optional fields, ints for doubles, crossed, trailing text, spaces
    variant(),
    variant(low=1.0, high=2.0, open=1.5),
    raw('"bid":1,"ask":2,"src":"f"'),
    variant(bid=1.2, ask=1.1),
    raw('"bid":1.1,"ask":1.2,"src":"f"} trailing'),
    b"  " + variant() + b"  ",
    variant(low="abc"),
    variant(src=5),
    variant(src={"a": [1, 2.5]}),
    raw('"bid":1.10,"ask":1.2,"src":1.50'),
    variant(extra=1),
    # not a quote at all
    None,
    b"",
    b"null",
    b"42",
    b"[]",
    b"{}",
    b'"a string"',
    b"{" * 3000,
    b'{"v":1,"pair":"EUR/USD"',
    b"\x00" * 64,
    b"\xff\xfe\x00garbage\x00",
    json.dumps(GOOD).encode("utf-16"),
    json.dumps({**GOOD, "pair": "EUR/US\u00c4"}).encode("latin-1"),
    raw('"bid":01.1,"ask":1.2,"src":"f"'),
    b"[" + variant() + b"]",
    raw('"bid":1.1,"ask":1.2,"src":"f",'),
    b'{"low": 1.0}',
    # version, missing fields, wrong types
    variant(v=2),
    variant(v="one"),
    variant(v=1.0),
    variant(v=True),
    variant(v=2**40),
    variant(ask=None),
    variant(src=...),
    variant(bid=...),
    variant(src=None),
    variant(bid={"x": 1}),
    variant(bid="abc"),
    variant(bid="1.5"),
    variant(bid=True),
    variant(ts="yesterday"),
    variant(ts=1.5e12),
    variant(ts="1705327200000"),
    variant(ts=10**20),
    raw('"V":1,"bid":1.1,"ask":1.2,"src":"f"').replace(b'"v":1,', b""),
    # pairs
    variant(pair=123),
    variant(pair=["EUR/USD"]),
    variant(pair="EURUSD"),
    variant(pair="eur/usd"),
    variant(pair="EUR/EUR"),
    variant(pair="ABC/XYZ"),
    variant(pair="ABC/USD"),
    variant(pair="EUR/ABC"),
    variant(pair="EUR/USD\n"),
    variant(pair="EUR/USD "),
    variant(pair="EUR_USD"),
    variant(pair=...),
    variant(pair=None),
    variant(pair="X" * 5000),
    json.dumps({**GOOD, "pair": "EUR/US\u00c4"}).encode(),
    # prices, as numbers and as the strings from_json reads as doubles
    variant(bid=-1.0),
    variant(bid=0),
    variant(bid=-0.0),
    variant(bid=-1e10),
    variant(bid=-1e-5),
    variant(ask=-123456789.5),
    variant(low=-2.5),
    variant(high=0.0),
    variant(open=-1),
    raw('"bid":1e400,"ask":1.2,"src":"f"'),
    raw('"bid":NaN,"ask":1.2,"src":"f"'),
    raw('"bid":-Infinity,"ask":1.2,"src":"f"'),
    raw('"bid":1.1,"ask":Infinity,"src":"f"'),
    raw('"bid":1.1,"ask":1.2,"src":"f","low":NaN'),
    raw('"bid":1.1,"ask":1.2,"src":"f","high":1e999'),
    variant(open="-Infinity"),
    *(
        variant(bid=text)
        for text in (
            "NaN",
            "Infinity",
            "-Infinity",
            "+Infinity",
            "INF",
            "+INF",
            "-INF",
            "+NaN",
            "-NaN",
            "nan",
            "inf",
            "infinity",
        )
    ),
    # timestamps
    variant(ts=10**15),
    variant(ts=1_400_000_000),
    variant(ts=-5),
    variant(ts=631_151_999_999),
    variant(ts=631_152_000_000),
    # several problems at once: the first rule in table order wins
    variant(pair="ABC/USD", bid=-1.0, ts=5),
    variant(bid=-1.0, ask=float("nan")),
    variant(v=2, pair="x"),
    variant(bid="abc", ask=-1.0),
]


def spark_reasons(spark, lines):
    from fxwatch.stream.read import parse_records

    rows = [(None, line, 0, i, None) for i, line in enumerate(lines)]
    schema = "key binary, value binary, partition int, offset long, timestamp timestamp"
    records = parse_records(spark.createDataFrame(rows, schema))
    return [r.reason for r in records.select("offset", "reason").orderBy("offset").collect()]


def test_python_validator_and_spark_parse_give_the_same_reasons(spark):
    got = spark_reasons(spark, LINES)
    want = [validate_record(line) for line in LINES]
    for line, spark_reason, python_reason in zip(LINES, got, want):
        assert spark_reason == python_reason, line[:120] if line else line
    assert sum(r is None for r in want) == 12  # the 11 acceptable ones on top, and 1990-01-01
    codes = {r.split(":", 1)[0] for r in want if r}
    assert codes == {"unparseable", "bad_pair", "bad_price", "bad_timestamp", "future_timestamp"}
    fired = {id(_rule_that_fires(line)) for line in LINES}
    untested = [r for r in QUOTE_RULES if r.check.spark is not None and id(r) not in fired]
    assert not [(r.code, r.field, r.message) for r in untested], "rules no line above exercises"


def _rule_that_fires(line):
    """The first rule of the table that rejects `line` (None: accepted)."""
    utf8_ok = None
    text = line
    if line is not None:
        try:
            text, utf8_ok = line.decode("utf-8"), True
        except UnicodeDecodeError:
            text, utf8_ok = None, False
    record = schema._from_json(text)
    ctx = schema._Ctx(record, now_ms(), schema.MAX_FUTURE_SKEW_MS, utf8_ok)
    return next((r for r in QUOTE_RULES if r.problem(ctx)), None)


def test_quotes_the_producer_accepts_spark_accepts(spark):
    quotes = [
        Quote("USD/JPY", TS + i, 157.123 + i, 157.13 + i, "p", 156.0, 158.0, 157.0)
        for i in range(3)
    ]
    quotes += [Quote("EUR/USD", TS, 1.09, 1.0899, "p")]  # crossed: valid data
    lines = [q.to_json().encode() for q in quotes]
    assert spark_reasons(spark, lines) == [validate_record(x) for x in lines] == [None] * 4


def test_spark_and_python_dead_letters_are_the_same_record(spark):
    from pyspark.sql import functions as F

    from fxwatch.stream.read import dlq_json

    rejects = [
        ("EUR/USD,x", "field_count: expected 4 fields, got 2", 0, 17),
        (None, "unparseable: x", 3, 5),  # a tombstone: raw '' in both
        ('sp\u00e9cial "quoted" \\ \n', "bad_pair: 'x' is not of the form 'EUR/USD'", 1, 2**40),
    ]
    df = spark.createDataFrame(rejects, "raw string, reason string, partition int, offset long")
    before = now_ms()
    rows = (
        dlq_json(df)
        .select("key", "value", F.monotonically_increasing_id().alias("i"))
        .orderBy("i")
        .collect()
    )
    after = now_ms()
    names = [f.name for f in DEAD_LETTER_FIELDS]
    for (raw_text, reason, partition, offset), row in zip(rejects, rows):
        assert row.key is None
        got = json.loads(row.value)
        assert list(got) == names  # same keys, same order
        assert before <= got["ts"] <= after
        origin = kafka_origin(partition, offset)
        want = dead_letter(raw_text, reason, STREAM_DLQ_SOURCE, got["ts"], origin)
        assert got == want
    # a rejected line of a source (no origin) leaves "origin" out in both
    no_origin = spark.createDataFrame([("r", "x: y")], "raw string, reason string")
    record = dead_letter_column(
        F.col("raw"),
        F.col("reason"),
        F.lit("csv"),
        F.lit(5).cast("long"),
        F.lit(None).cast("string"),
    )
    (text,) = no_origin.select(F.to_json(record)).first()
    assert json.loads(text) == dead_letter("r", "x: y", "csv", 5)
