-- TheSchwartz's tables (t/schema-sqlite.sql) plus the `note` table and the secondary indexes
-- of the MySQL/PostgreSQL schemas. AUTOINCREMENT: ids are never reused.
-- IF NOT EXISTS: a database created by TheSchwartz's own schema file is adopted as it is.

CREATE TABLE IF NOT EXISTS funcmap (
        funcid         INTEGER PRIMARY KEY AUTOINCREMENT,
        funcname       VARCHAR(255) NOT NULL,
        UNIQUE(funcname)
);

CREATE TABLE IF NOT EXISTS job (
        jobid           INTEGER PRIMARY KEY AUTOINCREMENT,
        funcid          INTEGER UNSIGNED NOT NULL,
        arg             MEDIUMBLOB,
        uniqkey         VARCHAR(255) NULL,
        insert_time     INTEGER UNSIGNED,
        run_after       INTEGER UNSIGNED NOT NULL,
        grabbed_until   INTEGER UNSIGNED NOT NULL,
        priority        SMALLINT UNSIGNED,
        coalesce        VARCHAR(255),
        UNIQUE(funcid,uniqkey)
);

CREATE INDEX IF NOT EXISTS job_funcid_runafter ON job (funcid, run_after);
CREATE INDEX IF NOT EXISTS job_funcid_coalesce ON job (funcid, coalesce);

CREATE TABLE IF NOT EXISTS note (
        jobid           BIGINT NOT NULL,
        notekey         VARCHAR(255),
        value           MEDIUMBLOB,
        PRIMARY KEY (jobid, notekey)
);

CREATE TABLE IF NOT EXISTS error (
        error_time      INTEGER UNSIGNED NOT NULL,
        jobid           INTEGER NOT NULL,
        message         TEXT NOT NULL,
        funcid          INT UNSIGNED NOT NULL DEFAULT 0
);

CREATE INDEX IF NOT EXISTS error_funcid_errortime ON error (funcid, error_time);
CREATE INDEX IF NOT EXISTS error_time ON error (error_time);
CREATE INDEX IF NOT EXISTS error_jobid ON error (jobid);

CREATE TABLE IF NOT EXISTS exitstatus (
        jobid           INTEGER PRIMARY KEY NOT NULL,
        funcid          INT UNSIGNED NOT NULL DEFAULT 0,
        status          SMALLINT UNSIGNED,
        completion_time INTEGER UNSIGNED,
        delete_after    INTEGER UNSIGNED
);

CREATE INDEX IF NOT EXISTS exitstatus_funcid ON exitstatus (funcid);
CREATE INDEX IF NOT EXISTS exitstatus_deleteafter ON exitstatus (delete_after);
