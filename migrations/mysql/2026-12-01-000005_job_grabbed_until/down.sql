DROP INDEX job_grabbed_until ON job;
