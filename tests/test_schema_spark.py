"""The Spark schema parses the JSON wire form the producer writes (with and without optional
fields)."""

from datetime import UTC

import pytest

from fxwatch.schema import QUOTE_SPARK_DDL, BadLine, Quote, badline_spark_schema, spark_schema

pytestmark = pytest.mark.spark


def test_from_json_reads_the_wire_form(spark):
    from pyspark.sql import functions as F

    quotes = [
        Quote("EUR/USD", 1705327200123, 1.09034, 1.09038, "truefx", 1.08922, 1.09673, 1.09384),
        Quote("USD/JPY", 1705327200456, 157.123, 157.13, "synthetic"),
    ]
    df = spark.createDataFrame([(q.to_json(),) for q in quotes], "value STRING")
    rows = (
        df.select(F.from_json("value", spark_schema()).alias("q"))
        .select("q.*")
        .orderBy("ts")
        .collect()
    )
    back = [Quote(r.pair, r.ts, r.bid, r.ask, r.src, r.low, r.high, r.open) for r in rows]
    assert back == quotes
    assert all(r.v == 1 for r in rows)
    ddl = df.select(F.from_json("value", QUOTE_SPARK_DDL).alias("q")).select("q.*").collect()
    assert [r.bid for r in ddl] == [1.09034, 157.123]


def test_dlq_schema(spark):
    from pyspark.sql import functions as F

    bad = BadLine(
        "EUR/USD,x", "field_count: expected 4 fields, got 2", "csv", 1705327200000, "f.csv:3"
    )
    df = spark.createDataFrame([(bad.to_json(),)], "value STRING")
    (r,) = (
        df.select(F.from_json("value", badline_spark_schema()).alias("b")).select("b.*").collect()
    )
    assert BadLine(r.raw, r.reason, r.src, r.ts, r.origin) == bad


def test_hour_of_week_python_and_spark_agree(spark):
    """The stats bucket has one definition in Python (schema) and its Spark twin
    (stream.features)."""
    from datetime import datetime, timedelta

    from pyspark.sql import functions as F

    from fxwatch.schema import hour_of_week
    from fxwatch.stream.features import hour_of_week as spark_hour_of_week

    t0 = datetime(2024, 1, 13, 22, 30, tzinfo=UTC)  # a Saturday night: the week wraps
    times = [t0 + timedelta(minutes=37 * i) for i in range(400)]
    df = spark.createDataFrame([(int(t.timestamp() * 1000),) for t in times], "ms long")
    got = [r[0] for r in df.select(spark_hour_of_week(F.timestamp_millis("ms"))).collect()]
    assert got == [hour_of_week(t) for t in times]
    assert hour_of_week(datetime(2024, 1, 15, 0, 5)) == 0 and hour_of_week(t0) == 5 * 24 + 22
