"""A local Spark standalone cluster (master + worker from pyspark's spark-class) for
scale-out runs."""

from fxwatch.cluster.manager import (
    ClusterConfig,
    cluster_down,
    cluster_status,
    cluster_up,
    master_state,
    spark_home,
)

__all__ = [
    "ClusterConfig",
    "cluster_down",
    "cluster_status",
    "cluster_up",
    "master_state",
    "spark_home",
]
