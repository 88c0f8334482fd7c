-- V014: the trailing flush runs every 1.5 seconds, so every committed change is on the dashboard
-- within that plus one refresh, on pg_cron 1.4 (minute schedules) as on Supabase's 1.6.
--
-- The commit-time trigger keeps the ticket's 10 s debounce: at most one writer per window pays for
-- a refresh. Every other change waits in stats.stats_refresh_pending for the flush, which V007 ran
-- every 5 s (pg_cron 1.5+) or every minute (1.4): up to a minute late. Now the same pg_cron job
-- runs once a minute on every version, and its run keeps going through the minute in rounds of
-- flush_interval (1.5 s): each round refreshes if a committed change is pending and the flusher
-- is not paused, commits, and sleeps to its next tick. A round's work is one transaction, so a
-- refresh is visible at once, and nothing is held between rounds. The run ends just after the
-- next minute's first tick, and pg_cron starts the queued next run at once, so the rhythm holds
-- across runs. The interval is what the 2 s goal leaves after a refresh and a reader's poll, and
-- what keeps the refresh within 5 % of a core at 50 000 activities (docs/design-refresh.md).
-- Costs: a refresh cycle per interval while writes keep coming, nothing while nothing changes;
-- one connection for the job; one cron.job_run_details row a minute, of which a day is kept.
--
-- Why a DO block and not a procedure: transaction control needs a top-level CALL or DO, and a
-- procedure that commits may not carry a SET clause, so it could not pin its search_path
-- (Supabase's linter 0011). The DO block names nothing but one schema-qualified function; that
-- function pins its search_path like every other.
--
-- The job's role (postgres) must have no statement_timeout below a minute for the run to last its
-- minute; a shorter one only ends the run earlier (the first round says so in a WARNING, which
-- pg_cron keeps in the run's details), never a write.
--
-- Every statement can run again without error; cron.schedule() upserts the job by name.
-- Rollback: supabase/rollbacks/20261201000014_rollback_stats_refresh_flusher.sql.

-- The log row is read by every writer's trigger: wait briefly for the ALTER's lock (D22).
set local lock_timeout = '5s';

-- ---------------------------------------------------------------------------------------------
-- The flusher's settings
-- ---------------------------------------------------------------------------------------------

alter table stats.stats_refresh_log
    add column if not exists flush_interval interval not null default interval '1.5 seconds',
    add column if not exists flush_paused boolean not null default false;
comment on column stats.stats_refresh_log.flush_interval is
    'How often the flusher (pg_cron job stats-refresh-flush) looks for pending changes and '
    'refreshes: the delay a change left to it can wait, before one refresh. Between 100 ms and '
    '30 s; set with stats.configure_stats_flusher().';
comment on column stats.stats_refresh_log.flush_paused is
    'true: the flusher keeps running but refreshes nothing (stats.flush_stats_refresh() called by '
    'hand still does). Set with stats.configure_stats_flusher(); a pause is in force once that '
    'call returns.';

-- Dropped and added again so that the file can run twice. The log table holds one row: the check
-- scans it under the lock the ALTER above already holds to commit, which NOT VALID and a VALIDATE
-- in the same transaction would hold just as long.
alter table stats.stats_refresh_log
    -- squawk-ignore ban-drop-constraint
    drop constraint if exists stats_refresh_log_flush_interval_range;
alter table stats.stats_refresh_log
    -- squawk-ignore constraint-missing-not-valid
    add constraint stats_refresh_log_flush_interval_range
    check (flush_interval between interval '100 milliseconds' and interval '30 seconds');

-- SECURITY DEFINER so that an operator granted EXECUTE changes these settings and nothing else of
-- the log row. Its UPDATE takes the log row, which a flushing round holds while it refreshes: when
-- this returns, no refresh of the flusher is under way, and none starts while paused.
create or replace function stats.configure_stats_flusher(
    p_flush_interval interval default null,
    p_paused boolean default null
)
returns jsonb
language sql
security definer
set search_path = ''
set lock_timeout = '5s'
as $$
    update stats.stats_refresh_log l
    set flush_interval = coalesce(p_flush_interval, l.flush_interval),
        flush_paused = coalesce(p_paused, l.flush_paused)
    where l.id
    returning pg_catalog.to_jsonb(l.*)
$$;
comment on function stats.configure_stats_flusher(interval, boolean) is
    'Sets the flusher''s interval and/or pauses or resumes it; a NULL argument leaves that setting '
    'alone. Returns the log row as jsonb.';
alter function stats.configure_stats_flusher(interval, boolean) owner to stats_owner;
revoke all on function stats.configure_stats_flusher(interval, boolean)
    from public, anon, authenticated, service_role;
grant execute on function stats.configure_stats_flusher(interval, boolean) to postgres;

-- ---------------------------------------------------------------------------------------------
-- One round of the flusher
-- ---------------------------------------------------------------------------------------------

-- SECURITY INVOKER: it runs as the job's owner, postgres, which may read cron.job and prune its
-- own run history (Supabase grants it exactly that), uses the log row as a member of stats_owner,
-- and refreshes through stats.flush_stats_refresh() (SECURITY DEFINER). A round works first and
-- then says how long to wait: the job's command commits and sleeps outside any transaction's
-- locks, so a migration waiting for the log table never queues writers behind a sleeping flusher.
create or replace function stats.run_stats_refresh_flusher_round(
    p_started timestamptz,
    p_first boolean,
    p_until timestamptz default null
)
returns interval
language plpgsql
set search_path = ''
set lock_timeout = '1s'
as $$
declare
    -- One flusher at a time, whoever started it (a session-level advisory lock, this migration's
    -- version: the run holds it across its commits and loses it with its connection).
    c_lock constant bigint := 20261201000014;
    v_interval interval;
    v_paused boolean;
    v_minute timestamptz := pg_catalog.date_trunc('minute', p_started);
    v_now timestamptz;
    v_next timestamptz;
    v_end timestamptz;
    v_timeout interval := pg_catalog.current_setting('statement_timeout')::interval;
begin
    -- Read without a lock: a paused flusher never touches the log row, so it can never make a
    -- commit skip its refresh.
    select l.flush_interval, l.flush_paused into v_interval, v_paused
    from stats.stats_refresh_log l where l.id;
    v_interval := coalesce(v_interval, interval '1.5 seconds');
    v_end := coalesce(p_until, v_minute + interval '1 minute' + v_interval / 2);

    if p_first then
        if not pg_catalog.pg_try_advisory_lock(c_lock) then
            return null;  -- another flusher runs
        end if;
        if v_timeout > interval '0' and p_started + v_timeout - v_interval < v_end then
            raise warning 'the stats flusher''s run is cut short by statement_timeout = %',
                pg_catalog.current_setting('statement_timeout')
                using hint = 'Changes wait for the next run; alter role postgres set '
                             'statement_timeout = 0 for the job''s sessions.';
        end if;
        -- The job's own history: one row a minute, a day of it kept.
        delete from cron.job_run_details d
        using cron.job j
        where d.jobid = j.jobid
          and j.jobname = 'stats-refresh-flush'
          and j.username = current_user
          and d.end_time < pg_catalog.now() - interval '1 day';
    end if;

    -- Unscheduled or deactivated: stop within a round (pg_cron does not stop a run it started
    -- over libpq).
    if not exists (
        select from cron.job j
        where j.jobname = 'stats-refresh-flush' and j.username = current_user and j.active
    ) then
        perform pg_catalog.pg_advisory_unlock(c_lock);
        return null;
    end if;

    -- Then under the lock, where a pause that committed meanwhile shows.
    if exists (select from stats.stats_refresh_pending) and not coalesce(v_paused, true) then
        begin
            select l.flush_paused into v_paused
            from stats.stats_refresh_log l
            where l.id
            for update;
            if not v_paused then
                perform stats.flush_stats_refresh();
            end if;
        exception when lock_not_available then
            -- a refresh is under way and keeps the row; it may cover the change, else next round
            null;
        end;
    end if;

    -- The next tick after now, ticks counted from the minute the run started in, so that runs
    -- follow each other at the same rhythm. A run takes the next minute's first tick too and
    -- ends before its second: pg_cron, finding the job still running at the minute, queues the
    -- next run and starts it as soon as this one ends, so the rhythm goes on across runs without
    -- waiting for the scheduler's next wake-up (up to a second), and each run still ends within
    -- its second minute, so the queue never grows. A statement_timeout would end the whole run:
    -- end a round before it too.
    v_now := pg_catalog.clock_timestamp();
    v_next := v_minute + (pg_catalog.floor(extract(epoch from v_now - v_minute)
                                           / extract(epoch from v_interval)) + 1) * v_interval;
    if v_timeout > interval '0' then
        v_end := least(v_end, p_started + v_timeout - v_interval);
    end if;
    if v_next >= v_end then
        perform pg_catalog.pg_advisory_unlock(c_lock)
        from pg_catalog.pg_locks k
        where k.locktype = 'advisory' and k.pid = pg_catalog.pg_backend_pid()
          and k.objsubid = 1
          and (k.classid::bigint << 32 | k.objid::bigint) = c_lock;
        return null;
    end if;
    return v_next - v_now;
end
$$;
comment on function stats.run_stats_refresh_flusher_round(timestamptz, boolean, timestamptz) is
    'One round of a flusher run that started at p_started (the command of the pg_cron job '
    'stats-refresh-flush calls it, committing after each): refreshes through '
    'stats.flush_stats_refresh() when a committed change is pending and the flusher is not paused, '
    'then returns how long to wait for the next tick (flush_interval apart), or NULL when the run '
    'ends: at p_until (by default just after the next minute, when pg_cron starts the next run), '
    'when the job is inactive or gone, or when another flusher runs. The first round '
    '(p_first) always works, however late the run started.';
revoke all on function stats.run_stats_refresh_flusher_round(timestamptz, boolean, timestamptz)
    from public, anon, authenticated, service_role;
grant execute on function stats.run_stats_refresh_flusher_round(timestamptz, boolean, timestamptz)
    to postgres;

-- ---------------------------------------------------------------------------------------------
-- The job
-- ---------------------------------------------------------------------------------------------

-- Every minute on every pg_cron version (the run fills its minute), replacing V007's command.
-- The sleep follows the COMMIT: between rounds the run holds no lock but its advisory lock.
select cron.schedule(
    'stats-refresh-flush',
    '* * * * *',
    $job$do $flusher$
declare
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_first boolean := true;
    v_wait interval;
begin
    loop
        v_wait := stats.run_stats_refresh_flusher_round(v_started, v_first);
        commit;
        exit when v_wait is null;
        perform pg_catalog.pg_sleep(extract(epoch from v_wait)::double precision);
        v_first := false;
    end loop;
end
$flusher$$job$
);
