"""The SparkSession factory: local or standalone master, Kafka connector jars, logging to a file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

from fxwatch.config import Settings
from fxwatch.errors import FxwatchError

__all__ = [
    "ALERTS_POOL",
    "get_spark",
    "kafka_connector_jars",
    "scheduler_pool",
    "spark_log_file",
    "stop_spark",
]

# Spark's FAIR scheduler with a high-priority pool for the alert path: when a task slot frees, a
# waiting task of the tick detectors goes before the minute-window queries' tasks (with FIFO, one
# detector batch waited behind whole trends batches: seconds of latency at 200 ticks/s).
ALERTS_POOL = "alerts"
_FAIR_POOLS = f"""<?xml version="1.0"?>
<allocations>
  <pool name="{ALERTS_POOL}">
    <schedulingMode>FIFO</schedulingMode><weight>8</weight><minShare>2</minShare>
  </pool>
  <pool name="default">
    <schedulingMode>FAIR</schedulingMode><weight>1</weight><minShare>0</minShare>
  </pool>
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
        raise FxwatchError(
            f"Spark's Kafka connector is not resolved in {folder}: run `make setup` first"
        )
    wanted = f"spark-sql-kafka-0-10_2.13-{pyspark.__version__}.jar"
    if not (folder / wanted).exists():
        raise FxwatchError(
            f"{folder} holds a Kafka connector for another Spark version than pyspark "
            f"{pyspark.__version__}: run `make setup` again"
        )
    bundled = {_artifact(j) for j in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    return [str(j) for j in jars if _artifact(j) not in bundled]


# docker/conf/<this>: Spark's own log to a file, only its errors (one line each) to the console
_LOG4J2_CONF = "spark-log4j2.properties"
_JVM_OPTIONS = "-Xss16m -Dio.netty.tryReflectionSetAccessible=true"


def spark_log_file(settings: Settings, app_name: str) -> Path:
    """Where Spark's own log of an application goes: `.stack/logs/spark-<app>.log`."""
    return settings.logs_dir / f"spark-{re.sub(r'[^A-Za-z0-9_.-]+', '_', app_name)}.log"


def _logging_options(settings: Settings, app_name: str) -> tuple[str, str] | None:
    """(driver, executor) JVM system properties that send Spark's log4j2 output to the app's log
    file; None when the shipped configuration is missing (an install without docker/conf)."""
    conf = settings.root / "docker" / "conf" / _LOG4J2_CONF
    if not conf.is_file():
        return None
    log = spark_log_file(settings, app_name)
    log.parent.mkdir(parents=True, exist_ok=True)
    executors = log.with_name(log.stem + "-executors.log")
    opts = f"-Dlog4j2.configurationFile={conf.resolve().as_uri()}"
    return f'{opts} -Dfxwatch.spark.log="{log}"', f'{opts} -Dfxwatch.spark.log="{executors}"'


def get_spark(settings: Settings | None = None, app_name: str = "fxwatch", **conf: str):
    """Return the process's SparkSession, creating it with fxwatch's defaults on first use.

    Extra keyword arguments are Spark settings with dots written as underscores only where
    Python needs it, e.g. ``get_spark(cfg, **{"spark.sql.shuffle.partitions": "2"})``.
    Spark's own log goes to `spark_log_file(settings, app_name)`; the console gets its errors.
    """
    # lazy: pyspark is imported only when a session is really needed (keeps `fxwatch` fast)
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
    log_opts = _logging_options(settings, app_name)
    driver_opts, executor_opts = log_opts or ("", "")
    options = {
        "spark.app.name": app_name,
        "spark.master": settings.spark_master,
        "spark.jars": ",".join(kafka_connector_jars(settings)),
        "spark.driver.memory": settings.spark_driver_memory,
        # a stream stopped mid-batch can overflow the default stack of the stream thread
        "spark.driver.extraJavaOptions": f"{_JVM_OPTIONS} {driver_opts}".strip(),
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.default.parallelism": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "true" if settings.spark_ui else "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.local.dir": str(local_dir),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.streaming.stateStore.providerClass": (
            "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
        ),
        "spark.sql.streaming.forceDeleteTempCheckpointLocation": "true",
        "spark.python.worker.reuse": "true",
        "spark.executorEnv.PYTHONWARNINGS": _worker_warnings(),
        "spark.sql.adaptive.enabled": "false",  # tiny batches: AQE only adds planning time
        "spark.scheduler.mode": "FAIR",
        "spark.scheduler.allocation.file": str(pools),
    }
    if log_opts is None:  # Spark's default log4j2 profile: at least keep INFO off the console
        options["spark.log.level"] = "WARN"
    else:  # executors of a standalone cluster log to a file of their own
        options["spark.executor.extraJavaOptions"] = executor_opts
    options.update(conf)
    builder = SparkSession.builder
    for key, value in options.items():
        builder = builder.config(key, value)
    try:
        _start_jvm(options)
        spark = builder.getOrCreate()
    except Exception as exc:  # the JVM failed to start: most often Java is missing or too old
        if "JAVA_HOME" in str(exc) or "Java gateway" in str(exc):
            raise FxwatchError(
                "Spark could not start its JVM: install OpenJDK 17 and set JAVA_HOME"
            ) from None
        raise
    return spark


# Warnings Python workers print about pyspark's own code, which no fxwatch user can act on
# (pandas 2.x deprecation inside pyspark's Arrow serializer for applyInPandasWithState batches).
_WORKER_WARNINGS = (
    "ignore:The behavior of DataFrame concatenation with empty or all-NA entries:FutureWarning",
)


def _worker_warnings() -> str:
    """PYTHONWARNINGS of the Python workers: ours, then the user's (later entries win)."""
    return ",".join([*_WORKER_WARNINGS, *filter(None, [os.environ.get("PYTHONWARNINGS")])])


# What the JVM itself prints on stderr at start, whatever the log configuration says (Spark's
# launcher always adds the incubator module jdk.incubator.vector; Java has no switch for this).
_JVM_NOISE = re.compile(rb"^WARNING: Using incubator modules\b")


def _forward_stderr(pipe) -> None:
    """Copy the JVM's stderr (and its Python workers') to this process's fd 2, minus the noise."""
    for line in iter(pipe.readline, b""):
        if _JVM_NOISE.match(line):
            continue
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(2, view) :]
        except OSError:  # stderr closed: keep draining the pipe so that the JVM never blocks
            pass


def _start_jvm(options: dict[str, str]) -> None:
    """Start Spark's JVM gateway with its stderr piped through `_forward_stderr` (pyspark's
    `popen_kwargs` hook of `launch_gateway`); nothing to do when this process has one already."""
    # lazy: see get_spark
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:
        return
    conf = SparkConf(loadDefaults=False).setAll(list(options.items()))
    gateway = launch_gateway(conf, popen_kwargs={"stderr": subprocess.PIPE})
    if gateway.proc is not None and gateway.proc.stderr is not None:
        threading.Thread(
            target=_forward_stderr,
            args=(gateway.proc.stderr,),
            name="spark-jvm-stderr",
            daemon=True,
        ).start()
    # what SparkContext does with the gateway it launches itself: builder.getOrCreate reuses it
    SparkContext._ensure_initialized(gateway=gateway)


def stop_spark() -> None:
    """Stop the active session, if any."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()


class scheduler_pool:
    """`with scheduler_pool(spark, "alerts"): query = ....start()` — jobs started in the block (and
    by a streaming query started in it, whose thread inherits the property) run in that pool."""

    def __init__(self, spark, pool: str | None):
        self.sc, self.pool = spark.sparkContext, pool

    def __enter__(self):
        self.before = self.sc.getLocalProperty("spark.scheduler.pool")
        self.sc.setLocalProperty("spark.scheduler.pool", self.pool)
        return self

    def __exit__(self, *exc) -> None:
        self.sc.setLocalProperty("spark.scheduler.pool", self.before)
