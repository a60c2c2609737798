-- Leased jobs by lease end: `schwartz queues`, `stats` and `check` (Store::queue_summary)
-- look for the jobs whose lease runs (`grabbed_until > now AND grabbed_until > 0`, the
-- second term spelled out so SQLite can use this partial index): a range scan over the
-- leased jobs with it, a pass over the whole table without it (TheSchwartz's schema).
-- Partial: a job waiting for a worker has no entry, so inserts and releases do not write to
-- it (a full index cost 9 to 14% on one-job inserts); grabs and completions do.
CREATE INDEX IF NOT EXISTS job_grabbed_until ON job (grabbed_until) WHERE grabbed_until > 0;
