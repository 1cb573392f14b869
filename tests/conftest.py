"""Shared fixtures. The fixture modules live in ``tests/_support`` (pytest plugins, the chaos
harness) and are registered here; the loopback Slack/PagerDuty receivers and the simulated
provider are runtime modules of the product (``lightkeeper.alerts.loopback``,
``lightkeeper.demo.fake_provider``)."""

pytest_plugins = [
    "_support.kafka_fixtures",
    "_support.store_fixtures",
    "_support.agent_fixtures",
    "_support.alert_fixtures",
    "_support.demo_fixtures",
]
