DROP TABLE IF EXISTS schwartz_result;
