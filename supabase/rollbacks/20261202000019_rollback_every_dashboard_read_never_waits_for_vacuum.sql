-- Rollback of V019 (20261202000019_every_dashboard_read_never_waits_for_vacuum.sql).
--
-- VACUUM may truncate profiles and chapter_memberships again, and dashboard reads then wait for
-- its brief ACCESS EXCLUSIVE lock. No data is touched.
--
-- Run it with `just rollback 20261202000019` (psql, as postgres, in one transaction).

set local lock_timeout = '5s';

alter table public.profiles reset (vacuum_truncate);
alter table public.chapter_memberships reset (vacuum_truncate);
