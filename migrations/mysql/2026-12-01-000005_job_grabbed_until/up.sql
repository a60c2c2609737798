-- Leased jobs by lease end: `schwartz queues`, `stats` and `check` (Store::queue_summary)
-- look for the jobs whose lease runs (`grabbed_until > now`). Without an index on
-- grabbed_until that is a pass over the whole clustered index, argument blobs included
-- (0.2 to 0.5 s per million jobs here); with one, a range scan over the leased jobs only
-- (about 5 ms for 5,000). The cost is on the job path: each grab and each release moves the
-- job's entry in this index. InnoDB builds it online: inserts and grabs go on meanwhile.
-- Only in our schema: on TheSchwartz's own schema the queries work the same, slower.
CREATE INDEX job_grabbed_until ON job (grabbed_until);
