"""Provider proxies: OpenAI- and Anthropic-compatible routes, the upstream client, SSE relay."""
