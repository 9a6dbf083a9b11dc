"""The SparkSession factory: local or standalone master, Kafka connector jars from the local folder."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError

__all__ = ["get_spark", "kafka_connector_jars", "stop_spark", "ALERTS_POOL", "scheduler_pool"]

# Spark's FAIR scheduler with a high-priority pool for the alert path: when a task slot frees, a
# waiting task of the tick detectors goes before the minute-window queries' tasks (with FIFO, one
# detector batch waited behind whole trends batches: seconds of latency at 200 ticks/s).
ALERTS_POOL = "alerts"
_FAIR_POOLS = f"""<?xml version="1.0"?>
<allocations>
  <pool name="{ALERTS_POOL}"><schedulingMode>FIFO</schedulingMode><weight>8</weight><minShare>2</minShare></pool>
  <pool name="default"><schedulingMode>FAIR</schedulingMode><weight>1</weight><minShare>0</minShare></pool>
</allocations>
"""

_VERSION_SUFFIX = re.compile(r"-\d[\w.\-]*\.jar$")


def _artifact(jar: Path) -> str:
    """`kafka-clients-3.9.2.jar` -> `kafka-clients`."""
    return _VERSION_SUFFIX.sub("", jar.name)


def kafka_connector_jars(settings: Settings) -> list[str]:
    """Local paths of spark-sql-kafka and the dependencies that pyspark's own jars lack.

    Resolved by `make setup` (docker/pom.xml); nothing is downloaded at run time.
    """
    import pyspark

    folder = settings.jars_dir / "spark-kafka"
    jars = sorted(folder.glob("*.jar")) if folder.is_dir() else []
    if not any(j.name.startswith("spark-sql-kafka-0-10_2.13-") for j in jars):
        raise FxwatchError(f"Spark's Kafka connector is not resolved in {folder}: run `make setup` first")
    wanted = f"spark-sql-kafka-0-10_2.13-{pyspark.__version__}.jar"
    if not (folder / wanted).exists():
        raise FxwatchError(
            f"{folder} holds a Kafka connector for another Spark version than pyspark {pyspark.__version__}: "
            "run `make setup` again"
        )
    bundled = {_artifact(j) for j in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    return [str(j) for j in jars if _artifact(j) not in bundled]


def get_spark(settings: Settings | None = None, app_name: str = "fxwatch", **conf: str):
    """Return the process's SparkSession, creating it with fxwatch's defaults on first use.

    Extra keyword arguments are Spark settings with dots written as underscores only where
    Python needs it, e.g. ``get_spark(cfg, **{"spark.sql.shuffle.partitions": "2"})``.
    """
    from pyspark.sql import SparkSession

    settings = settings or Settings.from_env()
    # Python workers must run the interpreter that runs the driver (the project's venv).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    local_dir = settings.stack_dir / "spark-tmp"
    local_dir.mkdir(parents=True, exist_ok=True)
    pools = local_dir / "fairscheduler.xml"
    if not pools.exists() or pools.read_text() != _FAIR_POOLS:
        pools.write_text(_FAIR_POOLS)
    builder = (
        SparkSession.builder.appName(app_name)
        .master(settings.spark_master)
        .config("spark.jars", ",".join(kafka_connector_jars(settings)))
        .config("spark.driver.memory", settings.spark_driver_memory)
        # a stream stopped mid-batch can overflow the default stack of the stream thread
        .config("spark.driver.extraJavaOptions", "-Xss16m -Dio.netty.tryReflectionSetAccessible=true")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "true" if settings.spark_ui else "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.local.dir", str(local_dir))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.streaming.stateStore.providerClass",
                "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider")
        .config("spark.sql.streaming.forceDeleteTempCheckpointLocation", "true")
        .config("spark.python.worker.reuse", "true")
        .config("spark.sql.adaptive.enabled", "false")  # tiny batches: AQE only adds planning time
        .config("spark.scheduler.mode", "FAIR")
        .config("spark.scheduler.allocation.file", str(pools))
        .config("spark.log.level", "WARN")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM failed to start: most often Java is missing or too old
        if "JAVA_HOME" in str(exc) or "Java gateway" in str(exc):
            raise FxwatchError(
                "Spark could not start its JVM: install OpenJDK 17 and set JAVA_HOME"
            ) from None
        raise
    spark.sparkContext.setLogLevel("WARN")
    return spark


def stop_spark() -> None:
    """Stop the active session, if any."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


class scheduler_pool:
    """`with scheduler_pool(spark, "alerts"): query = ....start()` — jobs started in the block (and by
    a streaming query started in it, whose thread inherits the property) run in that FAIR pool."""

    def __init__(self, spark, pool: str | None):
        self.sc, self.pool = spark.sparkContext, pool

    def __enter__(self):
        self.before = self.sc.getLocalProperty("spark.scheduler.pool")
        self.sc.setLocalProperty("spark.scheduler.pool", self.pool)
        return self

    def __exit__(self, *exc) -> None:
        self.sc.setLocalProperty("spark.scheduler.pool", self.before)
