-- Exact text: with a PAD SPACE collation (utf8mb4_bin, and every collation of MySQL 5.7 and
-- MariaDB before 10.2) 'send' and 'send ' are equal, so a funcname, uniqkey or coalesce value
-- with trailing spaces names another function, collides with another key or matches other
-- jobs. A NO PAD binary collation compares byte for byte, as PostgreSQL and SQLite do:
-- utf8mb4_nopad_bin on MariaDB, utf8mb4_0900_bin on MySQL 8. A server with neither keeps
-- utf8mb4_bin.
-- Also applied to a database created by TheSchwartz's own schema file (its columns use the
-- server's default, usually case-insensitive, collation); Perl TheSchwartz is unaffected
-- (it compares in Perl, byte for byte).
SET @schwartz_coll = COALESCE(
    (SELECT COLLATION_NAME FROM information_schema.COLLATIONS
     WHERE COLLATION_NAME IN ('utf8mb4_nopad_bin', 'utf8mb4_0900_bin')
     ORDER BY COLLATION_NAME DESC LIMIT 1),
    'utf8mb4_bin');

SET @schwartz_sql = CONCAT(
    'ALTER TABLE funcmap MODIFY funcname VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ',
    @schwartz_coll, ' NOT NULL');
PREPARE schwartz_stmt FROM @schwartz_sql;
EXECUTE schwartz_stmt;
DEALLOCATE PREPARE schwartz_stmt;

SET @schwartz_sql = CONCAT(
    'ALTER TABLE job MODIFY uniqkey VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ',
    @schwartz_coll, ' NULL, MODIFY `coalesce` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ',
    @schwartz_coll, ' NULL');
PREPARE schwartz_stmt FROM @schwartz_sql;
EXECUTE schwartz_stmt;
DEALLOCATE PREPARE schwartz_stmt;
