"""The Quote wire form, validation reasons and the Spark schema description."""

import json
import math
import sys

import pytest

from fxwatch import schema
from fxwatch.schema import (
    BadLine,
    Quote,
    Reason,
    make_quote,
    normalize_pair,
    pair_problem,
    parse_ts,
    ts_problem,
    validate_quote,
)

NOW = 1_705_327_200_000  # 2024-01-15T14:00:00Z


def q(**kw):
    base = dict(pair="EUR/USD", ts_ms=NOW - 1000, bid=1.09001, ask=1.09008, source="test")
    base.update(kw)
    return Quote(**base)


def test_quote_keeps_its_constructor_and_properties():
    quote = Quote("USD/JPY", NOW, 157.123, 157.130, "x", 156.0, 158.0, 157.0)
    assert quote.low == 156.0 and quote.high == 158.0 and quote.open == 157.0
    assert quote.mid == pytest.approx(157.1265)
    assert quote.spread == pytest.approx(0.007)
    assert not quote.crossed
    assert Quote("EUR/USD", NOW, 1.1, 1.1, "x").crossed


def test_json_round_trip_and_versioned_compact_form():
    quote = q(low=1.08, high=1.10, open=1.09)
    text = quote.to_json()
    assert json.loads(text) == {
        "v": 1,
        "pair": "EUR/USD",
        "ts": NOW - 1000,
        "bid": 1.09001,
        "ask": 1.09008,
        "src": "test",
        "low": 1.08,
        "high": 1.10,
        "open": 1.09,
    }
    assert " " not in text
    assert Quote.from_json(text) == quote
    assert Quote.from_json(q().to_json()) == q()
    assert "low" not in q().to_json()


def test_from_json_rejects_other_versions_and_missing_fields():
    with pytest.raises(ValueError, match="version"):
        Quote.from_json('{"v":2,"pair":"EUR/USD","ts":1,"bid":1,"ask":1,"src":"x"}')
    with pytest.raises(ValueError, match="'ask'"):
        Quote.from_json('{"v":1,"pair":"EUR/USD","ts":1,"bid":1,"src":"x"}')


def test_badline_round_trip():
    bad = BadLine("EUR/USD,x", "field_count: expected 4 fields, got 2", "csv", NOW, "f.csv:3")
    assert BadLine.from_json(bad.to_json()) == bad
    assert bad.code == Reason.FIELD_COUNT


@pytest.mark.parametrize(
    "text,expected",
    [
        ("EUR/USD", "EUR/USD"),
        ("eurusd", "EUR/USD"),
        ("EUR_USD", "EUR/USD"),
        (" usd/jpy ", "USD/JPY"),
        ("EUR/EUR", None),
        ("ABC/USD", None),
        ("EURO/USD", None),
        ("EUR", None),
        ("", None),
    ],
)
def test_normalize_pair(text, expected):
    assert normalize_pair(text) == expected


def test_pair_problem_explains():
    assert pair_problem("EUR/USD") is None
    assert "unknown currency ABC" in pair_problem("ABC/USD")
    assert Reason.code(pair_problem("eurusd")) == Reason.BAD_PAIR
    assert "same currency" in pair_problem("USD/USD")


@pytest.mark.parametrize(
    "field,value",
    [
        ("bid", 0.0),
        ("bid", -1.0),
        ("ask", math.nan),
        ("ask", math.inf),
        ("bid", -math.inf),
        ("low", 0.0),
    ],
)
def test_non_finite_or_non_positive_prices_are_rejected(field, value):
    reason = validate_quote(q(**{field: value}), now=NOW)
    assert reason is not None and Reason.code(reason) == Reason.BAD_PRICE and field in reason


def test_crossed_and_locked_quotes_are_valid_data():
    assert validate_quote(q(bid=1.1, ask=1.0999), now=NOW) is None
    assert validate_quote(q(bid=1.1, ask=1.1), now=NOW) is None


def test_timestamp_range():
    assert ts_problem(631_152_000_000, now=NOW) is None  # 1990-01-01 replays fine
    assert Reason.code(ts_problem(631_151_999_999, now=NOW)) == Reason.BAD_TS
    assert Reason.code(ts_problem(1_705_327_200, now=NOW)) == Reason.BAD_TS  # seconds, not ms
    assert ts_problem(NOW + 5000, now=NOW) is None
    assert Reason.code(ts_problem(NOW + 5001, now=NOW)) == Reason.FUTURE_TS
    assert ts_problem(NOW + 60_000, now=NOW, max_skew_ms=120_000) is None


def test_validate_uses_the_real_clock_by_default():
    import time

    assert validate_quote(q(ts_ms=int(time.time() * 1000))) is None
    assert validate_quote(q(ts_ms=int(time.time() * 1000) + 60_000)) is not None


def test_make_quote_normalises_pair_and_raises_reason():
    assert make_quote("eurusd", NOW, 1.1, 1.2, "s", now=NOW).pair == "EUR/USD"
    with pytest.raises(ValueError, match="^bad_price"):
        make_quote("EUR/USD", NOW, 1.1, -1.0, "s", now=NOW)


def test_parse_ts_forms():
    assert parse_ts("1462147200959") == 1462147200959
    assert parse_ts("20160502 00:00:00.959") == 1462147200959
    assert parse_ts("2016-05-02T00:00:00.959Z") == 1462147200959
    assert parse_ts("2016-05-02T02:00:00.959+02:00") == 1462147200959
    with pytest.raises(ValueError, match="^bad_timestamp"):
        parse_ts("yesterday")


def test_spark_schema_is_lazy_and_matches_the_wire_form():
    # the DDL is available without Spark; the StructType agrees with it and with to_dict's keys
    names = [part.split()[0] for part in schema.QUOTE_SPARK_DDL.split(", ")]
    assert names == ["v", "pair", "ts", "bid", "ask", "src", "low", "high", "open"]
    assert set(q(low=1.0, high=2.0, open=1.5).to_dict()) == set(names)
    pyspark_types = pytest.importorskip("pyspark.sql.types")
    struct = schema.QUOTE_SPARK_SCHEMA
    assert struct.fieldNames() == names
    assert isinstance(struct["ts"].dataType, pyspark_types.LongType)
    assert isinstance(struct["bid"].dataType, pyspark_types.DoubleType)
    assert schema.BADLINE_SPARK_SCHEMA.fieldNames() == ["v", "raw", "reason", "src", "ts", "origin"]


def test_schema_module_imports_without_pyspark():
    import subprocess

    code = (
        "import sys; sys.modules['pyspark'] = None; import fxwatch.schema as s; "
        "print(s.Quote('EUR/USD', 1, 1.0, 2.0, 'x').to_json())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert '"pair":"EUR/USD"' in out.stdout


def test_fast_json_path_gives_the_same_text_as_json_dumps():
    import random

    rng = random.Random(5)
    for _ in range(500):
        quote = Quote(
            rng.choice(["EUR/USD", "USD/JPY"]),
            rng.randrange(MIN, NOW),
            rng.uniform(0.5, 200),
            rng.uniform(0.5, 200),
            rng.choice(["csv", 'we"ird\\src', "synthétique"]),
        )
        validate_quote(quote, now=NOW)  # marks the pair as known: the fast path applies
        assert quote.to_json() == json.dumps(quote.to_dict(), separators=(",", ":"))
        assert Quote.from_json(quote.to_json()) == quote
    odd = Quote(
        'EUR"/USD', NOW, math.nan, 1.0, "x"
    )  # invalid quotes still serialise (for the DLQ raw form)
    assert json.loads(odd.to_json())["pair"] == 'EUR"/USD'


MIN = schema.MIN_TS_MS


def test_quote_and_wire_validators_agree_on_random_quotes():
    # validate_quote (with its inline fast path) and validate_record (the wire form, as Spark reads
    # it) both evaluate QUOTE_RULES: the same reason for the same quote
    import random

    from fxwatch.schema import validate_record

    rng = random.Random(11)
    pairs = ["EUR/USD", "USD/JPY", "EUR/EUR", "ABC/USD", "EURUSD", "eur/usd", "XAU/USD", "EUR/US"]
    prices = [1.1, 157.2, 0.0, -1.0, math.nan, math.inf, -math.inf, 1e-9, 3, None]
    times = [NOW - 1000, NOW + 5000, NOW + 5001, MIN, MIN - 1, 1_705_327_200, 0]
    for _ in range(3000):
        bid, ask = rng.choice(prices[:-1]), rng.choice(prices[:-1])
        low, high, opn = (rng.choice(prices) if rng.random() < 0.3 else None for _ in range(3))
        quote = Quote(rng.choice(pairs), rng.choice(times), bid, ask, "s", low, high, opn)
        assert validate_quote(quote, now=NOW) == validate_record(quote.to_json(), now=NOW), quote


def test_every_rule_has_a_reason_code_and_a_message():
    codes = {v for k, v in vars(Reason).items() if k.isupper()}
    for rule in schema.QUOTE_RULES:
        assert (
            rule.code in codes
            and rule.message
            and (rule.field == "" or rule.field in [f.name for f in schema.QUOTE_FIELDS])
        )
