-- The claim query wants the eligible jobs of some functions in jobid order
-- (`WHERE funcid IN (..) AND run_after <= now AND grabbed_until <= now ORDER BY jobid LIMIT n`).
-- With only TheSchwartz's (funcid, run_after) index, SQLite reads every eligible row of the
-- functions through that index and sorts them all: 28 ms per grab on a 100,000-job queue,
-- ten times that on a million, whatever n is. This index returns each function's jobs in
-- jobid order, so the scan stops after about n rows (plus the leased or not yet due rows it
-- meets first). The store writes `+run_after` in that query (SQLite's way of saying "not
-- through an index") so that the planner, which has no statistics on a fresh queue, takes
-- this index. Only in our schema: the store works without it (and then sorts, as before).
CREATE INDEX IF NOT EXISTS job_funcid_jobid ON job (funcid, jobid);
