DROP TRIGGER IF EXISTS schwartz_job_notify ON job;
DROP FUNCTION IF EXISTS schwartz_notify_new_jobs();
