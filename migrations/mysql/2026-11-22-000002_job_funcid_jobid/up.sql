-- The claim query wants the eligible jobs of some functions in jobid order
-- (`WHERE funcid IN (..) AND run_after <= now AND grabbed_until <= now ORDER BY jobid LIMIT n`).
-- With only TheSchwartz's (funcid, run_after) index, InnoDB's optimizer often reads every
-- eligible row of the function through that index and sorts them all (100 ms per grab on a
-- 100,000-job queue), depending on how fresh its statistics are. This index returns one
-- function's jobs already in jobid order, so the scan stops after n rows; with several
-- functions the primary key serves. TheSchwartz's own index stays for queues that are mostly
-- scheduled in the future. Only in our schema: the store works without it.
CREATE INDEX job_funcid_jobid ON job (funcid, jobid);
