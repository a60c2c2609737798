-- 64-bit time columns: TheSchwartz's INTEGER epoch seconds end on 2038-01-19. Perl
-- TheSchwartz reads and writes BIGINT the same way. Also applied to a database created by
-- TheSchwartz's own schema file when it is adopted with these migrations.
ALTER TABLE job
    ALTER COLUMN insert_time TYPE BIGINT,
    ALTER COLUMN run_after TYPE BIGINT,
    ALTER COLUMN grabbed_until TYPE BIGINT;
ALTER TABLE error ALTER COLUMN error_time TYPE BIGINT;
ALTER TABLE exitstatus
    ALTER COLUMN completion_time TYPE BIGINT,
    ALTER COLUMN delete_after TYPE BIGINT;
