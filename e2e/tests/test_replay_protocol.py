"""What the SQL replay reads from the database as PostgREST v16.2 reads it: the impersonated roles'
settings, a function's hoisted settings and isolation level, and the row limit of a call."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import harness
from transport import Reference, SqlReplayTransport


@pytest.fixture
def replay(stack: harness.Stack) -> Iterator[SqlReplayTransport]:
    """A replay of its own, so that it reads role settings afresh, as a starting PostgREST does."""
    transport = SqlReplayTransport(stack.db_url, stack.jwt_secret, session_key=stack.session_key)
    yield transport
    transport.close()


@pytest.fixture
def role_settings(superuser_conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """Settings of `authenticated` for one test, put back afterwards."""
    before = superuser_conn.execute(
        "select rolconfig from pg_roles where rolname = 'authenticated'"
    ).fetchone()[0]
    yield superuser_conn
    for name in ("application_name", "default_transaction_isolation", "log_min_duration_statement"):
        superuser_conn.execute(f"alter role authenticated reset {name}")
    superuser_conn.execute("alter role authenticated in database postgres reset work_mem")
    after = superuser_conn.execute(
        "select rolconfig from pg_roles where rolname = 'authenticated'"
    ).fetchone()[0]
    assert after == before


def test_role_settings_are_read_from_rolconfig_as_postgrest_reads_them(
    replay: SqlReplayTransport, role_settings: psycopg.Connection, reference: Reference
) -> None:
    """A role's user-settable settings are kept as written; one only a superuser may set, and one
    set `in database`, are not; default_transaction_isolation becomes the isolation level."""
    role_settings.execute("alter role authenticated set application_name = 'Parity Probe'")
    role_settings.execute("alter role authenticated set log_min_duration_statement = 1000")
    role_settings.execute("alter role authenticated in database postgres set work_mem = '7MB'")
    role_settings.execute(
        "alter role authenticated set default_transaction_isolation = 'REPEATABLE READ'"
    )
    client = replay.open_client(reference["mentor_a"])
    try:
        read = client.role_settings()
        assert client.select("activity_types", "id").ok
    finally:
        client.close()
    settings = dict(read.settings["authenticated"])
    assert settings["application_name"] == "Parity Probe"
    assert settings["statement_timeout"] == "8s"
    assert "log_min_duration_statement" not in settings
    assert "work_mem" not in settings
    assert "default_transaction_isolation" not in settings
    assert read.isolation["authenticated"] == "REPEATABLE READ"
    assert dict(read.settings["anon"])["statement_timeout"] == "3s"


@pytest.fixture
def probe_function(service_conn: psycopg.Connection) -> Iterator[str]:
    """A function that sets a hoisted and an unhoisted setting and a transaction isolation level,
    and answers with the isolation level of the transaction that calls it."""
    service_conn.execute(
        """
        create function public.replay_protocol_probe() returns text
        language sql stable
        set default_transaction_isolation = 'serializable'
        set statement_timeout = '4321ms'
        set work_mem = '7MB'
        as $$ select current_setting('transaction_isolation') $$
        """
    )
    service_conn.execute(
        "grant execute on function public.replay_protocol_probe() to authenticated"
    )
    yield "replay_protocol_probe"
    service_conn.execute("drop function public.replay_protocol_probe()")


def test_a_calls_hoisted_settings_and_isolation_level_apply_to_its_transaction(
    replay: SqlReplayTransport, probe_function: str, reference: Reference
) -> None:
    """statement_timeout and default_transaction_isolation of a function are set for the call's
    transaction, work_mem is not; the call runs at the function's isolation level."""
    client = replay.open_client(reference["mentor_a"])
    try:
        routine = client._routine(probe_function)
        result = client.rpc(probe_function)
    finally:
        client.close()
    assert routine is not None
    assert dict(routine.settings) == {
        "default_transaction_isolation": "serializable",
        "statement_timeout": "4321ms",
    }
    assert routine.isolation == "serializable"
    assert result.expect_ok() == ["serializable"]


def test_a_calls_result_is_limited_to_max_rows(stack: harness.Stack, reference: Reference) -> None:
    """db-max-rows limits what a function returns, as it limits a read."""
    params = {"p_from": "2000-01-01", "p_to": "2100-01-01"}
    counts = {}
    for max_rows in (None, 2):
        transport = SqlReplayTransport(
            stack.db_url, stack.jwt_secret, session_key=stack.session_key, max_rows=max_rows
        )
        try:
            counts[max_rows] = len(
                transport.client(reference["coordinator_five"])
                .rpc("bufdir_export", params)
                .expect_ok()
            )
        finally:
            transport.close()
    assert counts[None] > 2
    assert counts[2] == 2
