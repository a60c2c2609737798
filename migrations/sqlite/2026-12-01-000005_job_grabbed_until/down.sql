DROP INDEX IF EXISTS job_grabbed_until;
