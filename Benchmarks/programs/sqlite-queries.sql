-- In-memory SQLite for Benchmarks/programs/run.sh (sqlite3 :memory: < this file):
-- 200k rows inserted in one transaction from a recursive CTE, two indexes,
-- then GROUP BY / ORDER BY / join queries whose output run.sh compares with
-- the glibc run's.
CREATE TABLE t(id INTEGER PRIMARY KEY, grp INTEGER, name TEXT, score REAL, note TEXT);
BEGIN;
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < 200000)
INSERT INTO t(id, grp, name, score, note)
SELECT i, i % 977, 'name-' || (i * 7919 % 200000), (i * 31 % 10007) / 7.0,
       substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 20) || i
FROM seq;
COMMIT;
CREATE INDEX t_grp ON t(grp);
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), round(sum(score), 3), min(name), max(note) FROM t GROUP BY grp ORDER BY sum(score) DESC LIMIT 20;
SELECT substr(name, 1, 7) AS p, count(*), round(avg(score), 4) FROM t GROUP BY p ORDER BY p;
SELECT id, name, score FROM t ORDER BY score DESC, name LIMIT 25;
SELECT count(*), round(sum(a.score + b.score), 2) FROM t a JOIN t b ON b.id = a.id + 977 WHERE a.grp < 300;
SELECT group_concat(name, ',') IS NOT NULL, length(group_concat(note, '')) FROM (SELECT name, note FROM t ORDER BY note LIMIT 50000);
SELECT count(DISTINCT note), count(DISTINCT substr(note, 1, 5)) FROM t;
UPDATE t SET note = upper(note) WHERE grp % 3 = 0;
DELETE FROM t WHERE grp % 5 = 1;
SELECT count(*), sum(length(note)), max(upper(note)) FROM t;
