-- observability: sigmax.status (one psql screen) and sigmax.metrics() (Prometheus text).
CREATE EXTENSION sigmax;
SELECT sigmax.create_account('desk', 100000) AS acct \gset
SELECT sigmax.add_instrument('BTC/USDT', 'binance');
SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
SELECT status FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 0.05);
SELECT status FROM sigmax.submit_order(:acct, 'BTC/USDT', 'buy', 5);
SELECT sigmax.record_venue_error('kraken', 'HTTP 503') FROM generate_series(1, 6);

-- before any checkpoint, then after one
SELECT section, name, state, value, "limit", detail FROM sigmax.status WHERE section NOT IN ('venue', 'worker');
-- the poller's row (its state depends on the cluster: see sql/worker.sql)
SELECT section, name FROM sigmax.status WHERE section = 'worker';
SELECT checkpoint_id FROM sigmax.audit_checkpoint();
SELECT section, state, value FROM sigmax.status WHERE section IN ('ledger', 'alerts');
SELECT section, name, state, value < 60 AS fresh FROM sigmax.status WHERE section = 'venue';

-- triggers whose mode changed (as a data-only pg_restore --disable-triggers leaves them)
-- show; each change is rolled back (DDL is transactional)
BEGIN;
ALTER TABLE sigmax.audit_log ENABLE TRIGGER audit_log_immutable;
ALTER TABLE sigmax.instruments DISABLE TRIGGER instruments_cached;
SELECT state, value, detail FROM sigmax.status WHERE section = 'triggers';
ROLLBACK;
SELECT state, value, detail FROM sigmax.status WHERE section = 'triggers';
-- a trigger dropped, or made again per statement, shows too; a trigger of one's own does not
BEGIN;
DROP TRIGGER risk_limits_cached ON sigmax.risk_limits;
DROP TRIGGER instruments_cached ON sigmax.instruments;
CREATE TRIGGER instruments_cached AFTER INSERT OR UPDATE OR DELETE ON sigmax.instruments
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax._cached_table_changed();
ALTER TABLE sigmax.instruments ENABLE ALWAYS TRIGGER instruments_cached;
CREATE TRIGGER my_own AFTER INSERT ON sigmax.instruments FOR EACH ROW EXECUTE FUNCTION sigmax._cached_table_changed();
SELECT state, value, detail FROM sigmax.status WHERE section = 'triggers';
ROLLBACK;
SELECT state, value, detail FROM sigmax.status WHERE section = 'triggers';

-- the exposition format: every family has HELP and TYPE; the values that do not depend on time
SELECT count(*) FILTER (WHERE l LIKE '# HELP %') AS help_lines,
       count(*) FILTER (WHERE l LIKE '# TYPE %') AS type_lines,
       bool_and(l ~ '^(# (HELP|TYPE) sigmax_[a-z_]+ .+|sigmax_[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.]+(e-?[0-9]+)?|NaN|\+Inf))$') AS well_formed
  FROM regexp_split_to_table(rtrim(sigmax.metrics(), E'\n'), E'\n') l;
-- counters in shared memory count the whole server's life (shown without their value);
-- the per-database gauges are exact
SELECT CASE WHEN l ~ '^sigmax_(orders_total|checks_total|check_duration_seconds)' THEN regexp_replace(l, ' [0-9.e-]+$', ' <n>')
            ELSE l END AS metric
  FROM regexp_split_to_table(sigmax.metrics(), E'\n') l
 WHERE l ~ '^sigmax_(orders_total\{outcome="(accepted|POSITION_LIMIT)"\}|checks_total|trading_halted|account_paused|account_daily_loss_ratio|venue_errors_last_minute|alerts_unacknowledged|ledger_entries|check_duration_seconds_count)[ {]'
 ORDER BY 1;

-- sigmax_admin reads the screen and the metrics
SET ROLE sigmax_admin;
SELECT count(*) > 0 AS admin_reads_status FROM sigmax.status;
SELECT sigmax.metrics() LIKE '%sigmax_worker_up%' AS admin_reads_metrics;
RESET ROLE;

DROP EXTENSION sigmax;
DROP SCHEMA sigmax;
