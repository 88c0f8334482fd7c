"""What the platform layer promises that only a session of its own can show: authenticator logs
in with Supabase's timeouts, safeupdate refuses unqualified writes there wherever it is installed,
and DDL tells PostgREST to reload its schema cache (supabase/tests/database/00-platform.sql checks
the rest from the catalog)."""

from __future__ import annotations

import psycopg
import pytest

import harness
from fix_reliability import authenticator_dsn


@pytest.fixture
def authenticator(stack: harness.Stack) -> psycopg.Connection:
    with psycopg.connect(authenticator_dsn(stack), autocommit=True) as conn:
        yield conn


def test_authenticator_sessions_start_with_supabases_timeouts(
    authenticator: psycopg.Connection,
) -> None:
    """PostgREST's login role gets statement_timeout and lock_timeout of 8 s, as on the image."""
    timeouts = authenticator.execute(
        "select current_setting('statement_timeout'), current_setting('lock_timeout')"
    ).fetchone()
    assert timeouts == ("8s", "8s")


def test_safeupdate_refuses_unqualified_writes_in_authenticator_sessions_where_installed(
    stack: harness.Stack, authenticator: psycopg.Connection, superuser_conn: psycopg.Connection
) -> None:
    """Where the library is installed (always on Supabase), authenticator's sessions load it;
    where it is not, only the embedded stack may lack it, and the parser guard stands in."""
    installed = superuser_conn.execute(
        "select exists (select from pg_ls_dir((select setting from pg_config "
        "where name = 'PKGLIBDIR')) f where f = 'safeupdate.so')"
    ).fetchone()[0]
    authenticator.execute("create temporary table probe (id int)")
    try:
        authenticator.execute("delete from pg_temp.probe")
        refused = None
    except psycopg.Error as exc:
        refused = (exc.sqlstate, exc.diag.message_primary)
    if installed or stack.kind != "embedded":
        assert refused == ("21000", "DELETE requires a WHERE clause")
    else:
        assert refused is None, "safeupdate refused a write on a stack where it is not installed"
    authenticator.execute("delete from pg_temp.probe where true")


def test_ddl_notifies_postgrest_to_reload_its_schema_cache(
    stack: harness.Stack, service_conn: psycopg.Connection
) -> None:
    """A migration's DDL sends `NOTIFY pgrst, 'reload schema'`; a temporary table does not."""
    with psycopg.connect(stack.db_url, autocommit=True) as listener:
        listener.execute("listen pgrst")
        service_conn.execute("create temporary table parity_probe (id int)")
        service_conn.execute("drop table pg_temp.parity_probe")
        # notifications arrive in commit order: anything the temporary table sent comes first
        service_conn.execute("notify pgrst, 'probe: permanent objects follow'")
        service_conn.execute("create table public.parity_probe (id int)")
        service_conn.execute("drop table public.parity_probe")
        payloads = [n.payload for n in listener.notifies(timeout=5.0, stop_after=3)]
    assert payloads == ["probe: permanent objects follow", "reload schema", "reload schema"]
