ALTER TABLE job RESET (
    autovacuum_vacuum_scale_factor,
    autovacuum_vacuum_threshold,
    autovacuum_analyze_scale_factor,
    autovacuum_analyze_threshold
);

DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 130000 THEN
        ALTER TABLE job RESET (
            autovacuum_vacuum_insert_scale_factor,
            autovacuum_vacuum_insert_threshold
        );
    END IF;
END
$$;
