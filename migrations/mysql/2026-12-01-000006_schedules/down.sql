DROP TABLE IF EXISTS schwartz_schedule;
