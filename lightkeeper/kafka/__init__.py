"""Kafka plumbing: the development broker, client settings and topic administration.

- :mod:`lightkeeper.kafka.devbroker`    ``DevBroker``: a single-node Kafka 4.x (KRaft) on loopback.
- :mod:`lightkeeper.kafka.distribution` Kafka jars resolved from Maven Central with ``mvn``, cached.
- :mod:`lightkeeper.kafka.client`       aiokafka / faust keyword arguments from ``KafkaSettings``.
- :mod:`lightkeeper.kafka.topics`       ``TOPICS`` and ``ensure_topics(settings)``.
"""
