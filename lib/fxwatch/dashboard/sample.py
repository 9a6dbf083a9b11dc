"""A small deterministic set of dashboard rows (quotes, trends, alerts, incidents, stats), and a
Cassandra seeder.

Used by the tests, the browser screenshot test and notebook 06 when asked to show the dashboard
without running the pipeline. Rows are shaped exactly like the streaming job's.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from fxwatch.dashboard.data import hour_of_week, incident_frame, utc_naive
from fxwatch.detect.incidents import group_alerts
from fxwatch.store import alerts as store_alerts
from fxwatch.store import incidents as store_incidents
from fxwatch.store import pair_status as store_pair_status
from fxwatch.store import stats as store_stats
from fxwatch.store import ticks as store_ticks
from fxwatch.store import trends as store_trends

__all__ = ["sample_frames", "seed_cassandra"]

_BASE = {"EUR/USD": 1.0850, "USD/JPY": 151.20, "GBP/USD": 1.2710}


def sample_frames(
    end: datetime,
    minutes: int = 30,
    pairs: tuple[str, ...] = ("EUR/USD", "USD/JPY"),
    tick_ms: int = 1000,
    seed: int = 7,
) -> dict[str, pd.DataFrame]:
    """Quotes every `tick_ms` for `minutes` up to `end`, 1m trends, two alerts per pair (one
    incident each, grouped by fxwatch.detect.incidents), and stats."""
    rng = np.random.default_rng(seed)
    end = utc_naive(end).replace(microsecond=0)
    start = end - timedelta(minutes=minutes)
    quotes, trends, alerts, stats, status = [], [], [], [], []
    for pi, pair in enumerate(pairs):
        base = _BASE.get(pair, 1.0 + pi)
        pip = 0.01 if "JPY" in pair else 0.0001
        n = int(minutes * 60_000 / tick_ms)
        ts = pd.date_range(start, periods=n, freq=f"{tick_ms}ms")
        walk = np.cumsum(rng.normal(0, 0.4 * pip, n))
        mid = base + walk
        spike = int(n * 0.7)
        mid[spike : spike + 5] += 25 * pip  # one injected spike for the alerts to point at
        spread = np.abs(rng.normal(0.8, 0.15, n)) * pip + 0.2 * pip
        bid, ask = mid - spread / 2, mid + spread / 2
        q = pd.DataFrame(
            {
                "pair": pair,
                "ts": ts,
                "seq": np.arange(n),
                "bid": bid,
                "ask": ask,
                "mid": mid,
                "spread": ask - bid,
                "source": "sample",
            }
        )
        quotes.append(q)
        w = q.set_index("ts").resample("1min", label="left", closed="left")
        agg = pd.DataFrame(
            {
                "mid_avg": w["mid"].mean(),
                "bid_avg": w["bid"].mean(),
                "ask_avg": w["ask"].mean(),
                "open": w["mid"].first(),
                "high": w["mid"].max(),
                "low": w["mid"].min(),
                "close": w["mid"].last(),
                "spread_avg": w["spread"].mean(),
                "ticks": w["mid"].count(),
            }
        ).dropna()
        agg = agg.reset_index().rename(columns={"ts": "window_start"})
        agg["window_end"] = agg["window_start"] + timedelta(minutes=1)
        agg["pair"], agg["window_len"] = pair, "1m"
        trends.append(agg)
        for det, i, score in (("zscore", spike, 0.97), ("spread", spike + 2, 0.81)):
            alerts.append(
                {
                    "ts": ts[i].to_pydatetime(),
                    "pair": pair,
                    "detector": det,
                    "score": score,
                    "reason": f"mid {mid[i]:.6g} {det} anomaly (sample)",
                    "value": float(mid[i]),
                    "window_start": ts[i].to_pydatetime() - timedelta(minutes=1),
                    "window_end": ts[i].to_pydatetime(),
                }
            )
        hours = {hour_of_week(start + timedelta(hours=h)) for h in range(int(minutes / 60) + 2)}
        for h in sorted(hours):
            stats.append(
                {
                    "pair": pair,
                    "version": "2026-01-01",
                    "hour_of_week": h,
                    "metric": "mid",
                    "n": 1000,
                    "mean": float(np.mean(mid)),
                    "std": float(np.percentile(mid, 95) - np.percentile(mid, 5)) / 12,
                    "median": float(np.median(mid)),
                    "mad": float(np.std(mid) / 1.4826),
                }
            )
            stats.append(
                {
                    "pair": pair,
                    "version": "2026-01-01",
                    "hour_of_week": h,
                    "metric": "spread",
                    "n": 1000,
                    "mean": float(np.mean(spread)),
                    "std": float(np.std(spread)),
                    "median": float(np.median(spread)),
                    "mad": float(np.std(spread) / 1.4826),
                }
            )
        status.append(
            {
                "pair": pair,
                "last_ts": ts[-1].to_pydatetime(),
                "bid": float(bid[-1]),
                "ask": float(ask[-1]),
                "ticks_seen": n,
                "updated_at": ts[-1].to_pydatetime(),
            }
        )
    alerts_df = pd.DataFrame(alerts)
    return {
        "status": pd.DataFrame(status),
        "quotes": pd.concat(quotes, ignore_index=True),
        "trends": pd.concat(trends, ignore_index=True),
        "alerts": alerts_df,
        "incidents": incident_frame(asdict(i) for i in _incidents(alerts_df)),
        "stats": pd.DataFrame(stats),
    }


def _incidents(alerts: pd.DataFrame) -> list:
    """The incidents of the sample alerts (the same grouping as both engines)."""
    return group_alerts({**a, "ts": _epoch_ms(a["ts"])} for a in _records(alerts))


def _nan_to_none(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _records(df: pd.DataFrame) -> list[dict]:
    return [{k: _nan_to_none(v) for k, v in r.items()} for r in df.to_dict("records")]


def _tuples(df: pd.DataFrame, columns: list[str], **derived) -> list[tuple]:
    """Rows of `df` in `columns` order: a frame column, `derived[c](row)`, else None."""
    return [
        tuple(derived[c](r) if c in derived else r.get(c) for c in columns) for r in _records(df)
    ]


def _epoch_ms(t: datetime | None) -> int | None:
    return None if t is None else int(t.replace(tzinfo=UTC).timestamp() * 1000)


def seed_cassandra(
    session, keyspace: str, frames: dict[str, pd.DataFrame], k: float = 4.0
) -> dict[str, int]:
    """Write `frames` (as sample_frames returns them) into the keyspace's tables; returns row
    counts."""

    def day_of(col):
        return lambda r: r[col].date()

    alerts = [
        {
            **a,
            "ts": _epoch_ms(a["ts"]),
            "window_start": _epoch_ms(a["window_start"]),
            "window_end": _epoch_ms(a["window_end"]),
        }
        for a in _records(frames["alerts"])
    ]
    q = frames["quotes"]
    ts_ms = (pd.to_datetime(q["ts"]) - pd.Timestamp(0)) // pd.Timedelta(milliseconds=1)
    ticks = pa.table(
        {
            "pair": q["pair"],
            "ts_ms": ts_ms,
            "tick_id": q["seq"],
            "bid": q["bid"],
            "ask": q["ask"],
            "source": q["source"],
            **{c: pa.nulls(len(q), pa.float64()) for c in ("low", "high", "open")},
        }
    )
    trend_rows = _tuples(frames["trends"], store_trends.TRENDS_COLUMNS, day=day_of("window_end"))
    stats_rows = _tuples(frames["stats"], store_stats.STATS_TABLE_COLUMNS)
    status_rows = _tuples(frames["status"], store_pair_status.PAIR_STATUS_COLUMNS)
    store_ticks.write_ticks(session, keyspace, ticks)  # merged: seeding twice stores each once
    counts = {
        "quotes": len(q),
        "trends": store_trends.write_trend_rows(session, keyspace, trend_rows),
        "alerts": store_alerts.insert_alerts(session, alerts, keyspace),
        "incidents": store_incidents.insert_incidents(
            session, [asdict(i) for i in _incidents(frames["alerts"])], keyspace
        ),
        "stats": store_stats.write_stats_rows(session, keyspace, stats_rows),
        "pair_status": store_pair_status.write_pair_status_rows(session, keyspace, status_rows),
    }
    store_stats.write_version_row(session, keyspace, frames["stats"]["version"].max(), k)
    return counts
