# Recipes for the stats views, their refresh trigger and the suites that prove them.
# Every recipe works on the embedded stack and, unchanged, on `supabase start` (E2E_STACK forces one).

python := justfile_directory() / ".venv/bin/python"
squawk := justfile_directory() / ".venv/bin/squawk"
export PYTHONPATH := justfile_directory() / "e2e"

# List the recipes
default:
    @just --list --unsorted

# Start the stack (a running `supabase start`, else the embedded PostgreSQL, PostgREST and gateway) and reset its database
up:
    {{python}} -m harness up

# Print the stack's variables as `supabase status -o env` does (API_URL, ANON_KEY, DB_URL, ...)
env:
    @{{python}} -m harness env

# Stop the stack; the embedded one leaves no process or port behind (gateway, PostgREST, cluster)
down:
    {{python}} -m harness down

# A fresh database: every migration and the seed, applied by the Supabase CLI (and a new PostgREST)
reset:
    {{python}} -m harness reset

# Undo a migration and every one applied after it, newest first (supabase/rollbacks/<version>_*.sql)
rollback version:
    {{python}} -m harness rollback {{version}}

# Apply the migrations not yet applied (after a rollback), without the seed
migrate:
    {{python}} -m harness migrate

# Run the pgTAP files under supabase/tests (pg_prove here, `supabase test db` on Docker)
test-db *files:
    {{python}} -m harness test-db {{files}}

# The main job: reset the database, then run the end-to-end suite (options go to pytest)
[positional-arguments]
e2e *options: reset
    {{python}} -m pytest "$@"

# Everything CI checks: the static lints, a fresh database linted (plpgsql_check, Supabase's linter), pgTAP, the end-to-end suite, then the ticket's budgets
test: lint-static reset lint-db test-db && bench-check
    {{python}} -m pytest -q

# Benchmark every write path and freshness at the given sizes (default 50k), e.g. `just bench 50k,1M`; results in bench/results/
[positional-arguments]
bench *args:
    {{python}} -m bench "$@"

# Fail when a budget of the ticket or the freshness goal is broken at 50 000 activities (resets the database before and after)
bench-check:
    {{python}} -m bench --check --freshness-seconds 30

# Ten minutes of writes at 20/s with the flusher at work: every delay, the refresh's cost and what it grows
soak:
    {{python}} -m bench 50k --freshness-only --freshness-seconds 600 --check --label soak

# Load n synthetic activities (deterministic, seeded) beside the reference dataset, replacing an earlier load
load-activities n="50000" *args:
    {{python}} -m fixtures.generate --activities {{n}} {{args}}

# Render supabase/seed.sql and the pgTAP include from fixtures/reference/*.json (a test fails when stale)
render-fixtures:
    {{python}} -m fixtures.dataset

# Render supabase/schema.sql, the current schema, from a fresh embedded database (a test fails when stale)
render-schema:
    {{python}} -m harness render-schema

# Render README.md's measured figures from the reference runs in bench/reference/ (a test fails when stale)
render-figures:
    {{python}} -m bench.figures

# Every lint: the static ones, then the running stack's database (its functions, Supabase's linter)
lint: lint-static lint-db

# Python style (ruff) and the migrations (squawk: .squawk.toml; the landed ones with supabase/squawk-landed.toml)
lint-static:
    {{python}} -m ruff check e2e fixtures bench
    {{python}} -m ruff format --check e2e fixtures bench
    {{squawk}} 'supabase/migrations/*.sql'
    {{squawk}} --config supabase/squawk-landed.toml 'supabase/migrations/20261125*.sql'

# plpgsql_check over the functions of public, private and stats (`supabase db lint`), then Supabase's linter (`supabase db advisors`), on the running stack; a warning fails
lint-db:
    {{python}} -m harness lint-db

# Fix what the linters can
fix:
    {{python}} -m ruff check --fix e2e fixtures bench
    {{python}} -m ruff format e2e fixtures bench
