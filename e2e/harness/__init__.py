"""The test harness: which stack to use, and an embedded Supabase-compatible one without Docker."""

from .errors import StackError
from .stack import Stack, current, ensure_running

__all__ = ["Stack", "StackError", "current", "ensure_running"]
