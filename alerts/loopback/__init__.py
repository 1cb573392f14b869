"""Loopback receivers that speak the Slack Web API and PagerDuty Events API v2 on 127.0.0.1.

They ship with the product so that ``lightkeeper alerts test`` and users' own integration tests
can exercise delivery without a real Slack workspace or PagerDuty service."""
