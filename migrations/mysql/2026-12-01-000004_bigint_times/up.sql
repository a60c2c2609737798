-- 64-bit time columns: TheSchwartz's INTEGER UNSIGNED epoch seconds end on 2106-02-07 and
-- this crate refuses times past 2038-01-19 on them (one limit on every backend). Signed
-- BIGINT, as on PostgreSQL. Perl TheSchwartz reads and writes BIGINT the same way. Also
-- applied to a database created by TheSchwartz's own schema file when it is adopted with
-- these migrations.
ALTER TABLE job
    MODIFY insert_time BIGINT NULL,
    MODIFY run_after BIGINT NOT NULL,
    MODIFY grabbed_until BIGINT NOT NULL;
ALTER TABLE error MODIFY error_time BIGINT NOT NULL;
ALTER TABLE exitstatus
    MODIFY completion_time BIGINT NULL,
    MODIFY delete_after BIGINT NULL;
