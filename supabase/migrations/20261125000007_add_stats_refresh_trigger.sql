-- V007: refresh both stats views after activities change, from a deferred trigger at commit.
--
-- How it behaves (README, "The refresh trigger"):
-- * one refresh cycle per transaction, however many rows it wrote (D7); the check that a cycle
--   already ran returns before any exception block (D14); a transaction that fires the deferred
--   events early (SET CONSTRAINTS ... IMMEDIATE) gets one per command;
-- * at most one refresh per debounce window (stats_refresh_log.debounce_window, 10 s), compared
--   with clock_timestamp() so the commit time counts and -infinity or NULL cannot fail it (D5);
-- * the log row is taken with FOR UPDATE SKIP LOCKED: when another transaction holds it, a
--   refresh is under way and this one skips;
-- * every failure of this machinery is caught, recorded in stats.stats_refresh_failures and
--   raised as a WARNING: the user's INSERT, UPDATE or DELETE always commits (D5); a short
--   lock_timeout bounds how long a COMMIT can wait for a lock (D12);
-- * a writer that does not refresh leaves one row in stats.stats_refresh_pending (never a write to
--   the log row, D6), and a pg_cron job, stats.flush_stats_refresh(), refreshes when such rows
--   exist.
--
-- Every statement can run again without error and leaves the same schema (tested).
-- Later migrations redefine parts of this one: V011 the trigger, the flush and the refresh (a
-- failed cycle backs off, D19), V014 the flush's schedule (the flusher, D20); the current
-- definitions are in supabase/schema.sql.

create extension if not exists pg_cron;

-- ---------------------------------------------------------------------------------------------
-- The debounce state: one row
-- ---------------------------------------------------------------------------------------------

create table if not exists stats.stats_refresh_log (
    id boolean primary key default true,
    refreshed_at timestamptz,
    refresh_count bigint not null default 0,
    debounce_window interval not null default interval '10 seconds',
    mode text not null default 'commit',
    last_refresh_source text,
    last_refresh_duration interval,
    constraint stats_refresh_log_single_row check (id),
    constraint stats_refresh_log_refresh_count_not_negative check (refresh_count >= 0),
    constraint stats_refresh_log_debounce_window_not_negative
        check (debounce_window >= interval '0'),
    constraint stats_refresh_log_mode_valid check (mode in ('commit', 'flush_only')),
    constraint stats_refresh_log_last_refresh_source_valid
        check (last_refresh_source in ('commit', 'flush'))
);
comment on table stats.stats_refresh_log is
    'The persisted debounce state of the stats refresh: exactly one row (id = true), written only '
    'by a refresh cycle (under its row lock) and by the operator helpers. RLS is enabled and no '
    'API role has a privilege on it; its owner stats_owner is the only writer.';
comment on column stats.stats_refresh_log.refreshed_at is
    'When the last successful refresh cycle finished; NULL (or -infinity) means never.';
comment on column stats.stats_refresh_log.refresh_count is
    'Successful refresh cycles since V007 was applied (commit-time and flush together).';
comment on column stats.stats_refresh_log.debounce_window is
    'A commit does not refresh when the last refresh finished less than this long ago. Tunable '
    'without a migration: stats.configure_stats_refresh(p_debounce_window => ...).';
comment on column stats.stats_refresh_log.mode is
    'commit: refresh at commit, debounced, plus the trailing flush; flush_only: never refresh at '
    'commit, only from stats.flush_stats_refresh() (for bulk loads and benchmarks).';
comment on column stats.stats_refresh_log.last_refresh_source is
    'Who ran the last successful cycle: commit (the trigger) or flush (the pg_cron job).';
comment on column stats.stats_refresh_log.last_refresh_duration is
    'How long both REFRESH ... CONCURRENTLY of the last successful cycle took together.';

-- The ticket asks for it; with one row it costs nothing and serves "latest refresh" queries.
create index if not exists stats_refresh_log_refreshed_at_idx
    on stats.stats_refresh_log (refreshed_at desc);
comment on index stats.stats_refresh_log_refreshed_at_idx is
    'Latest refresh first.';

insert into stats.stats_refresh_log (id) values (true) on conflict (id) do nothing;

-- ---------------------------------------------------------------------------------------------
-- Failures of the machinery, and changes no refresh has covered yet
-- ---------------------------------------------------------------------------------------------

create table if not exists stats.stats_refresh_failures (
    id bigint generated always as identity primary key,
    occurred_at timestamptz not null default clock_timestamp(),
    source text not null,
    sqlstate text not null,
    message text not null,
    detail text,
    context text,
    xact_id xid8 not null default pg_current_xact_id(),
    constraint stats_refresh_failures_source_valid check (source in ('commit', 'flush'))
);
comment on table stats.stats_refresh_failures is
    'One row per failed refresh cycle (the same failure is also raised as a WARNING). The write '
    'that fired the cycle committed; its change waits in stats.stats_refresh_pending.';
comment on column stats.stats_refresh_failures.source is
    'commit (the trigger, at a user''s commit) or flush (stats.flush_stats_refresh()).';
comment on column stats.stats_refresh_failures.sqlstate is
    'The error''s SQLSTATE, e.g. 55P03 when a lock was not granted within lock_timeout.';
comment on column stats.stats_refresh_failures.context is 'Where in the cycle the error arose.';
comment on column stats.stats_refresh_failures.xact_id is 'The transaction that ran the cycle.';

create table if not exists stats.stats_refresh_pending (
    xact_id xid8 primary key default pg_current_xact_id(),
    marked_at timestamptz not null default clock_timestamp(),
    reason text not null,
    constraint stats_refresh_pending_reason_valid
        check (reason in ('debounced', 'concurrent', 'isolation', 'flush_only', 'failed'))
);
comment on table stats.stats_refresh_pending is
    'One row per committed transaction that changed activities without refreshing the views. A '
    'refresh deletes the rows of the transactions its snapshot saw; stats.flush_stats_refresh() '
    'refreshes while any row is left. Inserts only: skipped writers never queue on a lock.';
comment on column stats.stats_refresh_pending.xact_id is
    'The writing transaction; a refresh covers it when pg_visible_in_snapshot() says so.';
comment on column stats.stats_refresh_pending.reason is
    'Why that commit did not refresh: debounced (inside the window), concurrent (another refresh '
    'held or had just released the log row), isolation (REPEATABLE READ or SERIALIZABLE writer), '
    'flush_only (mode), failed (the cycle failed; see stats_refresh_failures).';

-- Owned by the role that owns the views; nobody else needs these tables (postgres, a member of
-- stats_owner, reads them for operations and tests).
alter table stats.stats_refresh_log owner to stats_owner;
alter table stats.stats_refresh_failures owner to stats_owner;
alter table stats.stats_refresh_pending owner to stats_owner;

alter table stats.stats_refresh_log enable row level security;
alter table stats.stats_refresh_failures enable row level security;
alter table stats.stats_refresh_pending enable row level security;

revoke all on table stats.stats_refresh_log, stats.stats_refresh_failures,
    stats.stats_refresh_pending from public, anon, authenticated, service_role;
revoke all on sequence stats.stats_refresh_failures_id_seq
    from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- One refresh of both views, for a caller that holds the log row
-- ---------------------------------------------------------------------------------------------

-- SECURITY INVOKER: it is only called by the two SECURITY DEFINER functions below, which already
-- run as stats_owner, the views' owner (only the owner may refresh a materialized view).
create or replace function stats.run_stats_refresh(p_source text)
returns void
language plpgsql
set search_path = ''
as $$
declare
    -- Taken before either REFRESH: every transaction visible here is visible to both of them,
    -- so its pending row may go. A writer that commits later keeps its row for the next refresh.
    v_covered pg_catalog.pg_snapshot := pg_catalog.pg_current_snapshot();
    v_started timestamptz := pg_catalog.clock_timestamp();
begin
    refresh materialized view concurrently stats.mv_peer_mentor_stats;
    refresh materialized view concurrently stats.mv_activity_time_series;

    update stats.stats_refresh_log l
    set refreshed_at = pg_catalog.clock_timestamp(),
        refresh_count = l.refresh_count + 1,
        last_refresh_source = p_source,
        last_refresh_duration = pg_catalog.clock_timestamp() - v_started
    where l.id;

    -- The transaction's own changes are always in its refresh, whatever the snapshot says of it.
    delete from stats.stats_refresh_pending p
    where pg_catalog.pg_visible_in_snapshot(p.xact_id, v_covered)
       or p.xact_id = pg_catalog.pg_current_xact_id_if_assigned();
end
$$;
comment on function stats.run_stats_refresh(text) is
    'Refreshes stats.mv_peer_mentor_stats and stats.mv_activity_time_series concurrently, records '
    'the cycle in stats_refresh_log and forgets the pending changes it covered. The caller must '
    'hold the log row (FOR UPDATE) and run as stats_owner.';
alter function stats.run_stats_refresh(text) owner to stats_owner;
revoke all on function stats.run_stats_refresh(text) from public, anon, authenticated,
    service_role;

-- ---------------------------------------------------------------------------------------------
-- The trigger function
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER because it runs at the commit of any writer (a signed-in user, service_role)
-- and only the views' owner may refresh them. It reads nothing of the changed row, builds no
-- dynamic SQL, and pins search_path. lock_timeout: PostgreSQL switches statement_timeout off
-- before a commit, so only this bounds a REFRESH that waits for a lock (D12); the wait ends as
-- 55P03, which is caught like every other failure. query_canceled (57014), which WHEN OTHERS
-- leaves out, is caught too: a statement_timeout (or a cancel request) that lands in a refresh
-- fired before COMMIT (SET CONSTRAINTS ... IMMEDIATE) stops the refresh, not the user's write.
create or replace function stats.trg_refresh_stats_views()
returns trigger
language plpgsql
security definer
set search_path = ''
set lock_timeout = '250ms'
as $$
declare
    -- This firing of the deferred events: the transaction, and the client command that fires
    -- them (COMMIT, or a statement when the constraint was set IMMEDIATE).
    v_firing text := pg_catalog.pg_current_xact_id()::text || '@'
                     || pg_catalog.statement_timestamp()::text;
    v_log record;
    v_skip text;
    v_state text;
    v_message text;
    v_detail text;
    v_context text;
begin
    -- One cycle per firing: every later row returns here, outside any exception block, so a
    -- 100 000-row statement opens no subtransaction per row (D7, D14). At COMMIT that is one cycle
    -- per transaction; a transaction that fires the events early (SET CONSTRAINTS ... IMMEDIATE)
    -- gets one per command, so what it writes after an early cycle is not left out.
    if pg_catalog.current_setting('stats.refresh_cycle', true) = v_firing then
        return null;
    end if;
    perform pg_catalog.set_config('stats.refresh_cycle', v_firing, true);

    begin
        -- REPEATABLE READ and SERIALIZABLE writers leave the refresh to the flush: their REFRESH
        -- would read with the snapshot of their first statement, and under SERIALIZABLE its
        -- whole-table reads would add read/write conflicts to other serializable transactions.
        if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
            v_skip := 'isolation';
        else
            select l.refreshed_at, l.debounce_window, l.mode
            into v_log
            from stats.stats_refresh_log l
            where l.id;
            if not found then
                raise exception 'stats.stats_refresh_log has no row'
                    using hint = 'Re-apply V007 (insert the row with id = true).';
            end if;

            if v_log.mode = 'flush_only' then
                v_skip := 'flush_only';
            -- Inside the window. NULL and -infinity are "never": the comparison is not true.
            elsif v_log.refreshed_at > pg_catalog.clock_timestamp() - v_log.debounce_window then
                v_skip := 'debounced';
            else
                -- Held by another transaction: a refresh is under way. The window is checked
                -- again on the row's latest version, in case a refresh finished meanwhile.
                perform 1
                from stats.stats_refresh_log l
                where l.id
                  and (l.refreshed_at > pg_catalog.clock_timestamp() - l.debounce_window)
                      is not true
                for update skip locked;
                if found then
                    perform stats.run_stats_refresh('commit');
                else
                    v_skip := 'concurrent';
                end if;
            end if;
        end if;

        -- ON CONFLICT: a caller who cleared the marker by hand may run a second cycle.
        if v_skip is not null then
            insert into stats.stats_refresh_pending (reason) values (v_skip)
            on conflict (xact_id) do nothing;
        end if;
    exception when others or query_canceled then
        get stacked diagnostics
            v_state = returned_sqlstate,
            v_message = message_text,
            v_detail = pg_exception_detail,
            v_context = pg_exception_context;
        begin
            insert into stats.stats_refresh_failures (source, sqlstate, message, detail, context)
            values ('commit', v_state, v_message, v_detail, v_context);
            insert into stats.stats_refresh_pending (reason) values ('failed')
            on conflict (xact_id) do nothing;
        exception when others or query_canceled then
            -- Even the record failed (a table gone?): the WARNING below is all that is left.
            null;
        end;
        raise warning 'stats views not refreshed (SQLSTATE %): %', v_state, v_message
            using hint = 'The write is kept; stats.flush_stats_refresh() retries the refresh.';
    end;
    return null;
end
$$;
comment on function stats.trg_refresh_stats_views() is
    'Trigger function of trg_refresh_stats_views: once per transaction (per command when fired '
    'early by SET CONSTRAINTS ... IMMEDIATE), at commit, refreshes both '
    'stats views unless the debounce window, another refresh, the mode or the isolation level says '
    'to leave it to the flush. Never fails the write.';
alter function stats.trg_refresh_stats_views() owner to stats_owner;
revoke all on function stats.trg_refresh_stats_views() from public, anon, authenticated,
    service_role;

-- ---------------------------------------------------------------------------------------------
-- The trigger
-- ---------------------------------------------------------------------------------------------

drop trigger if exists trg_refresh_stats_views on public.activities;
create constraint trigger trg_refresh_stats_views
    after insert or update or delete on public.activities
    deferrable initially deferred
    for each row execute function stats.trg_refresh_stats_views();
comment on trigger trg_refresh_stats_views on public.activities is
    'Refreshes the stats views at the commit of any transaction that changed activities '
    '(debounced; see stats.trg_refresh_stats_views()). Fires per row; all but the first row of a '
    'transaction return at once.';

-- ---------------------------------------------------------------------------------------------
-- The trailing flush
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER so that its caller (the pg_cron job, which runs as postgres, or an operator)
-- needs no privilege on the views: only their owner may refresh them. A caller's statement_timeout
-- that cuts the refresh short is recorded like any other failure (query_canceled is caught).
create or replace function stats.flush_stats_refresh()
returns text
language plpgsql
security definer
set search_path = ''
set lock_timeout = '1s'
as $$
declare
    v_holds_log boolean := false;
    v_state text;
    v_message text;
    v_detail text;
    v_context text;
begin
    if not exists (select from stats.stats_refresh_pending) then
        return 'idle';
    end if;

    begin
        -- Wait (up to lock_timeout) for a refresh in progress, then look again: it may have
        -- covered every pending change.
        perform 1 from stats.stats_refresh_log l where l.id for update;
        if not found then
            raise exception 'stats.stats_refresh_log has no row'
                using hint = 'Re-apply V007 (insert the row with id = true).';
        end if;
        v_holds_log := true;
        if not exists (select from stats.stats_refresh_pending) then
            return 'idle';
        end if;
        perform stats.run_stats_refresh('flush');
        return 'refreshed';
    exception when others or query_canceled then
        get stacked diagnostics
            v_state = returned_sqlstate,
            v_message = message_text,
            v_detail = pg_exception_detail,
            v_context = pg_exception_context;
        -- Another refresh kept the log row: not a failure, the next run comes soon.
        if v_state = '55P03' and not v_holds_log then
            return 'busy';
        end if;
        insert into stats.stats_refresh_failures (source, sqlstate, message, detail, context)
        values ('flush', v_state, v_message, v_detail, v_context);
        raise warning 'stats views not refreshed by the flush (SQLSTATE %): %', v_state, v_message;
        return 'failed';
    end;
end
$$;
comment on function stats.flush_stats_refresh() is
    'The trailing flush (pg_cron job stats-refresh-flush): refreshes both stats views when a '
    'committed change is pending, whatever the debounce window. Returns idle (nothing pending), '
    'busy (another refresh held the log row past lock_timeout), refreshed, or failed (recorded in '
    'stats_refresh_failures).';
alter function stats.flush_stats_refresh() owner to stats_owner;
revoke all on function stats.flush_stats_refresh() from public, anon, authenticated, service_role;
grant execute on function stats.flush_stats_refresh() to postgres;

-- pg_cron understands second schedules from 1.5 (Supabase ships 1.6); 1.4 rejects them with
-- 22023 and runs the flush every minute instead (D16). cron.schedule() upserts by job name.
do $$
begin
    begin
        perform cron.schedule('stats-refresh-flush', '5 seconds',
                              'select stats.flush_stats_refresh()');
    exception when invalid_parameter_value then
        perform cron.schedule('stats-refresh-flush', '* * * * *',
                              'select stats.flush_stats_refresh()');
    end;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Operator helpers (runbooks, tests, the benchmark)
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER so that an operator granted EXECUTE changes these settings and nothing else of
-- the log row; the check constraints validate the values. The row comes back as jsonb, a type
-- that survives a rollback and re-apply (a client's prepared `select` of the table's row type
-- would not).
create or replace function stats.configure_stats_refresh(
    p_debounce_window interval default null,
    p_mode text default null
)
returns jsonb
language sql
security definer
set search_path = ''
set lock_timeout = '5s'
as $$
    update stats.stats_refresh_log l
    set debounce_window = coalesce(p_debounce_window, l.debounce_window),
        mode = coalesce(p_mode, l.mode)
    where l.id
    returning pg_catalog.to_jsonb(l.*)
$$;
comment on function stats.configure_stats_refresh(interval, text) is
    'Sets the debounce window and/or the mode (commit | flush_only) of the stats refresh; a NULL '
    'argument leaves that setting alone. Returns the log row as jsonb.';
alter function stats.configure_stats_refresh(interval, text) owner to stats_owner;
revoke all on function stats.configure_stats_refresh(interval, text)
    from public, anon, authenticated, service_role;
grant execute on function stats.configure_stats_refresh(interval, text) to postgres;

-- SECURITY DEFINER for the same reason as configure_stats_refresh.
create or replace function stats.expire_stats_refresh_window()
returns jsonb
language sql
security definer
set search_path = ''
set lock_timeout = '5s'
as $$
    update stats.stats_refresh_log l
    set refreshed_at = case
            when l.refreshed_at > pg_catalog.clock_timestamp() - l.debounce_window
            then pg_catalog.clock_timestamp() - l.debounce_window
            else l.refreshed_at
        end
    where l.id
    returning pg_catalog.to_jsonb(l.*)
$$;
comment on function stats.expire_stats_refresh_window() is
    'Ends the current debounce window: the next commit that changes activities refreshes. Moves '
    'refreshed_at back to the window''s edge (no further), so the log still says roughly when the '
    'views were last refreshed. Returns the log row as jsonb.';
alter function stats.expire_stats_refresh_window() owner to stats_owner;
revoke all on function stats.expire_stats_refresh_window()
    from public, anon, authenticated, service_role;
grant execute on function stats.expire_stats_refresh_window() to postgres;
