"""supabase/schema.sql, the current schema of public, private and stats, is rendered from the
migrated database (e2e/harness/schema.py): it must be what the migrations make, so that a reader
finds every object's current definition there and not in whichever migration last touched it."""

from __future__ import annotations

import difflib

import pytest

import harness
from harness import schema

# pg_dump's plain output, cut down to one entry of each kind the normaliser treats differently.
DUMPED = """\
--
-- PostgreSQL database dump
--

\\restrict AbCdEf0123456789

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
SET row_security = off;

--
-- Name: stats; Type: SCHEMA; Schema: -; Owner: postgres
--

CREATE SCHEMA stats;


ALTER SCHEMA stats OWNER TO postgres;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: chapters; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.chapters (
    id uuid NOT NULL
);


ALTER TABLE public.chapters OWNER TO postgres;

--
-- Name: TABLE chapters; Type: ACL; Schema: public; Owner: postgres
--

GRANT SELECT ON TABLE public.chapters TO authenticated;


--
-- Name: DEFAULT PRIVILEGES FOR TABLES; Type: DEFAULT ACL; Schema: public; Owner: postgres
--

ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES  TO anon;


--
-- PostgreSQL database dump complete
--

\\unrestrict AbCdEf0123456789

"""

NORMALISED = """\
-- Name: stats; Type: SCHEMA; Schema: -; Owner: postgres
CREATE SCHEMA stats;

ALTER SCHEMA stats OWNER TO postgres;

-- Name: chapters; Type: TABLE; Schema: public; Owner: postgres
CREATE TABLE public.chapters (
    id uuid NOT NULL
);

ALTER TABLE public.chapters OWNER TO postgres;

-- Name: TABLE chapters; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT ON TABLE public.chapters TO authenticated;
"""


def test_normalising_keeps_definitions_owners_and_grants_and_drops_what_varies() -> None:
    """Versions, SET lines, the per-run \\restrict key and the platform's default privileges go;
    each object keeps its "-- Name:" line, its definition, its owner and its grants."""
    assert schema.normalise(DUMPED) == schema.HEADER + "\n" + NORMALISED


def test_the_committed_schema_is_what_the_migrations_make(stack: harness.Stack) -> None:
    """Rendered from the running stack's migrated database, the schema equals the committed
    supabase/schema.sql; a migration that changes the schema changes that file with it."""
    if stack.kind != "embedded":
        pytest.skip(
            "supabase/schema.sql is the embedded stack's rendering: a `supabase start` stack's "
            "platform (its roles' grants, the image's pg_dump) need not render the same text, and "
            "the release gate's Ubuntu has no PostgreSQL 15 pg_dump; .ci/run checks it"
        )
    rendered = schema.render(stack.db_url)
    committed = schema.SCHEMA_FILE.read_text()
    if rendered != committed:
        diff = difflib.unified_diff(
            committed.splitlines(),
            rendered.splitlines(),
            "supabase/schema.sql (committed)",
            "rendered from the database",
            lineterm="",
        )
        shown = "\n".join(list(diff)[:80])
        pytest.fail(
            f"supabase/schema.sql is stale: run `{schema.RECIPE}` and commit it.\n{shown}",
            pytrace=False,
        )
