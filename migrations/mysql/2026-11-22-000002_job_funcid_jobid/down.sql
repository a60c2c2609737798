DROP INDEX job_funcid_jobid ON job;
