"""supabase/schema.sql: the current schema of public, private and stats, rendered from a database.

The migrations tell how the schema came to be; this file tells what it is now, one definition per
object. It is PostgreSQL 15's ``pg_dump --schema-only`` of the three schemas, normalised so that
the same schema always renders the same text: pg_dump's version lines, its SET lines and the
``\\restrict`` key it draws anew on every run are left out, and so are the default privileges of
public, which belong to the platform (Supabase's; on the embedded stack, platform.sql's), not to
the migrations. Owners, comments and grants stay: who owns a SECURITY DEFINER function and who may
execute it are part of the security design. Each object keeps pg_dump's line "-- Name: ...; Type:
...; Schema: ...; Owner: ..." above it, so that a reader can search for it.

`just render-schema` writes the file; e2e/tests/test_schema_file.py fails when it is stale.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from .embedded import PROJECT_ROOT, _pg_bindir
from .errors import StackError
from .stack import PROJECT_SCHEMAS, reset, selected_kind

SCHEMA_FILE = PROJECT_ROOT / "supabase" / "schema.sql"
RECIPE = "just render-schema"

HEADER = f"""\
-- supabase/schema.sql: the current schema of public, private and stats, as the migrations in
-- supabase/migrations leave it. Generated, do not edit: `{RECIPE}` renders it from the
-- embedded stack's migrated database (pg_dump --schema-only of PostgreSQL 15, normalised by
-- e2e/harness/schema.py), and e2e/tests/test_schema_file.py fails when it is stale.
--
-- Each object follows a line "-- Name: <name>; Type: <kind>; Schema: <schema>; Owner: <role>":
-- search for its name to find its definition, comment, owner and grants. Left out: pg_dump's
-- settings and version lines, and the default privileges Supabase gives the API roles in public
-- (the platform's; the migrations revoke them by name). Rows are not schema: the activity kinds
-- (V002), the refresh log's row (V007) and the pg_cron job stats-refresh-flush (cron.job, V014)
-- are in the migrations that insert them.
"""

# A TOC entry's header in pg_dump's plain output: "--", "-- Name: ...", "--".
_ENTRY = re.compile(r"^--\n(-- Name: .*; Type: (.*); Schema: .*; Owner: .*)\n--\n", re.MULTILINE)
# What pg_dump prints outside any entry, or inside one only for its own restore session.
_NOISE = re.compile(
    r"^(SET |SELECT pg_catalog\.set_config\(|\\restrict |\\unrestrict |-- Dumped |"
    r"-- PostgreSQL database dump)"
)
# Entries that belong to the platform rather than to the migrations.
_LEFT_OUT_TYPES = {"DEFAULT ACL"}


def pg_dump_binary() -> Path:
    """PostgreSQL 15's pg_dump: another major version prints the same schema differently."""
    binary = _pg_bindir() / "pg_dump"
    if not binary.exists():
        raise StackError(
            f"PostgreSQL 15's pg_dump is not in {binary.parent}: "
            "`apt-get install postgresql-client-15` (or set E2E_PG_BINDIR)"
        )
    return binary


def dump(db_url: str) -> str:
    """pg_dump's schema-only output for the project's schemas."""
    cmd = [str(pg_dump_binary()), "--schema-only", "--no-password", "--dbname", db_url]
    cmd += [f"--schema={schema}" for schema in PROJECT_SCHEMAS]
    result = subprocess.run(
        cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )
    if result.returncode != 0:
        raise StackError(f"pg_dump failed: {result.stderr.strip()}")
    return result.stdout


def normalise(dumped: str) -> str:
    """The file's text from pg_dump's output: the header, then each kept entry, one blank line
    between entries and none at their ends."""
    parts = _ENTRY.split(dumped)
    # parts: [preamble, name line, type, body, name line, type, body, ...]
    entries = []
    for i in range(1, len(parts), 3):
        name_line, kind, body = parts[i], parts[i + 1], parts[i + 2]
        if kind in _LEFT_OUT_TYPES:
            continue
        lines = [line for line in body.splitlines() if not _NOISE.match(line)]
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
        # the last entry carries pg_dump's closing banner ("--" lines around it)
        text = re.sub(r"(\n--)+$", "", text).strip("\n")
        entries.append(f"{name_line}\n{text}" if text else name_line)
    return HEADER + "\n" + "\n\n".join(entries) + "\n"


def render(db_url: str) -> str:
    return normalise(dump(db_url))


def write() -> Path:
    """Reset the embedded stack's database and write the file from it: what the migrations make,
    not what a working database has come to hold.

    Only the embedded stack: the committed file is its rendering, and a `supabase start` stack's
    platform (its roles' grants, the image's pg_dump) need not render the same text.
    """
    kind = selected_kind()
    if kind != "embedded":
        raise StackError(
            "supabase/schema.sql is rendered from the embedded stack: "
            f"`E2E_STACK=embedded {RECIPE}`"
        )
    SCHEMA_FILE.write_text(render(reset(kind).db_url))
    return SCHEMA_FILE
