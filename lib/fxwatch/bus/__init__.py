"""Kafka plumbing: topic specs and creation, the keyed quote producer with its dead-letter queue."""

from fxwatch.bus.producer import ProduceSummary, QuoteProducer, check_item, produce
from fxwatch.bus.topics import TopicSpec, broker_unreachable_message, ensure_topics, topic_specs

__all__ = [
    "ProduceSummary",
    "QuoteProducer",
    "check_item",
    "produce",
    "TopicSpec",
    "broker_unreachable_message",
    "ensure_topics",
    "topic_specs",
]
