-- Leased jobs by lease end: `schwartz queues`, `stats` and `check` (Store::queue_summary)
-- look for the jobs whose lease runs (`grabbed_until > now`): a range scan over the leased
-- jobs with this index, a pass over the whole table without it (TheSchwartz's schema).
-- The cost is on the job path: each grab and each release moves the job's entry in it.
CREATE INDEX IF NOT EXISTS job_grabbed_until ON job (grabbed_until);
