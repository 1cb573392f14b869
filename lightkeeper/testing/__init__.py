"""Test doubles and pytest fixtures that ship with Lightkeeper: a real single-node Kafka broker,
loopback servers speaking the Slack Web API and PagerDuty Events v2, a fake LLM provider.
Usable by our test suite and by users testing their own integration."""
