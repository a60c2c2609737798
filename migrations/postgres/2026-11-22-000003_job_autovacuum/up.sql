-- Queue-shaped autovacuum for `job`: every job is inserted, updated when grabbed and deleted
-- when done, so the table churns through its whole contents while its live size stays small.
-- The defaults (vacuum at 20% dead rows, analyze at 10% changed) let hundreds of thousands of
-- dead rows pile up in front of the claim query's index scan during a long drain, and leave
-- a freshly bulk-loaded table without planner statistics. Vacuum and analyze `job` after a
-- small fraction of changes instead, and (PostgreSQL 13+) after bulk inserts too.
-- Storage parameters only: TheSchwartz's own schema works the same with or without them.
ALTER TABLE job SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000
);

DO $$
BEGIN
    IF current_setting('server_version_num')::int >= 130000 THEN
        ALTER TABLE job SET (
            autovacuum_vacuum_insert_scale_factor = 0.05,
            autovacuum_vacuum_insert_threshold = 10000
        );
    END IF;
END
$$;
