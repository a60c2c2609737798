-- Back to TheSchwartz's INTEGER time columns (fails while a time past 2038 is stored).
ALTER TABLE job
    ALTER COLUMN insert_time TYPE INTEGER,
    ALTER COLUMN run_after TYPE INTEGER,
    ALTER COLUMN grabbed_until TYPE INTEGER;
ALTER TABLE error ALTER COLUMN error_time TYPE INTEGER;
ALTER TABLE exitstatus
    ALTER COLUMN completion_time TYPE INTEGER,
    ALTER COLUMN delete_after TYPE INTEGER;
