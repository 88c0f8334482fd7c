"""Shared pytest configuration: the fixture families live in their own modules."""

pytest_plugins = (
    "fix_stack",
    "fix_personas",
    "fix_transports",
    "fix_stats",
    "fix_reliability",
    "fix_refresh",
)
