"""The incidents query: the alerts of one pair (or triangle) close in time, grouped and explained.

    Kafka fx-alerts ─ readStream ─> from_json (the alert record of sinks.write_alerts)
        ─ withWatermark(event_ts, 2 min)
        ─ groupBy(key = pair, session_window(event_ts, 60 s)).agg(collect_set(alert))
        ─ append mode: a session comes out once, when the watermark passes its end (final)
        ─ foreachBatch: each closed session (few: collected) -> fxwatch.detect.incidents.incident_of
          ─> Cassandra fxwatch.incidents + Kafka fx-incidents

The grouping rule is `fxwatch.detect.incidents` (the offline engine's `group_alerts`): the key is
the alert's pair (a pair, or a triangle no leg of which could be blamed) and a session grows while
its alerts come less than INCIDENT_GAP_MS apart. An incident's id is a hash of key and start, so a
replayed batch writes the same rows and records again. Alerts reach the topic only when the alert
queries publish them (`PipelineConfig.publish_alerts`). An incident is written once no alert of
its key came for 60 s and the alerts' event time has moved `incidents_watermark` past that: a
replay that stops leaves its last incidents open until later alerts arrive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from pyspark.sql import functions as F

from fxwatch.config import Settings
from fxwatch.detect.incidents import INCIDENT_GAP_MS, Incident, incident_of
from fxwatch.schema import iso_ms
from fxwatch.store import incidents as incidents_table
from fxwatch.stream.read import read_kafka
from fxwatch.stream.sinks import BatchSink, publish_json, start_query

__all__ = [
    "ALERT_RECORD_SCHEMA",
    "IncidentsSink",
    "alert_sessions",
    "incident_doc",
    "parse_alerts",
    "start_incidents",
    "write_incidents",
]

# the fields of an alert record (sinks.write_alerts) that make an incident
ALERT_RECORD_SCHEMA = (
    "id string, pair string, ts long, detector string, score double, reason string"
)
# Spark joins two alerts exactly one gap apart into one session; the incident rule wants them
# strictly closer (times are whole milliseconds): one millisecond less gives the same rule.
_GAP = f"{INCIDENT_GAP_MS - 1} milliseconds"


def start_incidents(spark, settings: Settings, config):
    """Start the incidents query; returns (StreamingQuery, IncidentsSink)."""
    # read the alerts topic + parse the alert records
    raw = read_kafka(
        spark,
        settings,
        settings.alerts_topic,
        config.starting_offsets,
        config.max_offsets_per_trigger,
    )
    alerts = parse_alerts(raw)
    # watermark + one session window per incident key
    sessions = alert_sessions(alerts, config.incidents_watermark)
    # sink: append mode (closed sessions only), explained, to Cassandra and the incidents topic
    sink = IncidentsSink(settings, config.publish_alerts)
    return start_query(sessions, sink, "incidents", "append", settings, config), sink


def parse_alerts(raw):
    """Kafka rows of the alerts topic -> alert rows (ALERT_RECORD_SCHEMA) with event time
    `event_ts`; records that are not alerts are skipped."""
    a = F.from_json(F.col("value").cast("string"), ALERT_RECORD_SCHEMA)
    return (
        raw.select(a.alias("a"))
        .select("a.*")
        .where("id IS NOT NULL AND pair IS NOT NULL AND ts IS NOT NULL AND detector IS NOT NULL")
        .withColumn("event_ts", F.timestamp_millis("ts"))
    )


def alert_sessions(alerts, watermark: str = "2 minutes"):
    """Alert rows -> one row per session: key (the alert's pair, `incident_key`), session window,
    and the set of its alerts (a replayed alert counts once)."""
    alert = F.struct("id", "pair", "ts", "detector", "score", "reason")
    return (
        alerts.withWatermark("event_ts", watermark)
        .groupBy(F.col("pair").alias("key"), F.session_window("event_ts", _GAP).alias("session"))
        .agg(F.collect_set(alert).alias("alerts"))
    )


class IncidentsSink(BatchSink):
    """foreachBatch of the incidents query: closed sessions -> incidents -> Cassandra + topic."""

    def __init__(self, settings: Settings, publish: bool = True):
        super().__init__(settings)
        self.publish = publish

    def write(self, sessions, batch_id: int) -> int:
        incidents = [
            incident_of(r["key"], [a.asDict() for a in r["alerts"]]) for r in sessions.collect()
        ]
        return write_incidents(incidents, self.settings, self.publish)


def incident_doc(incident: Incident) -> dict:
    """An incident as the JSON record of the incidents topic (v1; times epoch ms and ISO-8601)."""
    return {
        "v": 1,
        "id": incident.incident_id,
        "key": incident.key,
        "start_ms": incident.start_ms,
        "end_ms": incident.end_ms,
        "start": iso_ms(incident.start_ms),
        "end": iso_ms(incident.end_ms),
        "pairs": list(incident.pairs),
        "kinds": list(incident.kinds),
        "severity": incident.severity,
        "n_alerts": incident.n_alerts,
        "max_score": incident.max_score,
        "root_cause": incident.root_cause,
        "alert_ids": list(incident.alert_ids),
    }


def write_incidents(incidents: Iterable[Incident], settings: Settings, publish: bool = True) -> int:
    """Incidents -> fxwatch.incidents, and the incidents topic (key: the incident key) when
    `publish`; returns how many."""
    incidents = list(incidents)
    if not incidents:
        return 0
    incidents_table.insert_incidents(settings, [asdict(i) for i in incidents])  # retries
    if publish:
        publish_json(
            settings, settings.incidents_topic, [(i.key, incident_doc(i)) for i in incidents]
        )
    return len(incidents)
