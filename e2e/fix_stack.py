"""Fixtures for the stack under test and plain database connections to it.

The stack is the one the harness selects (``E2E_STACK``, else a running `supabase start`, else the
embedded cluster). It is not reset here: `just e2e` resets before pytest starts.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import harness
from harness import StackError


def pytest_report_header(config: pytest.Config) -> list[str]:
    try:
        stack = harness.current()
        with psycopg.connect(stack.db_url, connect_timeout=3) as conn:
            version = conn.execute("show server_version").fetchone()[0]
    except (StackError, psycopg.OperationalError) as exc:
        return [f"stack: unavailable ({exc})"]
    api = stack.api_url or "none (SQL replay of PostgREST only)"
    return [f"stack: {stack.kind}, PostgreSQL {version}, HTTP API: {api}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that build or restart an embedded cluster skip on a `supabase start` stack, where the
    PostgreSQL 15 server (and the cluster they would drive) is Docker's, not this machine's."""
    try:
        kind = harness.stack.selected_kind()
    except StackError:
        return
    if kind == "embedded":
        return
    skip = pytest.mark.skip(
        reason=f"needs an embedded cluster of its own; the {kind} stack's database runs in Docker"
    )
    for item in items:
        if item.get_closest_marker("embedded_cluster"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack() -> harness.Stack:
    """The running stack; the whole run stops at once when its database cannot be reached."""
    try:
        current = harness.ensure_running()
        with psycopg.connect(current.db_url, connect_timeout=5) as conn:
            conn.execute("select 1")
    except (StackError, psycopg.OperationalError) as exc:
        pytest.exit(f"the stack is not usable: {exc}. Run `just up` first.", returncode=3)
    return current


@pytest.fixture(scope="session")
def service_conn(stack: harness.Stack) -> Iterator[psycopg.Connection]:
    """One autocommit connection as `postgres` (bypasses RLS) for setup and inspection."""
    with psycopg.connect(stack.db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def superuser_conn(stack: harness.Stack) -> Iterator[psycopg.Connection]:
    """An autocommit connection as the superuser, for what even `postgres` may not do."""
    with psycopg.connect(stack.superuser_db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def conn(stack: harness.Stack) -> Iterator[psycopg.Connection]:
    """A fresh connection as `postgres` for one test, rolled back and closed after it."""
    with psycopg.connect(stack.db_url) as conn:
        yield conn
        conn.rollback()
