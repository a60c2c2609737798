DROP INDEX IF EXISTS job_funcid_jobid;
