-- Job results (ours; Perl TheSchwartz ignores this table). A worker may record a value
-- when it completes a job; it is written in the transaction that removes the job, fenced
-- on the job's lease, and kept until `delete_after` (pruned by the pool's housekeeping).
-- `value` is the result's JSON text, as bytes.
CREATE TABLE IF NOT EXISTS schwartz_result (
    jobid           BIGINT NOT NULL PRIMARY KEY,
    funcid          INTEGER NOT NULL,
    value           MEDIUMBLOB NOT NULL,
    completion_time BIGINT NOT NULL,
    delete_after    BIGINT NOT NULL,
    INDEX schwartz_result_delete_after (delete_after)
) ENGINE=InnoDB;
