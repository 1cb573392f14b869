"""Quality scorers run on 100 % of traffic, locally: toxicity, hallucination (groundedness),
prompt injection, PII."""
