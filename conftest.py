"""Shared pytest configuration: the fixture families live in their own modules, under e2e/.

At the project's root so that pytest always loads it: an option such as `--soak-seconds 600`
must be known before pytest has read its arguments far enough to find e2e/.
"""

pytest_plugins = (
    "fix_stack",
    "fix_personas",
    "fix_transports",
    "fix_stats",
    "fix_reliability",
    "fix_refresh",
)
