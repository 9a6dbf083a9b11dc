"""fxwatch.store's table modules against the real local Cassandra: what is written is read back."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from fxwatch.store import alerts, pair_status, quotes
from fxwatch.store.session import EPOCH_DATE_OFFSET

pytestmark = pytest.mark.integration

_DAY_MS = 86_400_000


def _random_day() -> date:
    return date(2004, 1, 5) + timedelta(days=random.randrange(5000))


def _ms(d: date, hours: float = 0) -> int:
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000 + hours * 3_600_000)


def test_quote_rows_upsert_by_key_and_read_back(stack, cassandra_session):
    day, pair = _random_day(), f"Q{uuid.uuid4().hex[:5].upper()}"
    t0 = _ms(day, 10)
    rows = [
        (
            pair,
            EPOCH_DATE_OFFSET + t0 // _DAY_MS,
            t0 + i,
            i,
            1.1,
            1.1002,
            1.1001,
            0.0002,
            "test",
            None,
            None,
            None,
            t0,
        )
        for i in range(7)
    ]
    assert quotes.write_quote_rows(stack, None, rows, batch_rows=3) == 7
    assert quotes.write_quote_rows(cassandra_session, None, rows[:2]) == 2  # a replay overwrites
    assert quotes.count_quotes(cassandra_session, stack.keyspace, [pair], [day]) == 7
    history = list(quotes.read_quote_history(stack, None, pair, day, t0 + 1, t0 + 5))
    assert [h[:2] for h in history] == [(t0 + i, i) for i in (4, 3, 2, 1)]  # newest first
    start = datetime.fromtimestamp(t0 / 1000, UTC)
    got = quotes.read_quotes(
        cassandra_session, stack.keyspace, pair, day, start, start + timedelta(hours=1), 5
    )
    assert [r.seq for r in got] == [6, 5, 4, 3, 2] and got[0].source == "test"


def test_pair_status_counts_a_replayed_batch_once_and_keeps_the_newest_tick(stack):
    pair, writer = f"S{uuid.uuid4().hex[:5].upper()}", f"ck-{uuid.uuid4().hex[:6]}"
    t = _ms(_random_day(), 12)

    def status():
        return {r.pair: r for r in pair_status.read_pair_status(stack)}[pair]

    assert (
        pair_status.update_pair_status(
            stack, [{"pair": pair, "n": 5, "ts_ms": t, "bid": 1.0, "ask": 1.1}], writer, 0
        )
        == 1
    )
    pair_status.update_pair_status(
        stack, [{"pair": pair, "n": 5, "ts_ms": t, "bid": 1.0, "ask": 1.1}], writer, 0
    )
    assert status().ticks_seen == 5  # batch 0 replayed: not counted again
    pair_status.update_pair_status(
        stack, [{"pair": pair, "n": 3, "ts_ms": t - 1000, "bid": 2.0, "ask": 2.1}], writer, 1
    )
    row = status()
    assert (
        row.ticks_seen == 8 and row.bid == 1.0
    )  # counted, but an older tick keeps the newer quote
    assert pair in pair_status.known_pairs(stack)
    assert pair_status.update_pair_status(stack, [], writer, 2) == 0


def test_alerts_insert_read_and_delete_a_day(stack, cassandra_session):
    day = _random_day()
    t = _ms(day, 9)
    rows = [
        {
            "pair": p,
            "ts": t + i,
            "detector": "zscore",
            "score": 0.9,
            "reason": f"r{i}",
            "window_start": t - 60_000 if i else None,
            "window_end": t if i else None,
            "value": 1.5,
        }
        for i, p in enumerate(["EUR/USD", "USD/JPY", "EUR/USD"])
    ]
    assert alerts.insert_alerts(stack, rows) == 3
    since = datetime.fromtimestamp(t / 1000, UTC)
    got = alerts.read_alerts(
        cassandra_session, stack.keyspace, since, since + timedelta(days=1), "EUR/USD"
    )
    assert [a["reason"] for a in got] == ["r0", "r2"] and got[0]["window_start"] is None
    assert (
        len(alerts.read_alerts_of_day(stack, None, day, since, since + timedelta(milliseconds=2)))
        == 3
    )
    assert len(alerts.alert_keys_since(stack, None, day, since + timedelta(milliseconds=1))) == 2
    alerts.delete_alerts_of_day(stack, day)
    assert alerts.read_alerts(stack, None, since, since + timedelta(days=1)) == []
