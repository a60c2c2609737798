-- Back to TheSchwartz's INTEGER UNSIGNED time columns (fails in strict mode while a time
-- past 2106 or before 1970 is stored).
ALTER TABLE job
    MODIFY insert_time INTEGER UNSIGNED NULL,
    MODIFY run_after INTEGER UNSIGNED NOT NULL,
    MODIFY grabbed_until INTEGER UNSIGNED NOT NULL;
ALTER TABLE error MODIFY error_time INTEGER UNSIGNED NOT NULL;
ALTER TABLE exitstatus
    MODIFY completion_time INTEGER UNSIGNED NULL,
    MODIFY delete_after INTEGER UNSIGNED NULL;
