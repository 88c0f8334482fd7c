-- Rollback of V007 (20261125000007_add_stats_refresh_trigger.sql).
--
-- Removes the refresh trigger, its functions, the flush job and the three helper tables, and
-- nothing else: activities and both stats views keep every row, and the views keep their last
-- refreshed contents (changes still listed in stats.stats_refresh_pending are not in them;
-- refresh by hand if it matters). The pg_cron extension stays: other jobs may use it.
--
-- Run it with `just rollback 20261125000007`: as postgres, in one transaction, then the version is
-- marked reverted in the CLI's history, so that `just migrate` (`supabase db push --include-all`)
-- applies V007 again.
-- Every statement can run again without error. No CASCADE: an unexpected dependent fails the
-- rollback instead of disappearing with it.

-- The flush job: no run starts once this commits; one already running waits for the tables'
-- locks below and then fails harmlessly (pg_cron logs it).
do $$
begin
    if pg_catalog.to_regclass('cron.job') is not null then
        perform cron.unschedule(j.jobid)
        from cron.job j
        where j.jobname = 'stats-refresh-flush';
    end if;
end
$$;

drop trigger if exists trg_refresh_stats_views on public.activities;

drop function if exists stats.trg_refresh_stats_views();
drop function if exists stats.flush_stats_refresh();
drop function if exists stats.run_stats_refresh(text);
drop function if exists stats.configure_stats_refresh(interval, text);
drop function if exists stats.expire_stats_refresh_window();

drop table if exists stats.stats_refresh_pending;
drop table if exists stats.stats_refresh_failures;
drop table if exists stats.stats_refresh_log;
