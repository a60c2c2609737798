-- Announce new jobs to listening worker pools (LISTEN schwartz_jobs) from the database
-- itself: every INSERT into job notifies once per statement, whoever inserts (Rust or Perl
-- TheSchwartz clients), and a one-row insert needs no explicit NOTIFY round trip.
-- PostgreSQL folds identical notifications within a transaction.
CREATE OR REPLACE FUNCTION schwartz_notify_new_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('schwartz_jobs', '');
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS schwartz_job_notify ON job;
CREATE TRIGGER schwartz_job_notify
    AFTER INSERT ON job
    FOR EACH STATEMENT
    EXECUTE FUNCTION schwartz_notify_new_jobs();
