-- Rollback of V012 (20261201000012_bufdir_export_through_private.sql).
--
-- Puts public.bufdir_export back as V006 defines it (SECURITY DEFINER itself) by re-running V006's
-- own statements (every one of them can run again), then drops private.bufdir_export_rows(). No
-- data is involved. What this brings back: Supabase's linter flags the export again (0029).
--
-- Run it with `just rollback 20261201000012` (psql, as postgres, in one transaction); later
-- migrations are rolled back first. No CASCADE: an unexpected dependent fails the rollback instead
-- of disappearing with it.

\ir ../migrations/20261125000006_read_path_and_export.sql

drop function if exists private.bufdir_export_rows(date, date, uuid[]);
