-- supabase/schema.sql: the current schema of public, private and stats, as the migrations in
-- supabase/migrations leave it. Generated, do not edit: `just render-schema` renders it from the
-- embedded stack's migrated database (pg_dump --schema-only of PostgreSQL 15, normalised by
-- e2e/harness/schema.py), and e2e/tests/test_schema_file.py fails when it is stale.
--
-- Each object follows a line "-- Name: <name>; Type: <kind>; Schema: <schema>; Owner: <role>":
-- search for its name to find its definition, comment, owner and grants. Left out: pg_dump's
-- settings and version lines, and the default privileges Supabase gives the API roles in public
-- (the platform's; the migrations revoke them by name). Rows are not schema: the activity kinds
-- (V002), the refresh log's row (V007) and the pg_cron job stats-refresh-flush (cron.job, V014)
-- are in the migrations that insert them.

-- Name: private; Type: SCHEMA; Schema: -; Owner: postgres
CREATE SCHEMA private;

ALTER SCHEMA private OWNER TO postgres;

-- Name: SCHEMA private; Type: COMMENT; Schema: -; Owner: postgres
COMMENT ON SCHEMA private IS 'Internal helpers (trigger functions, the membership lookup of the policies, the read path''s row sources). Not an API schema: PostgREST does not expose it.';

-- Name: public; Type: SCHEMA; Schema: -; Owner: pg_database_owner
CREATE SCHEMA public;

ALTER SCHEMA public OWNER TO pg_database_owner;

-- Name: SCHEMA public; Type: COMMENT; Schema: -; Owner: pg_database_owner
COMMENT ON SCHEMA public IS 'standard public schema';

-- Name: stats; Type: SCHEMA; Schema: -; Owner: postgres
CREATE SCHEMA stats;

ALTER SCHEMA stats OWNER TO postgres;

-- Name: SCHEMA stats; Type: COMMENT; Schema: -; Owner: postgres
COMMENT ON SCHEMA stats IS 'Private statistics: the counting definition, the materialized views and their refresh machinery. No API role has USAGE; users read public.peer_mentor_stats and public.activity_time_series.';

-- Name: activity_time_series_rows(); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.activity_time_series_rows() RETURNS TABLE(chapter_id uuid, month date, activity_type_id smallint, activity_count bigint, total_minutes bigint, active_mentors bigint)
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 500
    SET search_path TO ''
    AS $$
    with coordinated as (
        select (select private.member_chapter_ids('coordinator')) as chapter_ids
    )
    select s.chapter_id, s.month, s.activity_type_id, s.activity_count, s.total_minutes,
           s.active_mentors
    from stats.mv_activity_time_series s, coordinated c
    where s.chapter_id = any (c.chapter_ids)
    union all
    select m.chapter_id, m.month, m.activity_type_id, sum(m.activity_count)::bigint,
           sum(m.total_minutes)::bigint, 1::bigint
    from stats.activity_month_summary m, coordinated c
    where m.peer_mentor_id = (select auth.uid())
      and m.chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
      and not m.chapter_id = any (c.chapter_ids)
    group by m.chapter_id, m.month, m.activity_type_id
$$;

ALTER FUNCTION private.activity_time_series_rows() OWNER TO postgres;

-- Name: FUNCTION activity_time_series_rows(); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.activity_time_series_rows() IS 'Rows of public.activity_time_series for the caller: the chapters they coordinate, from stats.mv_activity_time_series; in chapters where they are only a peer mentor, their own figures, from stats.activity_month_summary (as of the same refresh).';

-- Name: bufdir_export_rows(date, date, uuid[]); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.bufdir_export_rows(p_from date, p_to date, p_chapter_ids uuid[]) RETURNS TABLE(chapter_id uuid, activity_type_id smallint, activity_type_code text, activity_count bigint, total_minutes bigint)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    if p_from is null or p_to is null then
        raise exception 'bufdir_export needs both p_from and p_to'
            using errcode = 'invalid_parameter_value';
    end if;
    if p_from > p_to then
        raise exception 'bufdir_export: p_from (%) is after p_to (%)', p_from, p_to
            using errcode = 'invalid_parameter_value';
    end if;
    return query
        select
            c.chapter_id,
            c.activity_type_id,
            t.code,
            count(*),
            sum(c.duration_minutes)::bigint
        from stats.counted_activities c
        join public.activity_types t on t.id = c.activity_type_id
        where c.activity_date between p_from and p_to
          -- a sub-select: the lookup runs once per call, not once per counted row
          and c.chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
          and (p_chapter_ids is null or c.chapter_id = any (p_chapter_ids))
        group by c.chapter_id, c.activity_type_id, t.code
        order by c.chapter_id, c.activity_type_id;
end
$$;

ALTER FUNCTION private.bufdir_export_rows(p_from date, p_to date, p_chapter_ids uuid[]) OWNER TO postgres;

-- Name: FUNCTION bufdir_export_rows(p_from date, p_to date, p_chapter_ids uuid[]); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.bufdir_export_rows(p_from date, p_to date, p_chapter_ids uuid[]) IS 'The rows of public.bufdir_export: per chapter the caller (auth.uid()) coordinates and activity kind, the activities counted by stats.counted_activities and their minutes, dated p_from..p_to, narrowed to p_chapter_ids when given.';

-- Name: current_month_start(); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.current_month_start() RETURNS date
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    select private.oslo_month_start(pg_catalog.now())
$$;

ALTER FUNCTION private.current_month_start() OWNER TO postgres;

-- Name: FUNCTION current_month_start(); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.current_month_start() IS 'The first day of the current month in Europe/Oslo: the one clock of the read path.';

-- Name: enforce_coordinator_chapter_limit(); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.enforce_coordinator_chapter_limit() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
    v_other_chapters integer;
begin
    if new.member_role <> 'coordinator' then
        return new;
    end if;
    -- Two transactions adding chapters for the same coordinator would both count four and both
    -- insert; a per-user lock held to the end of the transaction makes the second count again.
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('public.chapter_memberships/coordinator/' || new.user_id, 0));
    select count(*) into v_other_chapters
    from public.chapter_memberships m
    where m.user_id = new.user_id
      and m.member_role = 'coordinator'
      and m.chapter_id <> new.chapter_id
      -- on UPDATE, the row being changed is not another chapter
      and (m.user_id, m.chapter_id, m.member_role)
          is distinct from (old.user_id, old.chapter_id, old.member_role);
    if v_other_chapters >= 5 then
        raise exception 'coordinator % already has five chapters, the most a coordinator may have',
            new.user_id
            using errcode = 'check_violation',
                  schema = 'public',
                  table = 'chapter_memberships',
                  constraint = 'chapter_memberships_coordinator_max_five_chapters',
                  hint = 'Remove one of the coordinator''s chapters before adding another.';
    end if;
    return new;
end
$$;

ALTER FUNCTION private.enforce_coordinator_chapter_limit() OWNER TO postgres;

-- Name: FUNCTION enforce_coordinator_chapter_limit(); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.enforce_coordinator_chapter_limit() IS 'Trigger function: refuses a sixth coordinator membership of a user with SQLSTATE 23514 and constraint name chapter_memberships_coordinator_max_five_chapters.';

-- Name: member_chapter_ids(text); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.member_chapter_ids(p_member_role text DEFAULT NULL::text) RETURNS uuid[]
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    select coalesce(array_agg(m.chapter_id), '{}')
    from public.chapter_memberships m
    where m.user_id = (select auth.uid())
      and (p_member_role is null or m.member_role = p_member_role)
$$;

ALTER FUNCTION private.member_chapter_ids(p_member_role text) OWNER TO postgres;

-- Name: FUNCTION member_chapter_ids(p_member_role text); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.member_chapter_ids(p_member_role text) IS 'Chapters the signed-in user (auth.uid()) belongs to with the given role, or with any role when NULL; an empty array for anon and for users without memberships. The one membership lookup of the policies and the read path.';

-- Name: oslo_month_start(timestamp with time zone); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.oslo_month_start(p_at timestamp with time zone) RETURNS date
    LANGUAGE sql IMMUTABLE
    SET search_path TO ''
    AS $$
    select pg_catalog.date_trunc('month', p_at at time zone 'Europe/Oslo')::date
$$;

ALTER FUNCTION private.oslo_month_start(p_at timestamp with time zone) OWNER TO postgres;

-- Name: FUNCTION oslo_month_start(p_at timestamp with time zone); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.oslo_month_start(p_at timestamp with time zone) IS 'The first day of the month p_at falls in, in Europe/Oslo (the organisation''s calendar).';

-- Name: peer_mentor_stats_rows(); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.peer_mentor_stats_rows() RETURNS TABLE(chapter_id uuid, peer_mentor_id uuid, full_name text, activity_count bigint, total_minutes bigint, last_activity_date date, current_month_count bigint)
    LANGUAGE sql STABLE SECURITY DEFINER ROWS 100
    SET search_path TO ''
    AS $$
    select
        s.chapter_id,
        s.peer_mentor_id,
        p.full_name,
        s.activity_count,
        s.total_minutes,
        s.last_activity_date,
        case when s.counted_month = (select private.current_month_start())
             then s.current_month_count else 0 end
    from stats.mv_peer_mentor_stats s
    join public.profiles p on p.id = s.peer_mentor_id
    -- Sub-selects: evaluated once per call, not once per row.
    where s.chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
       or (
           s.peer_mentor_id = (select auth.uid())
           and s.chapter_id = any ((select private.member_chapter_ids('peer_mentor'))::uuid[])
       )
$$;

ALTER FUNCTION private.peer_mentor_stats_rows() OWNER TO postgres;

-- Name: FUNCTION peer_mentor_stats_rows(); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.peer_mentor_stats_rows() IS 'Rows of stats.mv_peer_mentor_stats the caller may see: every mentor of the chapters they coordinate, and their own rows in chapters where they are a peer mentor; the current month''s count decided now.';

-- Name: refuse_read_view_write(); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.refuse_read_view_write() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
    raise exception 'permission denied for view %', tg_table_name
        using errcode = 'insufficient_privilege',
              hint = 'The statistics views are read-only: write to public.activities instead.';
end;
$$;

ALTER FUNCTION private.refuse_read_view_write() OWNER TO postgres;

-- Name: FUNCTION refuse_read_view_write(); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.refuse_read_view_write() IS 'INSTEAD OF trigger of the read views: refuses every write with 42501. It makes the views look updatable to the rewriter, so that the privilege check (no API role may write them) answers a write with 42501 instead of 55000 (HTTP 500 through PostgREST).';

-- Name: stats_freshness_row(); Type: FUNCTION; Schema: private; Owner: postgres
CREATE FUNCTION private.stats_freshness_row() RETURNS TABLE(stats_as_of timestamp with time zone, changes_pending boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    with scope as (
        select (select auth.uid()) as peer_mentor_id
        union
        select m.user_id
        from public.chapter_memberships m
        where m.member_role = 'peer_mentor'
          and m.chapter_id = any ((select private.member_chapter_ids('coordinator'))::uuid[])
    ), waiting as (
        select exists (
            select from stats.activity_summary_changes c
            where c.peer_mentor_id in (select s.peer_mentor_id from scope s)
        ) as pending
    )
    select
        case when w.pending then coalesce(l.views_as_of, l.refreshed_at) else pg_catalog.now() end,
        w.pending
    from waiting w
    left join stats.stats_refresh_log l on l.id
    where (select auth.uid()) is not null
$$;

ALTER FUNCTION private.stats_freshness_row() OWNER TO postgres;

-- Name: FUNCTION stats_freshness_row(); Type: COMMENT; Schema: private; Owner: postgres
COMMENT ON FUNCTION private.stats_freshness_row() IS 'For the signed-in caller: whether changes to the figures they read wait for a refresh (in stats.activity_summary_changes), and as of when their figures are current: now when nothing waits, else when the last refresh began.';

-- Name: bufdir_export(date, date, uuid[]); Type: FUNCTION; Schema: public; Owner: postgres
CREATE FUNCTION public.bufdir_export(p_from date, p_to date, p_chapter_ids uuid[] DEFAULT NULL::uuid[]) RETURNS TABLE(chapter_id uuid, activity_type_id smallint, activity_type_code text, activity_count bigint, total_minutes bigint)
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
    select r.chapter_id, r.activity_type_id, r.activity_type_code, r.activity_count,
           r.total_minutes
    from private.bufdir_export_rows(p_from, p_to, p_chapter_ids) r
    order by r.chapter_id, r.activity_type_id
$$;

ALTER FUNCTION public.bufdir_export(p_from date, p_to date, p_chapter_ids uuid[]) OWNER TO postgres;

-- Name: FUNCTION bufdir_export(p_from date, p_to date, p_chapter_ids uuid[]); Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON FUNCTION public.bufdir_export(p_from date, p_to date, p_chapter_ids uuid[]) IS 'The Bufdir report (RPC): per chapter and activity kind, the counted activities and minutes dated p_from..p_to (inclusive), for the chapters the caller coordinates, narrowed to p_chapter_ids when given (other chapters are silently left out).';

-- Name: apply_activity_summary_changes(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.apply_activity_summary_changes() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    SET work_mem TO '64MB'
    AS $$
declare
    v_mentors uuid[];
    v_kinds smallint[];
    v_months date[];
    v_groups integer;
begin
    -- activities first, then the advisory lock: the order the TRUNCATE trigger holds them in
    lock table public.activities in access share mode;
    perform stats.lock_activity_month_summary();

    -- `where true`: every row this snapshot sees (safeupdate refuses a DELETE without WHERE)
    with taken as (
        delete from stats.activity_summary_changes c
        where true
        returning c.peer_mentor_id, c.activity_type_id, c.month
    ), keys as (
        select distinct t.peer_mentor_id, t.activity_type_id, t.month from taken t
    )
    select pg_catalog.array_agg(k.peer_mentor_id), pg_catalog.array_agg(k.activity_type_id),
           pg_catalog.array_agg(k.month)
    into v_mentors, v_kinds, v_months
    from keys k;

    v_groups := coalesce(pg_catalog.cardinality(v_mentors), 0);
    if v_groups = 0 then
        return 0;
    end if;

    -- Many changed groups at once (a bulk load): one pass over everything is cheaper.
    if v_groups > 2000 then
        perform stats.recompute_activity_month_summary();
        return v_groups;
    end if;

    delete from stats.activity_month_summary s
    using rows from (pg_catalog.unnest(v_mentors), pg_catalog.unnest(v_kinds),
                     pg_catalog.unnest(v_months)) as k (peer_mentor_id, activity_type_id, month)
    where s.peer_mentor_id = k.peer_mentor_id
      and s.activity_type_id = k.activity_type_id
      and s.month = k.month;

    insert into stats.activity_month_summary (chapter_id, peer_mentor_id, activity_type_id, month,
                                              activity_count, total_minutes, last_activity_date)
    select c.chapter_id, k.peer_mentor_id, k.activity_type_id, k.month,
           count(*)::integer, sum(c.duration_minutes)::integer, max(c.activity_date)
    from rows from (pg_catalog.unnest(v_mentors), pg_catalog.unnest(v_kinds),
                    pg_catalog.unnest(v_months)) as k (peer_mentor_id, activity_type_id, month)
    cross join lateral (
        select a.chapter_id, a.duration_minutes, a.activity_date
        from stats.counted_activities a
        where a.peer_mentor_id = k.peer_mentor_id
          and a.activity_type_id = k.activity_type_id
          and a.activity_date >= k.month
          and a.activity_date < (k.month + interval '1 month')::date
        -- keeps the planner from flattening this into one join over every counted activity: each
        -- group is then read from the activities_counting_* indexes with its own key
        offset 0
    ) c
    group by c.chapter_id, k.peer_mentor_id, k.activity_type_id, k.month;

    return v_groups;
end
$$;

ALTER FUNCTION stats.apply_activity_summary_changes() OWNER TO stats_owner;

-- Name: FUNCTION apply_activity_summary_changes(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.apply_activity_summary_changes() IS 'Brings stats.activity_month_summary up to date: takes the logged groups it can see out of stats.activity_summary_changes and recomputes them from stats.counted_activities (everything when more than 2 000 groups changed). One caller at a time (stats.lock_activity_month_summary()). Returns how many groups it recomputed.';

-- Name: compute_activity_time_series(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.compute_activity_time_series() RETURNS TABLE(chapter_id uuid, month date, activity_type_id smallint, activity_count bigint, total_minutes bigint, active_mentors bigint)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    SET work_mem TO '64MB'
    AS $$
begin
    perform stats.apply_activity_summary_changes();
    return query
    select
        s.chapter_id,
        s.month,
        s.activity_type_id,
        sum(s.activity_count)::bigint,
        sum(s.total_minutes)::bigint,
        count(*) filter (where s.activity_count > 0)
    from stats.activity_month_summary s
    group by s.chapter_id, s.month, s.activity_type_id;
end
$$;

ALTER FUNCTION stats.compute_activity_time_series() OWNER TO stats_owner;

-- Name: FUNCTION compute_activity_time_series(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.compute_activity_time_series() IS 'The query of stats.mv_activity_time_series: per chapter, month (its first day) and activity kind with counted activities, how many, total minutes and distinct mentors. Applies the logged changes to stats.activity_month_summary first, then reads it. A function so that the query carries its settings (jit, work_mem).';

-- Name: compute_peer_mentor_stats(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.compute_peer_mentor_stats() RETURNS TABLE(chapter_id uuid, peer_mentor_id uuid, activity_count bigint, total_minutes bigint, last_activity_date date, current_month_count bigint, counted_month date)
    LANGUAGE plpgsql
    SET search_path TO ''
    SET jit TO 'off'
    SET work_mem TO '64MB'
    AS $$
declare
    -- Taken once: every row's count is for the same month.
    v_month date := pg_catalog.date_trunc(
        'month', pg_catalog.clock_timestamp() at time zone 'Europe/Oslo')::date;
begin
    perform stats.apply_activity_summary_changes();
    return query
    select
        s.chapter_id,
        s.peer_mentor_id,
        sum(s.activity_count)::bigint,
        sum(s.total_minutes)::bigint,
        max(s.last_activity_date),
        coalesce(sum(s.activity_count) filter (where s.month >= v_month), 0)::bigint,
        v_month
    from stats.activity_month_summary s
    group by s.chapter_id, s.peer_mentor_id;
end
$$;

ALTER FUNCTION stats.compute_peer_mentor_stats() OWNER TO stats_owner;

-- Name: FUNCTION compute_peer_mentor_stats(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.compute_peer_mentor_stats() IS 'The query of stats.mv_peer_mentor_stats: per chapter and peer mentor with counted activities, how many, total minutes, the last date, and how many in the current month (Europe/Oslo) when it runs, with that month. Applies the logged changes to stats.activity_month_summary first, then reads it.';

-- Name: configure_stats_flusher(interval, boolean); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.configure_stats_flusher(p_flush_interval interval DEFAULT NULL::interval, p_paused boolean DEFAULT NULL::boolean) RETURNS jsonb
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    SET lock_timeout TO '5s'
    AS $$
    update stats.stats_refresh_log l
    set flush_interval = coalesce(p_flush_interval, l.flush_interval),
        flush_paused = coalesce(p_paused, l.flush_paused)
    where l.id
    returning pg_catalog.to_jsonb(l.*)
$$;

ALTER FUNCTION stats.configure_stats_flusher(p_flush_interval interval, p_paused boolean) OWNER TO stats_owner;

-- Name: FUNCTION configure_stats_flusher(p_flush_interval interval, p_paused boolean); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.configure_stats_flusher(p_flush_interval interval, p_paused boolean) IS 'Sets the flusher''s interval and/or pauses or resumes it; a NULL argument leaves that setting alone. Returns the log row as jsonb.';

-- Name: configure_stats_refresh(interval, text); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.configure_stats_refresh(p_debounce_window interval DEFAULT NULL::interval, p_mode text DEFAULT NULL::text) RETURNS jsonb
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    SET lock_timeout TO '5s'
    AS $$
    update stats.stats_refresh_log l
    set debounce_window = coalesce(p_debounce_window, l.debounce_window),
        mode = coalesce(p_mode, l.mode)
    where l.id
    returning pg_catalog.to_jsonb(l.*)
$$;

ALTER FUNCTION stats.configure_stats_refresh(p_debounce_window interval, p_mode text) OWNER TO stats_owner;

-- Name: FUNCTION configure_stats_refresh(p_debounce_window interval, p_mode text); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.configure_stats_refresh(p_debounce_window interval, p_mode text) IS 'Sets the debounce window and/or the mode (commit | flush_only) of the stats refresh; a NULL argument leaves that setting alone. Returns the log row as jsonb.';

-- Name: expire_stats_refresh_window(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.expire_stats_refresh_window() RETURNS jsonb
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    SET lock_timeout TO '5s'
    AS $$
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

ALTER FUNCTION stats.expire_stats_refresh_window() OWNER TO stats_owner;

-- Name: FUNCTION expire_stats_refresh_window(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.expire_stats_refresh_window() IS 'Ends the current debounce window and any backoff after a failure: the next commit that changes activities refreshes, and so does the next flush. Moves refreshed_at and last_failure_at back to the window''s edge (no further), so the log still says roughly when they happened. Returns the log row as jsonb.';

-- Name: flush_stats_refresh(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.flush_stats_refresh() RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET lock_timeout TO '1s'
    AS $$
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

ALTER FUNCTION stats.flush_stats_refresh() OWNER TO stats_owner;

-- Name: FUNCTION flush_stats_refresh(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.flush_stats_refresh() IS 'The trailing flush (pg_cron job stats-refresh-flush): refreshes both stats views when a committed change is pending, whatever the debounce window. Returns idle (nothing pending), busy (another refresh held the log row past lock_timeout), backoff (a cycle failed less than debounce_window ago, not transiently), refreshed, or failed (recorded in stats_refresh_failures).';

-- Name: lock_activity_month_summary(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.lock_activity_month_summary() RETURNS void
    LANGUAGE sql
    SET search_path TO ''
    AS $$
    select pg_catalog.pg_advisory_xact_lock(20261125000009)
$$;

ALTER FUNCTION stats.lock_activity_month_summary() OWNER TO stats_owner;

-- Name: FUNCTION lock_activity_month_summary(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.lock_activity_month_summary() IS 'Takes the transaction-level advisory lock that lets one writer of stats.activity_month_summary at a time (the applier, the TRUNCATE trigger) change it. Callers take their lock on public.activities first, so the two are always taken in the same order.';

-- Name: recompute_activity_month_summary(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.recompute_activity_month_summary() RETURNS void
    LANGUAGE sql
    SET search_path TO ''
    SET jit TO 'off'
    SET work_mem TO '64MB'
    AS $$
    delete from stats.activity_month_summary where true;
    insert into stats.activity_month_summary (chapter_id, peer_mentor_id, activity_type_id, month,
                                              activity_count, total_minutes, last_activity_date)
    select c.chapter_id, c.peer_mentor_id, c.activity_type_id,
           pg_catalog.date_trunc('month', c.activity_date::timestamp)::date,
           count(*)::integer, sum(c.duration_minutes)::integer, max(c.activity_date)
    from stats.counted_activities c
    group by 1, 2, 3, 4;
$$;

ALTER FUNCTION stats.recompute_activity_month_summary() OWNER TO stats_owner;

-- Name: FUNCTION recompute_activity_month_summary(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.recompute_activity_month_summary() IS 'Replaces every row of stats.activity_month_summary with a fresh aggregate of stats.counted_activities. The caller holds stats.lock_activity_month_summary().';

-- Name: record_refresh_failure(text, text, text, text, text); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.record_refresh_failure(p_source text, p_sqlstate text, p_message text, p_detail text, p_context text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION stats.record_refresh_failure(p_source text, p_sqlstate text, p_message text, p_detail text, p_context text) OWNER TO stats_owner;

-- Name: FUNCTION record_refresh_failure(p_source text, p_sqlstate text, p_message text, p_detail text, p_context text); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.record_refresh_failure(p_source text, p_sqlstate text, p_message text, p_detail text, p_context text) IS 'Records a failed refresh cycle: a row in stats_refresh_failures (for a transient failure, unless one with the same source and SQLSTATE is less than debounce_window old), the writer''s change as pending (source commit), and last_failure_at, last_failure_transient, failing_since and failed_cycles on the log row (which starts the backoff); then raises the failure as a WARNING. Never raises an error.';

-- Name: run_stats_refresh(text); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.run_stats_refresh(p_source text) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
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

ALTER FUNCTION stats.run_stats_refresh(p_source text) OWNER TO stats_owner;

-- Name: FUNCTION run_stats_refresh(p_source text); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.run_stats_refresh(p_source text) IS 'Refreshes stats.mv_peer_mentor_stats and stats.mv_activity_time_series concurrently, records the cycle in stats_refresh_log (clearing any failure state) and forgets the pending changes it covered. The caller must hold the log row (FOR UPDATE) and run as stats_owner.';

-- Name: run_stats_refresh_flusher_round(timestamp with time zone, boolean, timestamp with time zone); Type: FUNCTION; Schema: stats; Owner: postgres
CREATE FUNCTION stats.run_stats_refresh_flusher_round(p_started timestamp with time zone, p_first boolean, p_until timestamp with time zone DEFAULT NULL::timestamp with time zone) RETURNS interval
    LANGUAGE plpgsql
    SET search_path TO ''
    SET lock_timeout TO '1s'
    AS $$
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

ALTER FUNCTION stats.run_stats_refresh_flusher_round(p_started timestamp with time zone, p_first boolean, p_until timestamp with time zone) OWNER TO postgres;

-- Name: FUNCTION run_stats_refresh_flusher_round(p_started timestamp with time zone, p_first boolean, p_until timestamp with time zone); Type: COMMENT; Schema: stats; Owner: postgres
COMMENT ON FUNCTION stats.run_stats_refresh_flusher_round(p_started timestamp with time zone, p_first boolean, p_until timestamp with time zone) IS 'One round of a flusher run that started at p_started (the command of the pg_cron job stats-refresh-flush calls it, committing after each): refreshes through stats.flush_stats_refresh() when a committed change is pending and the flusher is not paused, then returns how long to wait for the next tick (flush_interval apart), or NULL when the run ends: at p_until (by default just after the next minute, when pg_cron starts the next run), when the job is inactive or gone, or when another flusher runs. The first round (p_first) always works, however late the run started.';

-- Name: trg_arm_activity_summary_log(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.trg_arm_activity_summary_log() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
begin
    perform pg_catalog.set_config('stats.summary_log_' || pg_catalog.lower(tg_op), 'armed', true);
    return null;
end
$$;

ALTER FUNCTION stats.trg_arm_activity_summary_log() OWNER TO stats_owner;

-- Name: FUNCTION trg_arm_activity_summary_log(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.trg_arm_activity_summary_log() IS 'Trigger function of trg_activity_summary_arm_{insert,update,delete}: at the start of each statement on public.activities, marks its operation as not logged yet, so that the first row event of stats.trg_log_activity_summary_changes() logs the whole statement.';

-- Name: trg_log_activity_summary_changes(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.trg_log_activity_summary_changes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
declare
    v_flag text := 'stats.summary_log_' || pg_catalog.lower(tg_op);
begin
    if pg_catalog.current_setting(v_flag, true) is distinct from 'armed' then
        return null;
    end if;
    perform pg_catalog.set_config(v_flag, 'done', true);

    if tg_op = 'INSERT' then
        insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
        select distinct n.peer_mentor_id, n.activity_type_id,
               pg_catalog.date_trunc('month', n.activity_date::timestamp)::date
        from new_rows n;
    elsif tg_op = 'UPDATE' then
        insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
        select distinct r.peer_mentor_id, r.activity_type_id,
               pg_catalog.date_trunc('month', r.activity_date::timestamp)::date
        from (
            select o.peer_mentor_id, o.activity_type_id, o.activity_date from old_rows o
            union all
            select n.peer_mentor_id, n.activity_type_id, n.activity_date from new_rows n
        ) r;
    elsif tg_op = 'DELETE' then
        insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
        select distinct o.peer_mentor_id, o.activity_type_id,
               pg_catalog.date_trunc('month', o.activity_date::timestamp)::date
        from old_rows o;
    end if;
    return null;
end
$$;

ALTER FUNCTION stats.trg_log_activity_summary_changes() OWNER TO stats_owner;

-- Name: FUNCTION trg_log_activity_summary_changes(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.trg_log_activity_summary_changes() IS 'Trigger function of trg_activity_summary_{insert,update,delete}: once per statement (its first row event), appends the distinct (peer mentor, kind, month) groups of the changed activities (old and new rows of an UPDATE) to stats.activity_summary_changes. Never touches the summary itself.';

-- Name: trg_log_activity_type_summary_changes(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.trg_log_activity_type_summary_changes() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    insert into stats.activity_summary_changes (peer_mentor_id, activity_type_id, month)
    select distinct a.peer_mentor_id, a.activity_type_id,
           pg_catalog.date_trunc('month', a.activity_date::timestamp)::date
    from public.activities a
    where a.activity_type_id in (
        select o.id
        from old_rows o
        join new_rows n on n.id = o.id
        where n.counts_for_bufdir is distinct from o.counts_for_bufdir
    );
    return null;
end
$$;

ALTER FUNCTION stats.trg_log_activity_type_summary_changes() OWNER TO stats_owner;

-- Name: FUNCTION trg_log_activity_type_summary_changes(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.trg_log_activity_type_summary_changes() IS 'Trigger function of trg_activity_type_summary_update: when a kind''s counts_for_bufdir changes, appends every (peer mentor, kind, month) group of that kind to stats.activity_summary_changes.';

-- Name: trg_refresh_stats_views(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.trg_refresh_stats_views() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    SET lock_timeout TO '250ms'
    AS $$
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

ALTER FUNCTION stats.trg_refresh_stats_views() OWNER TO stats_owner;

-- Name: FUNCTION trg_refresh_stats_views(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.trg_refresh_stats_views() IS 'Trigger function of trg_refresh_stats_views: once per transaction (per command when fired early by SET CONSTRAINTS ... IMMEDIATE), at commit, refreshes both stats views unless the debounce window, the backoff after a failure, another refresh, the mode or the isolation level says to leave it to the flush. Never fails the write.';

-- Name: trg_truncate_activity_summary(); Type: FUNCTION; Schema: stats; Owner: stats_owner
CREATE FUNCTION stats.trg_truncate_activity_summary() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
begin
    -- activities is already held (ACCESS EXCLUSIVE), so the lock order is the applier's
    perform stats.lock_activity_month_summary();
    delete from stats.activity_summary_changes where true;
    delete from stats.activity_month_summary where true;
    return null;
end
$$;

ALTER FUNCTION stats.trg_truncate_activity_summary() OWNER TO stats_owner;

-- Name: FUNCTION trg_truncate_activity_summary(); Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON FUNCTION stats.trg_truncate_activity_summary() IS 'Trigger function of trg_activity_summary_truncate: a TRUNCATE of activities empties stats.activity_month_summary and stats.activity_summary_changes.';

-- Name: activities; Type: TABLE; Schema: public; Owner: postgres
CREATE TABLE public.activities (
    id bigint NOT NULL,
    peer_mentor_id uuid NOT NULL,
    chapter_id uuid NOT NULL,
    activity_type_id smallint NOT NULL,
    activity_date date NOT NULL,
    duration_minutes integer NOT NULL,
    contact_ref text,
    status text DEFAULT 'registered'::text NOT NULL,
    created_by uuid DEFAULT auth.uid(),
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    mentor_role text GENERATED ALWAYS AS ('peer_mentor'::text) STORED NOT NULL,
    CONSTRAINT activities_activity_date_not_in_future CHECK ((activity_date <= ((now() AT TIME ZONE 'Europe/Oslo'::text))::date)),
    CONSTRAINT activities_activity_date_plausible CHECK ((activity_date >= '2000-01-01'::date)),
    CONSTRAINT activities_contact_ref_length CHECK (((char_length(contact_ref) >= 1) AND (char_length(contact_ref) <= 100))),
    CONSTRAINT activities_duration_minutes_range CHECK (((duration_minutes >= 1) AND (duration_minutes <= 1440))),
    CONSTRAINT activities_status_valid CHECK ((status = ANY (ARRAY['registered'::text, 'cancelled'::text])))
);

ALTER TABLE public.activities OWNER TO postgres;

-- Name: TABLE activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TABLE public.activities IS 'Activities registered by or for peer mentors. A peer mentor reads and registers their own in their chapters; a coordinator reads, registers and corrects those of the chapters they coordinate.';

-- Name: COLUMN activities.activity_date; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.activities.activity_date IS 'The day the activity took place, in the organisation''s time zone (Europe/Oslo).';

-- Name: COLUMN activities.duration_minutes; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.activities.duration_minutes IS 'Between 1 and 1440 minutes.';

-- Name: COLUMN activities.contact_ref; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.activities.contact_ref IS 'Reference to the person met, if any. Registrations of the same mentor, type, date and contact_ref are duplicates; without a contact_ref an activity is never a duplicate.';

-- Name: COLUMN activities.status; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.activities.status IS 'registered, or cancelled (never counted).';

-- Name: COLUMN activities.created_by; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.activities.created_by IS 'Who registered the activity: the mentor, or a coordinator on their behalf.';

-- Name: COLUMN activities.mentor_role; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.activities.mentor_role IS 'Always peer_mentor: an activity is refused (activities_peer_mentor_membership_fkey) unless its mentor is a peer mentor of its chapter.';

-- Name: CONSTRAINT activities_activity_date_not_in_future ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON CONSTRAINT activities_activity_date_not_in_future ON public.activities IS 'An activity cannot take place after today in Europe/Oslo.';

-- Name: activities_id_seq; Type: SEQUENCE; Schema: public; Owner: postgres
ALTER TABLE public.activities ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.activities_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- Name: activity_time_series; Type: VIEW; Schema: public; Owner: postgres
CREATE VIEW public.activity_time_series WITH (security_invoker='true') AS
 SELECT r.chapter_id,
    r.month,
    r.activity_type_id,
    r.activity_count,
    r.total_minutes,
    r.active_mentors
   FROM private.activity_time_series_rows() r(chapter_id, month, activity_type_id, activity_count, total_minutes, active_mentors);

ALTER TABLE public.activity_time_series OWNER TO postgres;

-- Name: VIEW activity_time_series; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON VIEW public.activity_time_series IS 'Per chapter, month and activity kind: counted activities, minutes and active mentors. A coordinator sees their chapters; a peer mentor sees only their own figures.';

-- Name: activity_types; Type: TABLE; Schema: public; Owner: postgres
CREATE TABLE public.activity_types (
    id smallint NOT NULL,
    code text NOT NULL,
    name text NOT NULL,
    counts_for_bufdir boolean NOT NULL,
    CONSTRAINT activity_types_code_format CHECK ((code ~ '^[a-z][a-z0-9_]{0,39}$'::text)),
    CONSTRAINT activity_types_name_length CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200)))
);

ALTER TABLE public.activity_types OWNER TO postgres;

-- Name: TABLE activity_types; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TABLE public.activity_types IS 'Kinds of activity. counts_for_bufdir says whether the kind is reported to Bufdir.';

-- Name: COLUMN activity_types.code; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.activity_types.code IS 'Stable machine name (lower case, a-z0-9_).';

-- Name: COLUMN activity_types.counts_for_bufdir; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.activity_types.counts_for_bufdir IS 'Activities of this kind count in the statistics and the Bufdir export.';

-- Name: chapter_memberships; Type: TABLE; Schema: public; Owner: postgres
CREATE TABLE public.chapter_memberships (
    user_id uuid NOT NULL,
    chapter_id uuid NOT NULL,
    member_role text NOT NULL,
    CONSTRAINT chapter_memberships_member_role_valid CHECK ((member_role = ANY (ARRAY['peer_mentor'::text, 'coordinator'::text])))
)
WITH (vacuum_truncate='false');

ALTER TABLE public.chapter_memberships OWNER TO postgres;

-- Name: TABLE chapter_memberships; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TABLE public.chapter_memberships IS 'Who belongs to which chapter, and as what: a peer mentor registers activities there, a coordinator sees the chapter''s activities and statistics. A coordinator has at most five chapters. You see your own memberships; a coordinator also sees those of their chapters.';

-- Name: COLUMN chapter_memberships.member_role; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.chapter_memberships.member_role IS 'peer_mentor or coordinator.';

-- Name: chapters; Type: TABLE; Schema: public; Owner: postgres
CREATE TABLE public.chapters (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    CONSTRAINT chapters_name_length CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200)))
);

ALTER TABLE public.chapters OWNER TO postgres;

-- Name: TABLE chapters; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TABLE public.chapters IS 'Local chapters of the organisation. You see the chapters you belong to.';

-- Name: COLUMN chapters.name; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.chapters.name IS 'Display name, unique across the organisation.';

-- Name: peer_mentor_stats; Type: VIEW; Schema: public; Owner: postgres
CREATE VIEW public.peer_mentor_stats WITH (security_invoker='true') AS
 SELECT r.chapter_id,
    r.peer_mentor_id,
    r.full_name,
    r.activity_count,
    r.total_minutes,
    r.last_activity_date,
    r.current_month_count
   FROM private.peer_mentor_stats_rows() r(chapter_id, peer_mentor_id, full_name, activity_count, total_minutes, last_activity_date, current_month_count);

ALTER TABLE public.peer_mentor_stats OWNER TO postgres;

-- Name: VIEW peer_mentor_stats; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON VIEW public.peer_mentor_stats IS 'Per chapter and peer mentor: counted activities, minutes, last date and the current month''s count (Europe/Oslo). A coordinator sees their chapters, a peer mentor their own rows.';

-- Name: profiles; Type: TABLE; Schema: public; Owner: postgres
CREATE TABLE public.profiles (
    id uuid NOT NULL,
    full_name text NOT NULL,
    CONSTRAINT profiles_full_name_length CHECK (((char_length(full_name) >= 1) AND (char_length(full_name) <= 200)))
)
WITH (vacuum_truncate='false');

ALTER TABLE public.profiles OWNER TO postgres;

-- Name: TABLE profiles; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TABLE public.profiles IS 'The app''s users (peer mentors and coordinators). You see your own profile; a coordinator also sees the members of their chapters.';

-- Name: COLUMN profiles.full_name; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.profiles.full_name IS 'The name coordinators see on the dashboard.';

-- Name: stats_freshness; Type: VIEW; Schema: public; Owner: postgres
CREATE VIEW public.stats_freshness WITH (security_invoker='true') AS
 SELECT r.stats_as_of,
    r.changes_pending
   FROM private.stats_freshness_row() r(stats_as_of, changes_pending);

ALTER TABLE public.stats_freshness OWNER TO postgres;

-- Name: VIEW stats_freshness; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON VIEW public.stats_freshness IS 'How fresh the figures of peer_mentor_stats and activity_time_series are for you: changes_pending is true while a registration or correction you can see is not counted yet (usually for about a second); stats_as_of is the time your figures are current as of.';

-- Name: COLUMN stats_freshness.stats_as_of; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.stats_freshness.stats_as_of IS 'Your figures include every change committed before this time.';

-- Name: COLUMN stats_freshness.changes_pending; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON COLUMN public.stats_freshness.changes_pending IS 'true while a change to figures you can see is still being counted.';

-- Name: activity_month_summary; Type: TABLE; Schema: stats; Owner: stats_owner
CREATE TABLE stats.activity_month_summary (
    chapter_id uuid NOT NULL,
    peer_mentor_id uuid NOT NULL,
    activity_type_id smallint NOT NULL,
    month date NOT NULL,
    activity_count integer NOT NULL,
    total_minutes integer NOT NULL,
    last_activity_date date NOT NULL,
    CONSTRAINT activity_month_summary_activity_count_positive CHECK ((activity_count > 0)),
    CONSTRAINT activity_month_summary_month_first_day CHECK ((month = (date_trunc('month'::text, (month)::timestamp without time zone))::date))
)
WITH (vacuum_truncate='false');

ALTER TABLE stats.activity_month_summary OWNER TO stats_owner;

-- Name: TABLE activity_month_summary; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON TABLE stats.activity_month_summary IS 'The counted activities (stats.counted_activities) per chapter, peer mentor, activity kind and month: what both stats views are computed from. Written only by stats.apply_activity_summary_changes() (and emptied by a TRUNCATE of activities); current as of the last refresh, plus the changes still listed in stats.activity_summary_changes.';

-- Name: COLUMN activity_month_summary.chapter_id; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_month_summary.chapter_id IS 'The chapter the counted activities belong to (a duplicate counts in the earliest one''s).';

-- Name: COLUMN activity_month_summary.peer_mentor_id; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_month_summary.peer_mentor_id IS 'The peer mentor.';

-- Name: COLUMN activity_month_summary.activity_type_id; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_month_summary.activity_type_id IS 'The activity kind.';

-- Name: COLUMN activity_month_summary.month; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_month_summary.month IS 'The month, as its first day.';

-- Name: COLUMN activity_month_summary.activity_count; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_month_summary.activity_count IS 'How many activities of the group count for Bufdir (never 0: an empty group has no row).';

-- Name: COLUMN activity_month_summary.total_minutes; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_month_summary.total_minutes IS 'The minutes of those activities.';

-- Name: COLUMN activity_month_summary.last_activity_date; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_month_summary.last_activity_date IS 'The latest date among those activities.';

-- Name: CONSTRAINT activity_month_summary_activity_count_positive ON activity_month_summary; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON CONSTRAINT activity_month_summary_activity_count_positive ON stats.activity_month_summary IS 'A group without counted activities has no row, so counting rows counts active mentors.';

-- Name: CONSTRAINT activity_month_summary_month_first_day ON activity_month_summary; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON CONSTRAINT activity_month_summary_month_first_day ON stats.activity_month_summary IS 'A month is stored as its first day.';

-- Name: activity_summary_changes; Type: TABLE; Schema: stats; Owner: stats_owner
CREATE TABLE stats.activity_summary_changes (
    peer_mentor_id uuid NOT NULL,
    activity_type_id smallint NOT NULL,
    month date NOT NULL
)
WITH (vacuum_truncate='false');

ALTER TABLE stats.activity_summary_changes OWNER TO stats_owner;

-- Name: TABLE activity_summary_changes; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON TABLE stats.activity_summary_changes IS 'Insert-only log of the (peer mentor, kind, month) groups whose activities changed since the summary last took them in. Written by the triggers on public.activities and public.activity_types; emptied by stats.apply_activity_summary_changes(). No unique key: writers never wait on each other. Rows of uncommitted transactions stay for the next apply.';

-- Name: COLUMN activity_summary_changes.peer_mentor_id; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_summary_changes.peer_mentor_id IS 'The peer mentor of the group.';

-- Name: COLUMN activity_summary_changes.activity_type_id; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_summary_changes.activity_type_id IS 'The kind of the group.';

-- Name: COLUMN activity_summary_changes.month; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.activity_summary_changes.month IS 'The month of the group (first day).';

-- Name: counted_activities; Type: VIEW; Schema: stats; Owner: stats_owner
CREATE VIEW stats.counted_activities AS
 SELECT a.id,
    a.chapter_id,
    a.peer_mentor_id,
    a.activity_type_id,
    a.activity_date,
    a.duration_minutes
   FROM public.activities a
  WHERE ((a.status = 'registered'::text) AND (a.contact_ref IS NULL) AND (a.activity_type_id = ANY (ARRAY( SELECT t.id
           FROM public.activity_types t
          WHERE t.counts_for_bufdir))))
UNION ALL
( SELECT DISTINCT ON (f.peer_mentor_id, f.activity_type_id, f.activity_date, f.contact_ref) f.id,
    f.chapter_id,
    f.peer_mentor_id,
    f.activity_type_id,
    f.activity_date,
    f.duration_minutes
   FROM public.activities f
  WHERE ((f.status = 'registered'::text) AND (f.contact_ref IS NOT NULL) AND (f.activity_type_id = ANY (ARRAY( SELECT t.id
           FROM public.activity_types t
          WHERE t.counts_for_bufdir))))
  ORDER BY f.peer_mentor_id, f.activity_type_id, f.activity_date, f.contact_ref, f.id);

ALTER TABLE stats.counted_activities OWNER TO stats_owner;

-- Name: VIEW counted_activities; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON VIEW stats.counted_activities IS 'The Bufdir counting rules, the single definition used by stats.mv_peer_mentor_stats, stats.mv_activity_time_series and public.bufdir_export: registered, of a kind that counts, and not a later duplicate (same mentor, kind, date and non-null contact_ref; the lowest id counts, in its own chapter). Reads the activities_counting_* indexes (V008).';

-- Name: mv_activity_time_series; Type: MATERIALIZED VIEW; Schema: stats; Owner: stats_owner
CREATE MATERIALIZED VIEW stats.mv_activity_time_series
WITH (vacuum_truncate='false') AS
 SELECT s.chapter_id,
    s.month,
    s.activity_type_id,
    s.activity_count,
    s.total_minutes,
    s.active_mentors,
    NULL::boolean AS no_duplicate_check
   FROM stats.compute_activity_time_series() s(chapter_id, month, activity_type_id, activity_count, total_minutes, active_mentors)
  WITH NO DATA;

ALTER TABLE stats.mv_activity_time_series OWNER TO stats_owner;

-- Name: MATERIALIZED VIEW mv_activity_time_series; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON MATERIALIZED VIEW stats.mv_activity_time_series IS 'Per chapter, month (its first day) and activity kind with counted activities: how many, total minutes, and how many distinct mentors. Computed by stats.compute_activity_time_series().';

-- Name: COLUMN mv_activity_time_series.no_duplicate_check; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.mv_activity_time_series.no_duplicate_check IS 'Always NULL: REFRESH ... CONCURRENTLY checks only rows without a NULL for duplicates, a check the unique key makes redundant (V018).';

-- Name: mv_peer_mentor_stats; Type: MATERIALIZED VIEW; Schema: stats; Owner: stats_owner
CREATE MATERIALIZED VIEW stats.mv_peer_mentor_stats
WITH (vacuum_truncate='false') AS
 SELECT s.chapter_id,
    s.peer_mentor_id,
    s.activity_count,
    s.total_minutes,
    s.last_activity_date,
    s.current_month_count,
    s.counted_month,
    NULL::boolean AS no_duplicate_check
   FROM stats.compute_peer_mentor_stats() s(chapter_id, peer_mentor_id, activity_count, total_minutes, last_activity_date, current_month_count, counted_month)
  WITH NO DATA;

ALTER TABLE stats.mv_peer_mentor_stats OWNER TO stats_owner;

-- Name: MATERIALIZED VIEW mv_peer_mentor_stats; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON MATERIALIZED VIEW stats.mv_peer_mentor_stats IS 'Per chapter and peer mentor with counted activities: how many, total minutes, the last date, and how many in counted_month, the current month (Europe/Oslo) when it was last refreshed. Computed by stats.compute_peer_mentor_stats().';

-- Name: COLUMN mv_peer_mentor_stats.counted_month; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.mv_peer_mentor_stats.counted_month IS 'The month current_month_count counts. The read path shows that count while this month is the current one, and 0 after.';

-- Name: COLUMN mv_peer_mentor_stats.no_duplicate_check; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.mv_peer_mentor_stats.no_duplicate_check IS 'Always NULL: REFRESH ... CONCURRENTLY checks only rows without a NULL for duplicates, a check the unique key makes redundant (V018).';

-- Name: stats_refresh_failures; Type: TABLE; Schema: stats; Owner: stats_owner
CREATE TABLE stats.stats_refresh_failures (
    id bigint NOT NULL,
    occurred_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    source text NOT NULL,
    sqlstate text NOT NULL,
    message text NOT NULL,
    detail text,
    context text,
    xact_id xid8 DEFAULT pg_current_xact_id() NOT NULL,
    CONSTRAINT stats_refresh_failures_source_valid CHECK ((source = ANY (ARRAY['commit'::text, 'flush'::text])))
);

ALTER TABLE stats.stats_refresh_failures OWNER TO stats_owner;

-- Name: TABLE stats_refresh_failures; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON TABLE stats.stats_refresh_failures IS 'One row per failed refresh cycle (the same failure is also raised as a WARNING). The write that fired the cycle committed; its change waits in stats.stats_refresh_pending.';

-- Name: COLUMN stats_refresh_failures.source; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_failures.source IS 'commit (the trigger, at a user''s commit) or flush (stats.flush_stats_refresh()).';

-- Name: COLUMN stats_refresh_failures.sqlstate; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_failures.sqlstate IS 'The error''s SQLSTATE, e.g. 55P03 when a lock was not granted within lock_timeout.';

-- Name: COLUMN stats_refresh_failures.context; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_failures.context IS 'Where in the cycle the error arose.';

-- Name: COLUMN stats_refresh_failures.xact_id; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_failures.xact_id IS 'The transaction that ran the cycle.';

-- Name: stats_refresh_failures_id_seq; Type: SEQUENCE; Schema: stats; Owner: stats_owner
ALTER TABLE stats.stats_refresh_failures ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME stats.stats_refresh_failures_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

-- Name: stats_refresh_log; Type: TABLE; Schema: stats; Owner: stats_owner
CREATE TABLE stats.stats_refresh_log (
    id boolean DEFAULT true NOT NULL,
    refreshed_at timestamp with time zone,
    refresh_count bigint DEFAULT 0 NOT NULL,
    debounce_window interval DEFAULT '00:00:10'::interval NOT NULL,
    mode text DEFAULT 'commit'::text NOT NULL,
    last_refresh_source text,
    last_refresh_duration interval,
    last_failure_at timestamp with time zone,
    failing_since timestamp with time zone,
    failed_cycles integer DEFAULT 0 NOT NULL,
    views_as_of timestamp with time zone,
    last_failure_transient boolean DEFAULT false NOT NULL,
    flush_interval interval DEFAULT '00:00:01.5'::interval NOT NULL,
    flush_paused boolean DEFAULT false NOT NULL,
    CONSTRAINT stats_refresh_log_debounce_window_not_negative CHECK ((debounce_window >= '00:00:00'::interval)),
    CONSTRAINT stats_refresh_log_failed_cycles_not_negative CHECK ((failed_cycles >= 0)),
    CONSTRAINT stats_refresh_log_flush_interval_range CHECK (((flush_interval >= '00:00:00.1'::interval) AND (flush_interval <= '00:00:30'::interval))),
    CONSTRAINT stats_refresh_log_last_refresh_source_valid CHECK ((last_refresh_source = ANY (ARRAY['commit'::text, 'flush'::text]))),
    CONSTRAINT stats_refresh_log_mode_valid CHECK ((mode = ANY (ARRAY['commit'::text, 'flush_only'::text]))),
    CONSTRAINT stats_refresh_log_refresh_count_not_negative CHECK ((refresh_count >= 0)),
    CONSTRAINT stats_refresh_log_single_row CHECK (id)
)
WITH (vacuum_truncate='false');

ALTER TABLE stats.stats_refresh_log OWNER TO stats_owner;

-- Name: TABLE stats_refresh_log; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON TABLE stats.stats_refresh_log IS 'The persisted debounce state of the stats refresh: exactly one row (id = true), written only by a refresh cycle (under its row lock) and by the operator helpers. RLS is enabled and no API role has a privilege on it; its owner stats_owner is the only writer.';

-- Name: COLUMN stats_refresh_log.refreshed_at; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.refreshed_at IS 'When the last successful refresh cycle finished; NULL (or -infinity) means never.';

-- Name: COLUMN stats_refresh_log.refresh_count; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.refresh_count IS 'Successful refresh cycles since V007 was applied (commit-time and flush together).';

-- Name: COLUMN stats_refresh_log.debounce_window; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.debounce_window IS 'A commit does not refresh when the last refresh finished less than this long ago. Tunable without a migration: stats.configure_stats_refresh(p_debounce_window => ...).';

-- Name: COLUMN stats_refresh_log.mode; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.mode IS 'commit: refresh at commit, debounced, plus the trailing flush; flush_only: never refresh at commit, only from stats.flush_stats_refresh() (for bulk loads and benchmarks).';

-- Name: COLUMN stats_refresh_log.last_refresh_source; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.last_refresh_source IS 'Who ran the last successful cycle: commit (the trigger) or flush (the pg_cron job).';

-- Name: COLUMN stats_refresh_log.last_refresh_duration; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.last_refresh_duration IS 'How long both REFRESH ... CONCURRENTLY of the last successful cycle took together.';

-- Name: COLUMN stats_refresh_log.last_failure_at; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.last_failure_at IS 'When the last failed refresh cycle (commit or flush) ended. Commits and the flush attempt no cycle while it is less than debounce_window old.';

-- Name: COLUMN stats_refresh_log.failing_since; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.failing_since IS 'When the first failed cycle since the last successful one ended; NULL while the refresh works. The failures themselves are in stats.stats_refresh_failures.';

-- Name: COLUMN stats_refresh_log.failed_cycles; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.failed_cycles IS 'Failed cycles since the last successful one (0 while the refresh works).';

-- Name: COLUMN stats_refresh_log.views_as_of; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.views_as_of IS 'When the last successful cycle began: both views hold every change committed before it. NULL until the first cycle after V011.';

-- Name: COLUMN stats_refresh_log.last_failure_transient; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.last_failure_transient IS 'true when the last failed cycle failed for a reason that may be gone at the next attempt (SQLSTATE 55P03 lock not available, 57014 query canceled, 40P01 deadlock, 40001 serialization failure): the flush does not back off after it.';

-- Name: COLUMN stats_refresh_log.flush_interval; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.flush_interval IS 'How often the flusher (pg_cron job stats-refresh-flush) looks for pending changes and refreshes: the delay a change left to it can wait, before one refresh. Between 100 ms and 30 s; set with stats.configure_stats_flusher().';

-- Name: COLUMN stats_refresh_log.flush_paused; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_log.flush_paused IS 'true: the flusher keeps running but refreshes nothing (stats.flush_stats_refresh() called by hand still does). Set with stats.configure_stats_flusher(); a pause is in force once that call returns.';

-- Name: stats_refresh_pending; Type: TABLE; Schema: stats; Owner: stats_owner
CREATE TABLE stats.stats_refresh_pending (
    xact_id xid8 DEFAULT pg_current_xact_id() NOT NULL,
    marked_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    reason text NOT NULL,
    CONSTRAINT stats_refresh_pending_reason_valid CHECK ((reason = ANY (ARRAY['debounced'::text, 'backoff'::text, 'concurrent'::text, 'isolation'::text, 'flush_only'::text, 'failed'::text])))
);

ALTER TABLE stats.stats_refresh_pending OWNER TO stats_owner;

-- Name: TABLE stats_refresh_pending; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON TABLE stats.stats_refresh_pending IS 'One row per committed transaction that changed activities without refreshing the views. A refresh deletes the rows of the transactions its snapshot saw; stats.flush_stats_refresh() refreshes while any row is left. Inserts only: skipped writers never queue on a lock.';

-- Name: COLUMN stats_refresh_pending.xact_id; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_pending.xact_id IS 'The writing transaction; a refresh covers it when pg_visible_in_snapshot() says so.';

-- Name: COLUMN stats_refresh_pending.reason; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON COLUMN stats.stats_refresh_pending.reason IS 'Why that commit did not refresh: debounced (the last refresh is inside the window), backoff (the last failed cycle is), concurrent (another refresh held or had just released the log row), isolation (REPEATABLE READ or SERIALIZABLE writer), flush_only (mode), failed (the cycle failed; see stats_refresh_failures).';

-- Name: activities activities_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_pkey PRIMARY KEY (id);

-- Name: activity_types activity_types_code_key; Type: CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.activity_types
    ADD CONSTRAINT activity_types_code_key UNIQUE (code);

-- Name: activity_types activity_types_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.activity_types
    ADD CONSTRAINT activity_types_pkey PRIMARY KEY (id);

-- Name: chapter_memberships chapter_memberships_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.chapter_memberships
    ADD CONSTRAINT chapter_memberships_pkey PRIMARY KEY (user_id, chapter_id, member_role);

-- Name: chapters chapters_name_key; Type: CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.chapters
    ADD CONSTRAINT chapters_name_key UNIQUE (name);

-- Name: chapters chapters_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.chapters
    ADD CONSTRAINT chapters_pkey PRIMARY KEY (id);

-- Name: profiles profiles_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.profiles
    ADD CONSTRAINT profiles_pkey PRIMARY KEY (id);

-- Name: activity_month_summary activity_month_summary_pkey; Type: CONSTRAINT; Schema: stats; Owner: stats_owner
ALTER TABLE ONLY stats.activity_month_summary
    ADD CONSTRAINT activity_month_summary_pkey PRIMARY KEY (peer_mentor_id, activity_type_id, month, chapter_id);

-- Name: CONSTRAINT activity_month_summary_pkey ON activity_month_summary; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON CONSTRAINT activity_month_summary_pkey ON stats.activity_month_summary IS 'One row per chapter, mentor, kind and month.';

-- Name: stats_refresh_failures stats_refresh_failures_pkey; Type: CONSTRAINT; Schema: stats; Owner: stats_owner
ALTER TABLE ONLY stats.stats_refresh_failures
    ADD CONSTRAINT stats_refresh_failures_pkey PRIMARY KEY (id);

-- Name: stats_refresh_log stats_refresh_log_pkey; Type: CONSTRAINT; Schema: stats; Owner: stats_owner
ALTER TABLE ONLY stats.stats_refresh_log
    ADD CONSTRAINT stats_refresh_log_pkey PRIMARY KEY (id);

-- Name: stats_refresh_pending stats_refresh_pending_pkey; Type: CONSTRAINT; Schema: stats; Owner: stats_owner
ALTER TABLE ONLY stats.stats_refresh_pending
    ADD CONSTRAINT stats_refresh_pending_pkey PRIMARY KEY (xact_id);

-- Name: activities_activity_type_id_idx; Type: INDEX; Schema: public; Owner: postgres
CREATE INDEX activities_activity_type_id_idx ON public.activities USING btree (activity_type_id);

-- Name: INDEX activities_activity_type_id_idx; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON INDEX public.activities_activity_type_id_idx IS 'Covers the foreign key to activity_types.';

-- Name: activities_chapter_id_activity_date_idx; Type: INDEX; Schema: public; Owner: postgres
CREATE INDEX activities_chapter_id_activity_date_idx ON public.activities USING btree (chapter_id, activity_date);

-- Name: INDEX activities_chapter_id_activity_date_idx; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON INDEX public.activities_chapter_id_activity_date_idx IS 'Activities of a chapter by date: coordinators'' reads, the Bufdir export, the chapter FK.';

-- Name: activities_contact_ref_idx; Type: INDEX; Schema: public; Owner: postgres
CREATE INDEX activities_contact_ref_idx ON public.activities USING btree (contact_ref) WHERE ((status = 'registered'::text) AND (contact_ref IS NOT NULL));

-- Name: INDEX activities_contact_ref_idx; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON INDEX public.activities_contact_ref_idx IS 'Registered activities by contact: bounds the duplicate check of stats.counted_activities.';

-- Name: activities_counting_with_contact_idx; Type: INDEX; Schema: public; Owner: postgres
CREATE INDEX activities_counting_with_contact_idx ON public.activities USING btree (peer_mentor_id, activity_type_id, activity_date, contact_ref, id) INCLUDE (chapter_id, duration_minutes) WHERE ((status = 'registered'::text) AND (contact_ref IS NOT NULL));

-- Name: INDEX activities_counting_with_contact_idx; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON INDEX public.activities_counting_with_contact_idx IS 'Registered activities with a contact, in duplicate order: stats.counted_activities keeps the lowest id of each mentor, kind, date and contact by reading this index (index-only).';

-- Name: activities_counting_without_contact_idx; Type: INDEX; Schema: public; Owner: postgres
CREATE INDEX activities_counting_without_contact_idx ON public.activities USING btree (peer_mentor_id, activity_type_id, activity_date) INCLUDE (chapter_id, duration_minutes, id) WHERE ((status = 'registered'::text) AND (contact_ref IS NULL));

-- Name: INDEX activities_counting_without_contact_idx; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON INDEX public.activities_counting_without_contact_idx IS 'Registered activities without a contact (never duplicates): stats.counted_activities reads them index-only.';

-- Name: activities_peer_mentor_membership_idx; Type: INDEX; Schema: public; Owner: postgres
CREATE INDEX activities_peer_mentor_membership_idx ON public.activities USING btree (peer_mentor_id, chapter_id, mentor_role);

-- Name: INDEX activities_peer_mentor_membership_idx; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON INDEX public.activities_peer_mentor_membership_idx IS 'A mentor''s activities; covers the foreign keys to profiles and chapter_memberships.';

-- Name: chapter_memberships_chapter_id_idx; Type: INDEX; Schema: public; Owner: postgres
CREATE INDEX chapter_memberships_chapter_id_idx ON public.chapter_memberships USING btree (chapter_id, member_role);

-- Name: INDEX chapter_memberships_chapter_id_idx; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON INDEX public.chapter_memberships_chapter_id_idx IS 'Members of a chapter by role; also covers the foreign key to chapters.';

-- Name: INDEX activity_month_summary_pkey; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON INDEX stats.activity_month_summary_pkey IS 'One row per group; the changed (mentor, kind, month) groups are one range each.';

-- Name: mv_activity_time_series_key; Type: INDEX; Schema: stats; Owner: stats_owner
CREATE UNIQUE INDEX mv_activity_time_series_key ON stats.mv_activity_time_series USING btree (chapter_id, month, activity_type_id);

-- Name: INDEX mv_activity_time_series_key; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON INDEX stats.mv_activity_time_series_key IS 'One row per chapter, month and kind; lets REFRESH ... CONCURRENTLY match old and new rows.';

-- Name: mv_peer_mentor_stats_key; Type: INDEX; Schema: stats; Owner: stats_owner
CREATE UNIQUE INDEX mv_peer_mentor_stats_key ON stats.mv_peer_mentor_stats USING btree (chapter_id, peer_mentor_id);

-- Name: INDEX mv_peer_mentor_stats_key; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON INDEX stats.mv_peer_mentor_stats_key IS 'One row per chapter and mentor; lets REFRESH ... CONCURRENTLY match old and new rows.';

-- Name: stats_refresh_log_refreshed_at_idx; Type: INDEX; Schema: stats; Owner: stats_owner
CREATE INDEX stats_refresh_log_refreshed_at_idx ON stats.stats_refresh_log USING btree (refreshed_at DESC);

-- Name: INDEX stats_refresh_log_refreshed_at_idx; Type: COMMENT; Schema: stats; Owner: stats_owner
COMMENT ON INDEX stats.stats_refresh_log_refreshed_at_idx IS 'Latest refresh first.';

-- Name: activity_time_series activity_time_series_refuse_writes; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER activity_time_series_refuse_writes INSTEAD OF INSERT OR DELETE OR UPDATE ON public.activity_time_series FOR EACH ROW EXECUTE FUNCTION private.refuse_read_view_write();

-- Name: TRIGGER activity_time_series_refuse_writes ON activity_time_series; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER activity_time_series_refuse_writes ON public.activity_time_series IS 'Read-only view: a write is refused with 42501 (permission denied), not 55000.';

-- Name: chapter_memberships chapter_memberships_coordinator_limit; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER chapter_memberships_coordinator_limit BEFORE INSERT OR UPDATE OF user_id, chapter_id, member_role ON public.chapter_memberships FOR EACH ROW EXECUTE FUNCTION private.enforce_coordinator_chapter_limit();

-- Name: TRIGGER chapter_memberships_coordinator_limit ON chapter_memberships; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER chapter_memberships_coordinator_limit ON public.chapter_memberships IS 'A coordinator belongs to at most five chapters.';

-- Name: peer_mentor_stats peer_mentor_stats_refuse_writes; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER peer_mentor_stats_refuse_writes INSTEAD OF INSERT OR DELETE OR UPDATE ON public.peer_mentor_stats FOR EACH ROW EXECUTE FUNCTION private.refuse_read_view_write();

-- Name: TRIGGER peer_mentor_stats_refuse_writes ON peer_mentor_stats; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER peer_mentor_stats_refuse_writes ON public.peer_mentor_stats IS 'Read-only view: a write is refused with 42501 (permission denied), not 55000.';

-- Name: stats_freshness stats_freshness_refuse_writes; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER stats_freshness_refuse_writes INSTEAD OF INSERT OR DELETE OR UPDATE ON public.stats_freshness FOR EACH ROW EXECUTE FUNCTION private.refuse_read_view_write();

-- Name: TRIGGER stats_freshness_refuse_writes ON stats_freshness; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER stats_freshness_refuse_writes ON public.stats_freshness IS 'Read-only view: a write is refused with 42501 (permission denied), not 55000.';

-- Name: activities trg_activity_summary_arm_delete; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER trg_activity_summary_arm_delete BEFORE DELETE ON public.activities FOR EACH STATEMENT EXECUTE FUNCTION stats.trg_arm_activity_summary_log();

-- Name: TRIGGER trg_activity_summary_arm_delete ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_activity_summary_arm_delete ON public.activities IS 'Marks each DELETE statement as not yet logged for stats.activity_month_summary.';

-- Name: activities trg_activity_summary_arm_insert; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER trg_activity_summary_arm_insert BEFORE INSERT ON public.activities FOR EACH STATEMENT EXECUTE FUNCTION stats.trg_arm_activity_summary_log();

-- Name: TRIGGER trg_activity_summary_arm_insert ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_activity_summary_arm_insert ON public.activities IS 'Marks each INSERT statement as not yet logged for stats.activity_month_summary.';

-- Name: activities trg_activity_summary_arm_update; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER trg_activity_summary_arm_update BEFORE UPDATE ON public.activities FOR EACH STATEMENT EXECUTE FUNCTION stats.trg_arm_activity_summary_log();

-- Name: TRIGGER trg_activity_summary_arm_update ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_activity_summary_arm_update ON public.activities IS 'Marks each UPDATE statement as not yet logged for stats.activity_month_summary.';

-- Name: activities trg_activity_summary_delete; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER trg_activity_summary_delete AFTER DELETE ON public.activities REFERENCING OLD TABLE AS old_rows FOR EACH ROW EXECUTE FUNCTION stats.trg_log_activity_summary_changes();

-- Name: TRIGGER trg_activity_summary_delete ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_activity_summary_delete ON public.activities IS 'Logs the groups of a DELETE statement''s rows for stats.activity_month_summary (at its first row event; named to fire before trg_refresh_stats_views).';

-- Name: activities trg_activity_summary_insert; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER trg_activity_summary_insert AFTER INSERT ON public.activities REFERENCING NEW TABLE AS new_rows FOR EACH ROW EXECUTE FUNCTION stats.trg_log_activity_summary_changes();

-- Name: TRIGGER trg_activity_summary_insert ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_activity_summary_insert ON public.activities IS 'Logs the groups of an INSERT statement''s rows for stats.activity_month_summary (at its first row event; named to fire before trg_refresh_stats_views).';

-- Name: activities trg_activity_summary_truncate; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER trg_activity_summary_truncate AFTER TRUNCATE ON public.activities FOR EACH STATEMENT EXECUTE FUNCTION stats.trg_truncate_activity_summary();

-- Name: TRIGGER trg_activity_summary_truncate ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_activity_summary_truncate ON public.activities IS 'Empties stats.activity_month_summary and its change log after a TRUNCATE of activities.';

-- Name: activities trg_activity_summary_update; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER trg_activity_summary_update AFTER UPDATE ON public.activities REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH ROW EXECUTE FUNCTION stats.trg_log_activity_summary_changes();

-- Name: TRIGGER trg_activity_summary_update ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_activity_summary_update ON public.activities IS 'Logs the groups of an UPDATE statement''s rows, before and after, for stats.activity_month_summary (at its first row event; fires before trg_refresh_stats_views).';

-- Name: activity_types trg_activity_type_summary_update; Type: TRIGGER; Schema: public; Owner: postgres
CREATE TRIGGER trg_activity_type_summary_update AFTER UPDATE ON public.activity_types REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION stats.trg_log_activity_type_summary_changes();

-- Name: TRIGGER trg_activity_type_summary_update ON activity_types; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_activity_type_summary_update ON public.activity_types IS 'Logs every group of a kind whose counts_for_bufdir changed, for stats.activity_month_summary.';

-- Name: activities trg_refresh_stats_views; Type: TRIGGER; Schema: public; Owner: postgres
CREATE CONSTRAINT TRIGGER trg_refresh_stats_views AFTER INSERT OR DELETE OR UPDATE ON public.activities DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION stats.trg_refresh_stats_views();

-- Name: TRIGGER trg_refresh_stats_views ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON TRIGGER trg_refresh_stats_views ON public.activities IS 'Refreshes the stats views at the commit of any transaction that changed activities (debounced; see stats.trg_refresh_stats_views()). Fires per row; all but the first row of a transaction return at once.';

-- Name: activities activities_activity_type_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_activity_type_id_fkey FOREIGN KEY (activity_type_id) REFERENCES public.activity_types(id);

-- Name: activities activities_chapter_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_chapter_id_fkey FOREIGN KEY (chapter_id) REFERENCES public.chapters(id);

-- Name: activities activities_peer_mentor_membership_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_peer_mentor_membership_fkey FOREIGN KEY (peer_mentor_id, chapter_id, mentor_role) REFERENCES public.chapter_memberships(user_id, chapter_id, member_role);

-- Name: CONSTRAINT activities_peer_mentor_membership_fkey ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON CONSTRAINT activities_peer_mentor_membership_fkey ON public.activities IS 'The mentor must be a peer mentor of the activity''s chapter (and so a user with a profile). The only check of peer_mentor_id: an unknown id and another chapter''s user are refused alike.';

-- Name: chapter_memberships chapter_memberships_chapter_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.chapter_memberships
    ADD CONSTRAINT chapter_memberships_chapter_id_fkey FOREIGN KEY (chapter_id) REFERENCES public.chapters(id) ON DELETE CASCADE;

-- Name: chapter_memberships chapter_memberships_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.chapter_memberships
    ADD CONSTRAINT chapter_memberships_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.profiles(id) ON DELETE CASCADE;

-- Name: profiles profiles_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: postgres
ALTER TABLE ONLY public.profiles
    ADD CONSTRAINT profiles_id_fkey FOREIGN KEY (id) REFERENCES auth.users(id) ON DELETE CASCADE;

-- Name: activities; Type: ROW SECURITY; Schema: public; Owner: postgres
ALTER TABLE public.activities ENABLE ROW LEVEL SECURITY;

-- Name: activities activities_delete_own_or_coordinated; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY activities_delete_own_or_coordinated ON public.activities FOR DELETE TO authenticated USING (((chapter_id = ANY (( SELECT private.member_chapter_ids('coordinator'::text) AS member_chapter_ids)::uuid[])) OR ((peer_mentor_id = ( SELECT auth.uid() AS uid)) AND (chapter_id = ANY (( SELECT private.member_chapter_ids('peer_mentor'::text) AS member_chapter_ids)::uuid[])))));

-- Name: POLICY activities_delete_own_or_coordinated ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY activities_delete_own_or_coordinated ON public.activities IS 'Deletions within the same boundary as reading.';

-- Name: activities activities_insert_own_or_coordinated; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY activities_insert_own_or_coordinated ON public.activities FOR INSERT TO authenticated WITH CHECK (((created_by = ( SELECT auth.uid() AS uid)) AND ((chapter_id = ANY (( SELECT private.member_chapter_ids('coordinator'::text) AS member_chapter_ids)::uuid[])) OR ((peer_mentor_id = ( SELECT auth.uid() AS uid)) AND (chapter_id = ANY (( SELECT private.member_chapter_ids('peer_mentor'::text) AS member_chapter_ids)::uuid[]))))));

-- Name: POLICY activities_insert_own_or_coordinated ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY activities_insert_own_or_coordinated ON public.activities IS 'A peer mentor registers their own activities in their chapters; a coordinator registers one on behalf of a peer mentor of a chapter they coordinate. created_by is always the caller.';

-- Name: activities activities_select_own_or_coordinated; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY activities_select_own_or_coordinated ON public.activities FOR SELECT TO authenticated USING (((chapter_id = ANY (( SELECT private.member_chapter_ids('coordinator'::text) AS member_chapter_ids)::uuid[])) OR ((peer_mentor_id = ( SELECT auth.uid() AS uid)) AND (chapter_id = ANY (( SELECT private.member_chapter_ids('peer_mentor'::text) AS member_chapter_ids)::uuid[])))));

-- Name: POLICY activities_select_own_or_coordinated ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY activities_select_own_or_coordinated ON public.activities IS 'A peer mentor reads their own activities in their chapters; a coordinator reads every activity of the chapters they coordinate.';

-- Name: activities activities_select_stats_owner; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY activities_select_stats_owner ON public.activities FOR SELECT TO stats_owner USING (true);

-- Name: POLICY activities_select_stats_owner ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY activities_select_stats_owner ON public.activities IS 'The statistics count every activity of every chapter: the counting definition and the materialized views read as stats_owner.';

-- Name: activities activities_update_own_or_coordinated; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY activities_update_own_or_coordinated ON public.activities FOR UPDATE TO authenticated USING (((chapter_id = ANY (( SELECT private.member_chapter_ids('coordinator'::text) AS member_chapter_ids)::uuid[])) OR ((peer_mentor_id = ( SELECT auth.uid() AS uid)) AND (chapter_id = ANY (( SELECT private.member_chapter_ids('peer_mentor'::text) AS member_chapter_ids)::uuid[]))))) WITH CHECK (((chapter_id = ANY (( SELECT private.member_chapter_ids('coordinator'::text) AS member_chapter_ids)::uuid[])) OR ((peer_mentor_id = ( SELECT auth.uid() AS uid)) AND (chapter_id = ANY (( SELECT private.member_chapter_ids('peer_mentor'::text) AS member_chapter_ids)::uuid[])))));

-- Name: POLICY activities_update_own_or_coordinated ON activities; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY activities_update_own_or_coordinated ON public.activities IS 'Corrections (kind, date, duration, contact, status; see the column grants) within the same boundary as reading.';

-- Name: activity_types; Type: ROW SECURITY; Schema: public; Owner: postgres
ALTER TABLE public.activity_types ENABLE ROW LEVEL SECURITY;

-- Name: activity_types activity_types_select_all; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY activity_types_select_all ON public.activity_types FOR SELECT TO authenticated USING (true);

-- Name: POLICY activity_types_select_all ON activity_types; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY activity_types_select_all ON public.activity_types IS 'The catalogue of activity kinds is the same for every signed-in user.';

-- Name: activity_types activity_types_select_stats_owner; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY activity_types_select_stats_owner ON public.activity_types FOR SELECT TO stats_owner USING (true);

-- Name: POLICY activity_types_select_stats_owner ON activity_types; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY activity_types_select_stats_owner ON public.activity_types IS 'The counting definition reads counts_for_bufdir of every activity kind as stats_owner.';

-- Name: chapter_memberships; Type: ROW SECURITY; Schema: public; Owner: postgres
ALTER TABLE public.chapter_memberships ENABLE ROW LEVEL SECURITY;

-- Name: chapter_memberships chapter_memberships_select_self_or_coordinated; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY chapter_memberships_select_self_or_coordinated ON public.chapter_memberships FOR SELECT TO authenticated USING (((user_id = ( SELECT auth.uid() AS uid)) OR (chapter_id = ANY (( SELECT private.member_chapter_ids('coordinator'::text) AS member_chapter_ids)::uuid[]))));

-- Name: POLICY chapter_memberships_select_self_or_coordinated ON chapter_memberships; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY chapter_memberships_select_self_or_coordinated ON public.chapter_memberships IS 'A user sees their own memberships; a coordinator also sees every membership of their chapters.';

-- Name: chapters; Type: ROW SECURITY; Schema: public; Owner: postgres
ALTER TABLE public.chapters ENABLE ROW LEVEL SECURITY;

-- Name: chapters chapters_select_members; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY chapters_select_members ON public.chapters FOR SELECT TO authenticated USING ((id = ANY (( SELECT private.member_chapter_ids() AS member_chapter_ids)::uuid[])));

-- Name: POLICY chapters_select_members ON chapters; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY chapters_select_members ON public.chapters IS 'A user sees the chapters they belong to, in any role.';

-- Name: profiles; Type: ROW SECURITY; Schema: public; Owner: postgres
ALTER TABLE public.profiles ENABLE ROW LEVEL SECURITY;

-- Name: profiles profiles_select_self_or_coordinated; Type: POLICY; Schema: public; Owner: postgres
CREATE POLICY profiles_select_self_or_coordinated ON public.profiles FOR SELECT TO authenticated USING (((id = ( SELECT auth.uid() AS uid)) OR (id IN ( SELECT m.user_id
   FROM public.chapter_memberships m
  WHERE (m.chapter_id = ANY (( SELECT private.member_chapter_ids('coordinator'::text) AS member_chapter_ids)::uuid[]))))));

-- Name: POLICY profiles_select_self_or_coordinated ON profiles; Type: COMMENT; Schema: public; Owner: postgres
COMMENT ON POLICY profiles_select_self_or_coordinated ON public.profiles IS 'A user sees their own profile; a coordinator also sees the members of their chapters.';

-- Name: activity_month_summary; Type: ROW SECURITY; Schema: stats; Owner: stats_owner
ALTER TABLE stats.activity_month_summary ENABLE ROW LEVEL SECURITY;

-- Name: activity_summary_changes; Type: ROW SECURITY; Schema: stats; Owner: stats_owner
ALTER TABLE stats.activity_summary_changes ENABLE ROW LEVEL SECURITY;

-- Name: stats_refresh_failures; Type: ROW SECURITY; Schema: stats; Owner: stats_owner
ALTER TABLE stats.stats_refresh_failures ENABLE ROW LEVEL SECURITY;

-- Name: stats_refresh_log; Type: ROW SECURITY; Schema: stats; Owner: stats_owner
ALTER TABLE stats.stats_refresh_log ENABLE ROW LEVEL SECURITY;

-- Name: stats_refresh_pending; Type: ROW SECURITY; Schema: stats; Owner: stats_owner
ALTER TABLE stats.stats_refresh_pending ENABLE ROW LEVEL SECURITY;

-- Name: SCHEMA private; Type: ACL; Schema: -; Owner: postgres
GRANT USAGE ON SCHEMA private TO authenticated;

-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: pg_database_owner
GRANT ALL ON SCHEMA public TO postgres;
GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

-- Name: SCHEMA stats; Type: ACL; Schema: -; Owner: postgres
GRANT ALL ON SCHEMA stats TO stats_owner;

-- Name: FUNCTION activity_time_series_rows(); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.activity_time_series_rows() FROM PUBLIC;
GRANT ALL ON FUNCTION private.activity_time_series_rows() TO authenticated;

-- Name: FUNCTION bufdir_export_rows(p_from date, p_to date, p_chapter_ids uuid[]); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.bufdir_export_rows(p_from date, p_to date, p_chapter_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION private.bufdir_export_rows(p_from date, p_to date, p_chapter_ids uuid[]) TO authenticated;

-- Name: FUNCTION current_month_start(); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.current_month_start() FROM PUBLIC;

-- Name: FUNCTION enforce_coordinator_chapter_limit(); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.enforce_coordinator_chapter_limit() FROM PUBLIC;

-- Name: FUNCTION member_chapter_ids(p_member_role text); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.member_chapter_ids(p_member_role text) FROM PUBLIC;
GRANT ALL ON FUNCTION private.member_chapter_ids(p_member_role text) TO authenticated;

-- Name: FUNCTION oslo_month_start(p_at timestamp with time zone); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.oslo_month_start(p_at timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION peer_mentor_stats_rows(); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.peer_mentor_stats_rows() FROM PUBLIC;
GRANT ALL ON FUNCTION private.peer_mentor_stats_rows() TO authenticated;

-- Name: FUNCTION refuse_read_view_write(); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.refuse_read_view_write() FROM PUBLIC;

-- Name: FUNCTION stats_freshness_row(); Type: ACL; Schema: private; Owner: postgres
REVOKE ALL ON FUNCTION private.stats_freshness_row() FROM PUBLIC;
GRANT ALL ON FUNCTION private.stats_freshness_row() TO authenticated;

-- Name: FUNCTION bufdir_export(p_from date, p_to date, p_chapter_ids uuid[]); Type: ACL; Schema: public; Owner: postgres
REVOKE ALL ON FUNCTION public.bufdir_export(p_from date, p_to date, p_chapter_ids uuid[]) FROM PUBLIC;
GRANT ALL ON FUNCTION public.bufdir_export(p_from date, p_to date, p_chapter_ids uuid[]) TO authenticated;

-- Name: FUNCTION apply_activity_summary_changes(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.apply_activity_summary_changes() FROM PUBLIC;

-- Name: FUNCTION compute_activity_time_series(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.compute_activity_time_series() FROM PUBLIC;

-- Name: FUNCTION compute_peer_mentor_stats(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.compute_peer_mentor_stats() FROM PUBLIC;

-- Name: FUNCTION configure_stats_flusher(p_flush_interval interval, p_paused boolean); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.configure_stats_flusher(p_flush_interval interval, p_paused boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION stats.configure_stats_flusher(p_flush_interval interval, p_paused boolean) TO postgres;

-- Name: FUNCTION configure_stats_refresh(p_debounce_window interval, p_mode text); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.configure_stats_refresh(p_debounce_window interval, p_mode text) FROM PUBLIC;
GRANT ALL ON FUNCTION stats.configure_stats_refresh(p_debounce_window interval, p_mode text) TO postgres;

-- Name: FUNCTION expire_stats_refresh_window(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.expire_stats_refresh_window() FROM PUBLIC;
GRANT ALL ON FUNCTION stats.expire_stats_refresh_window() TO postgres;

-- Name: FUNCTION flush_stats_refresh(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.flush_stats_refresh() FROM PUBLIC;
GRANT ALL ON FUNCTION stats.flush_stats_refresh() TO postgres;

-- Name: FUNCTION lock_activity_month_summary(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.lock_activity_month_summary() FROM PUBLIC;

-- Name: FUNCTION recompute_activity_month_summary(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.recompute_activity_month_summary() FROM PUBLIC;

-- Name: FUNCTION record_refresh_failure(p_source text, p_sqlstate text, p_message text, p_detail text, p_context text); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.record_refresh_failure(p_source text, p_sqlstate text, p_message text, p_detail text, p_context text) FROM PUBLIC;

-- Name: FUNCTION run_stats_refresh(p_source text); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.run_stats_refresh(p_source text) FROM PUBLIC;

-- Name: FUNCTION run_stats_refresh_flusher_round(p_started timestamp with time zone, p_first boolean, p_until timestamp with time zone); Type: ACL; Schema: stats; Owner: postgres
REVOKE ALL ON FUNCTION stats.run_stats_refresh_flusher_round(p_started timestamp with time zone, p_first boolean, p_until timestamp with time zone) FROM PUBLIC;

-- Name: FUNCTION trg_arm_activity_summary_log(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.trg_arm_activity_summary_log() FROM PUBLIC;

-- Name: FUNCTION trg_log_activity_summary_changes(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.trg_log_activity_summary_changes() FROM PUBLIC;

-- Name: FUNCTION trg_log_activity_type_summary_changes(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.trg_log_activity_type_summary_changes() FROM PUBLIC;

-- Name: FUNCTION trg_refresh_stats_views(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.trg_refresh_stats_views() FROM PUBLIC;

-- Name: FUNCTION trg_truncate_activity_summary(); Type: ACL; Schema: stats; Owner: stats_owner
REVOKE ALL ON FUNCTION stats.trg_truncate_activity_summary() FROM PUBLIC;

-- Name: TABLE activities; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT,DELETE ON TABLE public.activities TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.activities TO service_role;
GRANT SELECT ON TABLE public.activities TO stats_owner;

-- Name: COLUMN activities.peer_mentor_id; Type: ACL; Schema: public; Owner: postgres
GRANT INSERT(peer_mentor_id) ON TABLE public.activities TO authenticated;

-- Name: COLUMN activities.chapter_id; Type: ACL; Schema: public; Owner: postgres
GRANT INSERT(chapter_id) ON TABLE public.activities TO authenticated;

-- Name: COLUMN activities.activity_type_id; Type: ACL; Schema: public; Owner: postgres
GRANT INSERT(activity_type_id),UPDATE(activity_type_id) ON TABLE public.activities TO authenticated;

-- Name: COLUMN activities.activity_date; Type: ACL; Schema: public; Owner: postgres
GRANT INSERT(activity_date),UPDATE(activity_date) ON TABLE public.activities TO authenticated;

-- Name: COLUMN activities.duration_minutes; Type: ACL; Schema: public; Owner: postgres
GRANT INSERT(duration_minutes),UPDATE(duration_minutes) ON TABLE public.activities TO authenticated;

-- Name: COLUMN activities.contact_ref; Type: ACL; Schema: public; Owner: postgres
GRANT INSERT(contact_ref),UPDATE(contact_ref) ON TABLE public.activities TO authenticated;

-- Name: COLUMN activities.status; Type: ACL; Schema: public; Owner: postgres
GRANT INSERT(status),UPDATE(status) ON TABLE public.activities TO authenticated;

-- Name: TABLE activity_time_series; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT ON TABLE public.activity_time_series TO authenticated;

-- Name: TABLE activity_types; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT ON TABLE public.activity_types TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.activity_types TO service_role;
GRANT SELECT ON TABLE public.activity_types TO stats_owner;

-- Name: TABLE chapter_memberships; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT ON TABLE public.chapter_memberships TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.chapter_memberships TO service_role;

-- Name: TABLE chapters; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT ON TABLE public.chapters TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.chapters TO service_role;

-- Name: TABLE peer_mentor_stats; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT ON TABLE public.peer_mentor_stats TO authenticated;

-- Name: TABLE profiles; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT ON TABLE public.profiles TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.profiles TO service_role;

-- Name: TABLE stats_freshness; Type: ACL; Schema: public; Owner: postgres
GRANT SELECT ON TABLE public.stats_freshness TO authenticated;
