-- V013: a write to a read view is refused with "permission denied" (42501), never a server error.
--
-- public.peer_mentor_stats and public.activity_time_series select from set-returning functions, so
-- they are not automatically updatable. PostgreSQL's rewriter therefore refused a POST, PATCH or
-- DELETE on them with 55000 ("cannot insert into view") before the executor ever checked the
-- caller's privileges, and PostgREST answers 55000 with HTTP 500: a server error for a client's
-- mistake. With an INSTEAD OF trigger for each command the rewriter leaves the statement to the
-- executor, whose permission check comes first: no API role holds INSERT, UPDATE or DELETE on the
-- views, so the request fails with 42501 (PostgREST: 401 for anon, 403 for a signed-in role). The
-- trigger function itself raises 42501 too, for a role that does hold the privilege (the views'
-- owner), so no write through these views ever does anything.
--
-- Every statement can run again without error.
-- Rollback: supabase/rollbacks/20261201000013_rollback_read_views_refuse_writes.sql.

-- Replacing a view's trigger takes the view's ACCESS EXCLUSIVE lock, which every read of the
-- dashboard waits for: wait briefly rather than queue readers behind this migration (D22).
set local lock_timeout = '5s';

create or replace function private.refuse_read_view_write()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
    raise exception 'permission denied for view %', tg_table_name
        using errcode = 'insufficient_privilege',
              hint = 'The statistics views are read-only: write to public.activities instead.';
end;
$$;
comment on function private.refuse_read_view_write() is
    'INSTEAD OF trigger of the read views: refuses every write with 42501. It makes the views '
    'look updatable to the rewriter, so that the privilege check (no API role may write them) '
    'answers a write with 42501 instead of 55000 (HTTP 500 through PostgREST).';
alter function private.refuse_read_view_write() owner to postgres;
revoke all on function private.refuse_read_view_write() from public, anon, authenticated,
    service_role;

drop trigger if exists peer_mentor_stats_refuse_writes on public.peer_mentor_stats;
create trigger peer_mentor_stats_refuse_writes
    instead of insert or update or delete on public.peer_mentor_stats
    for each row execute function private.refuse_read_view_write();
comment on trigger peer_mentor_stats_refuse_writes on public.peer_mentor_stats is
    'Read-only view: a write is refused with 42501 (permission denied), not 55000.';

drop trigger if exists activity_time_series_refuse_writes on public.activity_time_series;
create trigger activity_time_series_refuse_writes
    instead of insert or update or delete on public.activity_time_series
    for each row execute function private.refuse_read_view_write();
comment on trigger activity_time_series_refuse_writes on public.activity_time_series is
    'Read-only view: a write is refused with 42501 (permission denied), not 55000.';
