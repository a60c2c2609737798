-- TheSchwartz's tables (doc/schema-postgres.sql) with the improvements Perl TheSchwartz still
-- works on: primary keys on funcmap and job, a text_pattern_ops index for coalesce prefix
-- look-ups, and a partial index over not-yet-grabbed jobs for the claim query.
-- IF NOT EXISTS: a database created by TheSchwartz's own schema file is adopted as it is.
-- Time columns stay INTEGER (epoch seconds) as upstream, so both schemas read the same way.

CREATE TABLE IF NOT EXISTS funcmap (
        funcid         SERIAL PRIMARY KEY,
        funcname       VARCHAR(255) NOT NULL,
        UNIQUE(funcname)
);

CREATE TABLE IF NOT EXISTS job (
        jobid           BIGSERIAL PRIMARY KEY,
        funcid          INT NOT NULL,
        arg             BYTEA,
        uniqkey         VARCHAR(255) NULL,
        insert_time     INTEGER,
        run_after       INTEGER NOT NULL,
        grabbed_until   INTEGER NOT NULL,
        priority        SMALLINT,
        coalesce        VARCHAR(255)
);

CREATE UNIQUE INDEX IF NOT EXISTS job_funcid_uniqkey ON job (funcid, uniqkey);
CREATE INDEX IF NOT EXISTS job_funcid_runafter ON job (funcid, run_after);
CREATE INDEX IF NOT EXISTS job_funcid_coalesce ON job (funcid, coalesce text_pattern_ops);

CREATE TABLE IF NOT EXISTS note (
        jobid           BIGINT NOT NULL,
        notekey         VARCHAR(255),
        PRIMARY KEY (jobid, notekey),
        value           BYTEA
);

CREATE TABLE IF NOT EXISTS error (
        error_time      INTEGER NOT NULL,
        jobid           BIGINT NOT NULL,
        message         TEXT NOT NULL,
        funcid          INT NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS error_funcid_errortime ON error (funcid, error_time);
CREATE INDEX IF NOT EXISTS error_time ON error (error_time);
CREATE INDEX IF NOT EXISTS error_jobid ON error (jobid);

CREATE TABLE IF NOT EXISTS exitstatus (
        jobid           BIGINT PRIMARY KEY NOT NULL,
        funcid          INT NOT NULL DEFAULT 0,
        status          SMALLINT,
        completion_time INTEGER,
        delete_after    INTEGER
);

CREATE INDEX IF NOT EXISTS exitstatus_funcid ON exitstatus (funcid);
CREATE INDEX IF NOT EXISTS exitstatus_deleteafter ON exitstatus (delete_after);
