-- 闪回授权 Run once by gvenzl/oracle-free when the database is first created (/container-entrypoint-initdb.d),
-- as SYS: the legacy adapter reads every table at one SCN (a consistent snapshot), which needs DBMS_FLASHBACK.
-- The application user (APP_USER, jmlegacy) is created in FREEPDB1 by the image before these scripts run.
ALTER SESSION SET CONTAINER = FREEPDB1;
GRANT EXECUTE ON SYS.DBMS_FLASHBACK TO jmlegacy;
-- Query only: the runbook never writes to the legacy database (系统上线 step 1: never deleted, never updated).
