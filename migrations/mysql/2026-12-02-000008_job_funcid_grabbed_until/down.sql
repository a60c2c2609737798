DROP INDEX IF EXISTS job_funcid_grabbed_until ON job;
CREATE INDEX job_funcid_jobid ON job (funcid, jobid);
