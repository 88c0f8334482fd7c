-- Rollback of V014 (20261201000014_stats_refresh_flusher.sql).
--
-- Puts the pg_cron job back as V007 schedules it (one flush every 5 s on pg_cron 1.5 and later,
-- every minute on 1.4), then drops the flusher's round, its settings function and its two columns
-- of the log row. A flusher run under way fails at its next round (its function is gone) and
-- pg_cron logs that; no data is involved. What this brings back: a change the commit-time trigger
-- leaves to the flush can wait up to the flush's period (a minute on pg_cron 1.4).
--
-- Run it with `just rollback 20261201000014` (psql, as postgres, in one transaction); later
-- migrations are rolled back first. No CASCADE: an unexpected dependent fails the rollback instead
-- of disappearing with it.

set local lock_timeout = '5s';

-- As V007: pg_cron 1.4 rejects second schedules (22023) and runs the flush every minute instead.
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

drop function if exists stats.run_stats_refresh_flusher_round(timestamptz, boolean, timestamptz);
drop function if exists stats.configure_stats_flusher(interval, boolean);

alter table stats.stats_refresh_log
    drop constraint if exists stats_refresh_log_flush_interval_range,
    drop column if exists flush_interval,
    drop column if exists flush_paused;
