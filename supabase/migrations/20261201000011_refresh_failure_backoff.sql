-- V011: a failed refresh cycle holds off the next attempts as a successful one does, and the log
-- says since when the refresh has been failing and as of when the views are current.
--
-- Before, a failed cycle left refreshed_at as it was, so with a persistent fault every following
-- commit tried again, failed again and added a failure row: cost and table growth in proportion to
-- the write rate (docs/decisions.md, D19). Now:
-- * a failed cycle records last_failure_at; a commit does not attempt a cycle while the last
--   success OR the last failure is less than debounce_window old (pending reason 'backoff'), and
--   the flush does not attempt one while the last failure is (it returns 'backoff'), so a broken
--   refresh costs at most one failed commit-time cycle and one failed flush per window, whatever
--   the write rate; the flush keeps looking on its own rhythm and refreshes once the fault is gone;
-- * except after a transient failure (a lock not granted in time, a statement cancelled, a
--   deadlock or serialization failure: last_failure_transient): that says nothing about the next
--   attempt, so the flush tries again at its next run, and only one such failure per source and
--   SQLSTATE is recorded per window (failed_cycles still counts each). Commits back off after any
--   failure: a writer never waits out a lock twice in a window;
-- * the cycle takes the log row in a subtransaction of its own and refreshes in a second one: when
--   the refresh fails, the row is still held by the failing transaction, so no other writer can
--   start a second attempt before the failure is on record;
-- * failing_since and failed_cycles say how long the refresh has been failing and how often;
--   a successful cycle clears them. views_as_of is when the last successful cycle began: the
--   views hold every change committed before it.
-- * one function records a failure (V007 wrote that block twice).
--
-- Every statement can run again without error.
-- Rollback: supabase/rollbacks/20261201000011_rollback_refresh_failure_backoff.sql.

-- Every writer's trigger reads the log row and may write a pending row: wait briefly for the
-- ALTERs' locks rather than queue every writer behind this migration (D22).
set local lock_timeout = '5s';

-- ---------------------------------------------------------------------------------------------
-- The log row: failures and the views' age
-- ---------------------------------------------------------------------------------------------

alter table stats.stats_refresh_log
    add column if not exists last_failure_at timestamptz,
    add column if not exists failing_since timestamptz,
    -- At most a few failed cycles a second (one commit-time cycle and one flush per debounce
    -- window): integer lasts decades of uninterrupted failure.
    -- squawk-ignore prefer-bigint-over-int
    add column if not exists failed_cycles integer not null default 0,
    add column if not exists views_as_of timestamptz,
    add column if not exists last_failure_transient boolean not null default false;
comment on column stats.stats_refresh_log.last_failure_at is
    'When the last failed refresh cycle (commit or flush) ended. Commits and the flush attempt no '
    'cycle while it is less than debounce_window old.';
comment on column stats.stats_refresh_log.failing_since is
    'When the first failed cycle since the last successful one ended; NULL while the refresh '
    'works. The failures themselves are in stats.stats_refresh_failures.';
comment on column stats.stats_refresh_log.failed_cycles is
    'Failed cycles since the last successful one (0 while the refresh works).';
comment on column stats.stats_refresh_log.last_failure_transient is
    'true when the last failed cycle failed for a reason that may be gone at the next attempt '
    '(SQLSTATE 55P03 lock not available, 57014 query canceled, 40P01 deadlock, 40001 '
    'serialization failure): the flush does not back off after it.';
comment on column stats.stats_refresh_log.views_as_of is
    'When the last successful cycle began: both views hold every change committed before it. '
    'NULL until the first cycle after V011.';

-- Dropped and added again so that the file can run twice. The log table holds one row: the check
-- scans it under the lock the ALTER above already holds to commit, which NOT VALID and a VALIDATE
-- in the same transaction would hold just as long.
alter table stats.stats_refresh_log
    -- squawk-ignore ban-drop-constraint
    drop constraint if exists stats_refresh_log_failed_cycles_not_negative;
alter table stats.stats_refresh_log
    -- squawk-ignore constraint-missing-not-valid
    add constraint stats_refresh_log_failed_cycles_not_negative check (failed_cycles >= 0);

-- V007's check of the reasons, replaced by a wider one ('backoff') in the same transaction, so no
-- one ever sees the table without it. The table holds the commits still waiting for a refresh
-- (each refresh deletes them): a short scan, under the lock its ALTER holds to commit anyway.
alter table stats.stats_refresh_pending
    -- squawk-ignore ban-drop-constraint
    drop constraint if exists stats_refresh_pending_reason_valid;
alter table stats.stats_refresh_pending
    -- squawk-ignore constraint-missing-not-valid
    add constraint stats_refresh_pending_reason_valid
    check (reason in ('debounced', 'backoff', 'concurrent', 'isolation', 'flush_only', 'failed'));
comment on column stats.stats_refresh_pending.reason is
    'Why that commit did not refresh: debounced (the last refresh is inside the window), backoff '
    '(the last failed cycle is), concurrent (another refresh held or had just released the log '
    'row), isolation (REPEATABLE READ or SERIALIZABLE writer), flush_only (mode), failed (the cycle '
    'failed; see stats_refresh_failures).';

-- ---------------------------------------------------------------------------------------------
-- Recording a failure
-- ---------------------------------------------------------------------------------------------

-- SECURITY INVOKER: called only by the trigger and the flush, which run as stats_owner. Nothing in
-- it may fail the caller: whatever cannot be recorded is left to the WARNING.
create or replace function stats.record_refresh_failure(
    p_source text,
    p_sqlstate text,
    p_message text,
    p_detail text,
    p_context text
)
returns void
language plpgsql
set search_path = ''
as $$
declare
    v_now timestamptz := pg_catalog.clock_timestamp();
    v_transient boolean := p_sqlstate in ('55P03', '57014', '40P01', '40001');
begin
    begin
        -- A transient failure is retried at every flush: one row per window says it goes on.
        if not (v_transient and exists (
            select from stats.stats_refresh_failures f, stats.stats_refresh_log l
            where l.id
              and f.source = p_source
              and f.sqlstate = p_sqlstate
              and f.occurred_at > v_now - l.debounce_window
        )) then
            insert into stats.stats_refresh_failures (source, sqlstate, message, detail, context)
            values (p_source, p_sqlstate, p_message, p_detail, p_context);
        end if;
        -- The writer's change is not in the views: the flush takes it in.
        if p_source = 'commit' then
            insert into stats.stats_refresh_pending (reason) values ('failed')
            on conflict (xact_id) do nothing;
        end if;
        -- The failing cycle still holds the row (a second lock by the same transaction is
        -- granted); anyone else holding it is refreshing, and that cycle's outcome will speak.
        perform 1 from stats.stats_refresh_log l where l.id for update skip locked;
        if found then
            update stats.stats_refresh_log l
            set last_failure_at = v_now,
                last_failure_transient = v_transient,
                failing_since = coalesce(l.failing_since, v_now),
                failed_cycles = l.failed_cycles + 1
            where l.id;
        end if;
    exception when others or query_canceled then
        -- Even the record failed (a table gone?): the WARNING below is all that is left.
        null;
    end;
    raise warning 'stats views not refreshed by the % (SQLSTATE %): %', p_source, p_sqlstate,
        p_message
        using hint = 'The write is kept; stats.flush_stats_refresh() retries the refresh.';
end
$$;
comment on function stats.record_refresh_failure(text, text, text, text, text) is
    'Records a failed refresh cycle: a row in stats_refresh_failures (for a transient failure, '
    'unless one with the same source and SQLSTATE is less than debounce_window old), the '
    'writer''s change as pending (source commit), and last_failure_at, last_failure_transient, '
    'failing_since and failed_cycles on the log row (which starts the backoff); then raises the '
    'failure as a WARNING. Never raises an error.';
alter function stats.record_refresh_failure(text, text, text, text, text) owner to stats_owner;
revoke all on function stats.record_refresh_failure(text, text, text, text, text)
    from public, anon, authenticated, service_role;

-- ---------------------------------------------------------------------------------------------
-- One refresh of both views: as V007's, and it clears the failure state
-- ---------------------------------------------------------------------------------------------

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
        last_refresh_duration = pg_catalog.clock_timestamp() - v_started,
        views_as_of = v_started,
        failing_since = null,
        failed_cycles = 0
    where l.id;

    -- The transaction's own changes are always in its refresh, whatever the snapshot says of it.
    delete from stats.stats_refresh_pending p
    where pg_catalog.pg_visible_in_snapshot(p.xact_id, v_covered)
       or p.xact_id = pg_catalog.pg_current_xact_id_if_assigned();
end
$$;
comment on function stats.run_stats_refresh(text) is
    'Refreshes stats.mv_peer_mentor_stats and stats.mv_activity_time_series concurrently, records '
    'the cycle in stats_refresh_log (clearing any failure state) and forgets the pending changes '
    'it covered. The caller must hold the log row (FOR UPDATE) and run as stats_owner.';
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
    v_holds_log boolean := false;
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

    -- First: decide, and take the log row if this commit refreshes. When this block ends, the
    -- row lock belongs to the transaction, so it outlives a failure of the refresh below.
    begin
        -- REPEATABLE READ and SERIALIZABLE writers leave the refresh to the flush: their REFRESH
        -- would read with the snapshot of their first statement, and under SERIALIZABLE its
        -- whole-table reads would add read/write conflicts to other serializable transactions.
        if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
            v_skip := 'isolation';
        else
            select l.refreshed_at, l.last_failure_at, l.debounce_window, l.mode
            into v_log
            from stats.stats_refresh_log l
            where l.id;
            if not found then
                raise exception 'stats.stats_refresh_log has no row'
                    using hint = 'Re-apply V007 (insert the row with id = true).';
            end if;

            -- Inside a window. NULL and -infinity are "never": the comparisons are not true.
            if v_log.mode = 'flush_only' then
                v_skip := 'flush_only';
            elsif v_log.refreshed_at > pg_catalog.clock_timestamp() - v_log.debounce_window then
                v_skip := 'debounced';
            elsif v_log.last_failure_at > pg_catalog.clock_timestamp() - v_log.debounce_window then
                v_skip := 'backoff';
            else
                -- Held by another transaction: a refresh is under way. Both windows are checked
                -- again on the row's latest version, in case a cycle ended meanwhile.
                perform 1
                from stats.stats_refresh_log l
                where l.id
                  and (greatest(l.refreshed_at, l.last_failure_at)
                       > pg_catalog.clock_timestamp() - l.debounce_window) is not true
                for update skip locked;
                if found then
                    v_holds_log := true;
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
        perform stats.record_refresh_failure('commit', v_state, v_message, v_detail, v_context);
        return null;
    end;

    -- Then the refresh, in a subtransaction of its own: a failure undoes it, not the row lock.
    if v_holds_log then
        begin
            perform stats.run_stats_refresh('commit');
        exception when others or query_canceled then
            get stacked diagnostics
                v_state = returned_sqlstate,
                v_message = message_text,
                v_detail = pg_exception_detail,
                v_context = pg_exception_context;
            perform stats.record_refresh_failure('commit', v_state, v_message, v_detail,
                                                 v_context);
        end;
    end if;
    return null;
end
$$;
comment on function stats.trg_refresh_stats_views() is
    'Trigger function of trg_refresh_stats_views: once per transaction (per command when fired '
    'early by SET CONSTRAINTS ... IMMEDIATE), at commit, refreshes both stats views unless the '
    'debounce window, the backoff after a failure, another refresh, the mode or the isolation '
    'level says to leave it to the flush. Never fails the write.';
alter function stats.trg_refresh_stats_views() owner to stats_owner;
revoke all on function stats.trg_refresh_stats_views() from public, anon, authenticated,
    service_role;

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
    v_log record;
    v_state text;
    v_message text;
    v_detail text;
    v_context text;
begin
    if not exists (select from stats.stats_refresh_pending) then
        return 'idle';
    end if;

    -- Wait (up to lock_timeout) for a refresh in progress. The lock outlives this block, so a
    -- failed refresh below is recorded before anyone else can attempt one.
    begin
        select l.last_failure_at, l.last_failure_transient, l.debounce_window
        into v_log
        from stats.stats_refresh_log l
        where l.id
        for update;
        if not found then
            raise exception 'stats.stats_refresh_log has no row'
                using hint = 'Re-apply V007 (insert the row with id = true).';
        end if;
    exception when others or query_canceled then
        get stacked diagnostics
            v_state = returned_sqlstate,
            v_message = message_text,
            v_detail = pg_exception_detail,
            v_context = pg_exception_context;
        -- Another refresh kept the log row: not a failure, the next run comes soon.
        if v_state = '55P03' then
            return 'busy';
        end if;
        perform stats.record_refresh_failure('flush', v_state, v_message, v_detail, v_context);
        return 'failed';
    end;

    -- The refresh that held the row may have covered every pending change.
    if not exists (select from stats.stats_refresh_pending) then
        return 'idle';
    end if;
    if v_log.last_failure_at > pg_catalog.clock_timestamp() - v_log.debounce_window
       and not v_log.last_failure_transient then
        return 'backoff';
    end if;

    begin
        perform stats.run_stats_refresh('flush');
    exception when others or query_canceled then
        get stacked diagnostics
            v_state = returned_sqlstate,
            v_message = message_text,
            v_detail = pg_exception_detail,
            v_context = pg_exception_context;
        perform stats.record_refresh_failure('flush', v_state, v_message, v_detail, v_context);
        return 'failed';
    end;
    return 'refreshed';
end
$$;
comment on function stats.flush_stats_refresh() is
    'The trailing flush (pg_cron job stats-refresh-flush): refreshes both stats views when a '
    'committed change is pending, whatever the debounce window. Returns idle (nothing pending), '
    'busy (another refresh held the log row past lock_timeout), backoff (a cycle failed less than '
    'debounce_window ago, not transiently), refreshed, or failed (recorded in '
    'stats_refresh_failures).';
alter function stats.flush_stats_refresh() owner to stats_owner;
revoke all on function stats.flush_stats_refresh() from public, anon, authenticated, service_role;
grant execute on function stats.flush_stats_refresh() to postgres;

-- ---------------------------------------------------------------------------------------------
-- Ending the windows by hand
-- ---------------------------------------------------------------------------------------------

-- SECURITY DEFINER as V007's. After a fault is repaired, the operator's "refresh now" must not
-- wait out the backoff either.
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
        end,
        last_failure_at = case
            when l.last_failure_at > pg_catalog.clock_timestamp() - l.debounce_window
            then pg_catalog.clock_timestamp() - l.debounce_window
            else l.last_failure_at
        end
    where l.id
    returning pg_catalog.to_jsonb(l.*)
$$;
comment on function stats.expire_stats_refresh_window() is
    'Ends the current debounce window and any backoff after a failure: the next commit that '
    'changes activities refreshes, and so does the next flush. Moves refreshed_at and '
    'last_failure_at back to the window''s edge (no further), so the log still says roughly when '
    'they happened. Returns the log row as jsonb.';
alter function stats.expire_stats_refresh_window() owner to stats_owner;
revoke all on function stats.expire_stats_refresh_window()
    from public, anon, authenticated, service_role;
grant execute on function stats.expire_stats_refresh_window() to postgres;
