-- The design before V014, for the freshness benchmark to measure beside the current one:
-- the trailing flush as one call a minute (V007's schedule on pg_cron 1.4), no flusher.
--   just bench 50k --freshness-only --apply bench/alternatives/minute-flush.sql --label minute-flush
-- The run's reset at the end puts V014's job back.
select cron.schedule('stats-refresh-flush', '* * * * *', 'select stats.flush_stats_refresh()');
-- A flusher run under way would go on to the end of its minute: end it now.
select pg_catalog.pg_terminate_backend(l.pid)
from pg_catalog.pg_locks l
where l.locktype = 'advisory' and l.granted and l.objsubid = 1
  and (l.classid::bigint << 32 | l.objid::bigint) = 20261201000014;
