-- Rollback of V011 (20261201000011_refresh_failure_backoff.sql).
--
-- Puts back V007's trigger, flush, refresh and window functions by re-running V007's own
-- statements (every one of them can run again; the log row, its settings and the history in the
-- failure and pending tables stay), then drops what V011 added: the failure-recording function and
-- the log row's failure and age columns. Pending changes waiting out a backoff stay pending, as
-- 'debounced'. What this brings back: with a persistent fault, every commit retries the refresh
-- and adds a failure row.
--
-- Run it with `just rollback 20261201000011` (psql, as postgres, in one transaction). Roll later
-- migrations back first. No CASCADE: an unexpected dependent fails the rollback instead of
-- disappearing with it.

set local lock_timeout = '5s';

\ir ../migrations/20261125000007_add_stats_refresh_trigger.sql

drop function if exists stats.record_refresh_failure(text, text, text, text, text);

update stats.stats_refresh_pending set reason = 'debounced' where reason = 'backoff';
alter table stats.stats_refresh_pending drop constraint if exists stats_refresh_pending_reason_valid;
alter table stats.stats_refresh_pending
    add constraint stats_refresh_pending_reason_valid
    check (reason in ('debounced', 'concurrent', 'isolation', 'flush_only', 'failed'));
comment on column stats.stats_refresh_pending.reason is
    'Why that commit did not refresh: debounced (inside the window), concurrent (another refresh '
    'held or had just released the log row), isolation (REPEATABLE READ or SERIALIZABLE writer), '
    'flush_only (mode), failed (the cycle failed; see stats_refresh_failures).';

alter table stats.stats_refresh_log
    drop constraint if exists stats_refresh_log_failed_cycles_not_negative,
    drop column if exists last_failure_at,
    drop column if exists failing_since,
    drop column if exists failed_cycles,
    drop column if exists views_as_of,
    drop column if exists last_failure_transient;
