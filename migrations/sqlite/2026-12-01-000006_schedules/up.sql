-- Periodic jobs (ours; Perl TheSchwartz ignores this table). One row per schedule name:
-- the cron expression and time zone last registered (`spec`), the function its ticks run,
-- and the last tick inserted (epoch seconds). A tick's job is inserted in the same
-- transaction as a compare-and-set moving `last_tick` forward, so however many pools run
-- the schedule, each tick is inserted once, also after its job completed and was deleted.
CREATE TABLE IF NOT EXISTS schwartz_schedule (
    name          VARCHAR(255) NOT NULL PRIMARY KEY,
    funcname      VARCHAR(255) NOT NULL,
    spec          VARCHAR(255) NOT NULL,
    last_tick     BIGINT NOT NULL
);
