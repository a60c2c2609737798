-- An index on (funcid, grabbed_until) in place of (funcid, jobid), for two readers:
-- - `queue_summary` (`schwartz queues`, `stats`, `check`, the dashboard) counts the leased
--   jobs of each function (`funcid = f AND grabbed_until > now`) as a short range of it.
--   Without it that is a pass over the whole table: 130 to 240 ms per million jobs when
--   `job` fits in memory, 430 to 550 ms when it does not (MariaDB's default 128 MiB buffer
--   pool); with it, 43 to 53 ms.
-- - The grab of one function's jobs in jobid order: the jobs no one holds are the entries
--   (funcid, 0), in jobid order (InnoDB appends the primary key), as they were in
--   (funcid, jobid); the jobs whose lease ran out are a short range (mysql.rs,
--   `fresh_of_one!`, names this index).
-- Why it replaces (funcid, jobid) rather than joining it: one more index on `job` cost drains
-- 19 to 24% (every insert, grab and delete writes it); this one costs a grab one entry
-- moved: drains 3 to 15% and jobs worked one at a time 9 to 17% slower than with
-- (funcid, jobid) (schwartz-cli/README.md, "The numbers").
-- Only in our schema: the store works without it (and then finds leased jobs by a pass).
DROP INDEX IF EXISTS job_funcid_jobid ON job;
CREATE INDEX job_funcid_grabbed_until ON job (funcid, grabbed_until);
