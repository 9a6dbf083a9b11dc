# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: fxwatch
#     language: python
#     name: fxwatch
# ---

# %% [markdown]
# # 02 — Kafka topics and the producer
#
# Quotes travel through three topics (`fxwatch.bus.topics.topic_specs`):
#
# | topic | key | retention | holds (JSON) |
# |---|---|---|---|
# | `fx-quotes` | pair | 7 days | valid quotes: `{"v":1,"pair":…,"ts":…,"bid":…,"ask":…,"src":…}` |
# | `fx-quotes-dlq` | source | 30 days | bad lines: `{"v":1,"raw":…,"reason":…,"src":…,"ts":…}` |
# | `fx-alerts` | pair | 30 days | alerts written by the streaming job |
#
# Keying by pair puts all ticks of a pair in one partition, so a consumer sees them in order.
# The producer (`fxwatch.bus.producer`) is idempotent with `acks=all`, batches (`linger_ms`,
# `batch_size`), compresses, and checks that Kafka acknowledged every record before it reports.
#
# Needs the local broker: `fxwatch stack up`.

# %% tags=["parameters"]
bootstrap: str = "127.0.0.1:9092"  # Kafka brokers
# a topic_tag such as "demo" keeps a trial apart from the real topics (fx-quotes-demo, ...)
topic_tag: str = ""  # suffix of the topic names, after a '-' (empty: the real topics)
sample_files: list = ["bad_lines.csv", "synthetic_ticks.csv"]  # files to produce (in data/samples)
limit: int = 20000  # at most this many records
show: int = 5  # records to show from each topic

# %%
import json
import time

import pandas as pd
from kafka import KafkaConsumer, TopicPartition

from fxwatch.bus.producer import produce
from fxwatch.bus.topics import ensure_topics, topic_specs
from fxwatch.config import Settings
from fxwatch.sources.replay import limited, read_files

base = Settings.from_env().with_(kafka_bootstrap=bootstrap)
settings = base.isolated(topic_tag) if topic_tag else base
files = [settings.samples_dir / f for f in sample_files]
pd.DataFrame(
    [
        {"topic": s.name, "partitions": s.partitions, "key": s.key, **s.configs}
        for s in topic_specs(settings)
    ]
)

# %% [markdown]
# ## Ensure the topics (idempotent: run it twice, the second time they all exist)

# %%
ensure_topics(settings)

# %% [markdown]
# ## Produce the samples
#
# Good quotes go to the quotes topic keyed by pair; bad lines go to the dead-letter topic with
# their reason. Nothing is dropped silently: the summary counts both, and a delivery failure
# raises an error.

# %%
summary = produce(limited(read_files(files), limit), settings)
print(summary)


# %% [markdown]
# ## Read a few records back


# %%
def tail(topic: str, n: int) -> pd.DataFrame:
    """The last `n` records of each partition of `topic`."""
    consumer = KafkaConsumer(
        **settings.kafka_client_config(), enable_auto_commit=False, group_id=None
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(parts)
        ends = consumer.end_offsets(parts)
        for tp in parts:
            consumer.seek(tp, max(0, ends[tp] - n))
        rows, deadline = [], time.monotonic() + 10  # poll until every partition is read to its end
        while any(consumer.position(tp) < ends[tp] for tp in parts) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                rows += [
                    {
                        "partition": r.partition,
                        "offset": r.offset,
                        "key": r.key.decode(),
                        **json.loads(r.value),
                    }
                    for r in batch
                ]
        return pd.DataFrame(rows)
    finally:
        consumer.close()


tail(settings.quotes_topic, show)

# %% [markdown]
# ## The dead-letter queue

# %%
tail(settings.dlq_topic, show)
