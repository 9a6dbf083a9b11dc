"""Local Kafka and Cassandra as plain JVM processes (no Docker), managed by `fxwatch stack`."""

from fxwatch.stack.config import StackConfig
from fxwatch.stack.manager import (
    ServiceStatus,
    stack_down,
    stack_reset,
    stack_status,
    stack_up,
)

__all__ = ["ServiceStatus", "StackConfig", "stack_down", "stack_reset", "stack_status", "stack_up"]
