-- sigmax 1.0.0 -> 1.1.0 (ALTER EXTENSION sigmax UPDATE TO '1.1.0').
-- What 1.1.0 adds: the exchange poller in sigmax.status and sigmax.metrics().
\echo Use "ALTER EXTENSION sigmax UPDATE TO '1.1.0'" to load this file. \quit

CREATE FUNCTION sigmax.audit_checkpoint_verifies()
RETURNS boolean
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'sigmax_checkpoint_verifies';

COMMENT ON FUNCTION sigmax.audit_checkpoint_verifies() IS
'Whether the latest checkpoint''s digest and Ed25519 signature verify (NULL: no checkpoint yet); sigmax.audit_verify checks every entry.';

REVOKE ALL ON FUNCTION sigmax.audit_checkpoint_verifies() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sigmax.audit_checkpoint_verifies() TO sigmax_admin, sigmax_auditor;

/*
 * sigmax.status calls only functions its readers (sigmax_admin) may execute: a
 * view's functions run as the user reading it, and 1.0.0's view called two
 * internal ones, so that only a superuser could read it.
 */
CREATE OR REPLACE VIEW sigmax.status AS
SELECT section, name, state, value, "limit", detail FROM (
SELECT 0 AS sort, 'trading' AS section, 'all accounts' AS name, sigmax.trading_state() AS state,
       NULL::numeric AS value, NULL::numeric AS "limit",
       (SELECT g.state_reason FROM sigmax.global_state g) AS detail
UNION ALL
SELECT 1, 'account', a.name, a.state, round(p.daily_pnl, 2), round(-l.max_daily_loss_pct * a.sod_equity, 2),
       format('equity %s, exposure %s of %s, %s open orders%s', round(p.equity, 2), round(s.gross_exposure, 2),
              round(l.max_exposure_pct * p.equity, 2), s.open_orders,
              CASE WHEN a.auto_pause_kind IS NOT NULL THEN ', paused automatically: ' || a.auto_pause_kind ELSE '' END)
  FROM sigmax.accounts a
  JOIN sigmax.account_pnl p ON p.account_id = a.account_id
  JOIN sigmax.account_summary s ON s.account_id = a.account_id
  JOIN sigmax.limits l ON l.account_id = a.account_id
UNION ALL
SELECT 2, 'venue', m.exchange, coalesce(max(v.state), 'active'),
       round(extract(epoch FROM now() - max(m.recorded_at))::numeric, 1), NULL,
       'seconds since the newest of ' || count(*) || ' prices'
       || coalesce(', poller: ' || max(w.last_status) || CASE WHEN max(w.consecutive_errors) > 0
                   THEN ' (' || max(w.consecutive_errors) || ' failures in a row: ' || max(w.last_error) || ')' ELSE '' END, '')
  FROM sigmax.market_prices m LEFT JOIN sigmax.venue_state v ON v.exchange = m.exchange
  LEFT JOIN sigmax.worker_status() w ON w.exchange = m.exchange
 GROUP BY m.exchange
UNION ALL
SELECT 3, 'worker', 'exchange poller', w.state, w.cycles, NULL,
       CASE WHEN w.pid IS NULL THEN 'not running' ELSE 'pid ' || w.pid || ', started ' || w.started_at END
  FROM sigmax.worker_state() w
UNION ALL
SELECT 4, 'alerts', 'unacknowledged', NULL, count(*), NULL,
       coalesce(string_agg(DISTINCT x.kind, ', '), 'none')
  FROM sigmax.alerts x WHERE x.acknowledged_at IS NULL
UNION ALL
SELECT 5, 'ledger', 'last checkpoint',
       CASE sigmax.audit_checkpoint_verifies() WHEN true THEN 'verifies' WHEN false THEN 'DOES NOT VERIFY' ELSE 'none' END,
       (SELECT max(c.id) FROM sigmax.audit_checkpoints c), NULL,
       (SELECT 'taken ' || round(extract(epoch FROM now() - max(c.created_at))::numeric) || ' s ago'
          FROM sigmax.audit_checkpoints c)
) s
ORDER BY sort, name;

/*
 * Metrics in the Prometheus text exposition format (version 0.0.4), for
 * postgres_exporter's custom queries or any scraper (docs/operations.md).
 */
CREATE OR REPLACE FUNCTION sigmax.metrics()
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	out text := '';
	r record;
BEGIN
	out := out || E'# HELP sigmax_orders_total Orders checked since the server started, by outcome (accepted or reason code).\n'
	           || E'# TYPE sigmax_orders_total counter\n';
	FOR r IN SELECT c.outcome, c.count FROM sigmax.order_counters() c
	          WHERE c.outcome NOT IN ('checked', 'dry_runs', 'rate_limit_rejections') ORDER BY 1 LOOP
		out := out || format(E'sigmax_orders_total{outcome="%s"} %s\n', r.outcome, r.count);
	END LOOP;
	out := out || E'# HELP sigmax_checks_total Order checks (submit_order and check_order) since the server started.\n'
	           || E'# TYPE sigmax_checks_total counter\n'
	           || format(E'sigmax_checks_total %s\n', (SELECT c.count FROM sigmax.order_counters() c WHERE c.outcome = 'checked'))
	           || E'# HELP sigmax_rate_limit_rejections_total Orders rejected by the rate limiter.\n'
	           || E'# TYPE sigmax_rate_limit_rejections_total counter\n'
	           || format(E'sigmax_rate_limit_rejections_total %s\n',
	                     (SELECT c.count FROM sigmax.order_counters() c WHERE c.outcome = 'rate_limit_rejections'))
	           || E'# HELP sigmax_check_duration_seconds Latency of order checks.\n'
	           || E'# TYPE sigmax_check_duration_seconds histogram\n';
	FOR r IN SELECT * FROM sigmax.check_latency() LOOP
		out := out || format(E'sigmax_check_duration_seconds_bucket{le="%s"} %s\n',
			CASE WHEN r.le_us IS NULL THEN '+Inf' ELSE trim_scale(r.le_us / 1e6)::text END, r.checks);
		IF r.le_us IS NULL THEN
			out := out || format(E'sigmax_check_duration_seconds_sum %s\nsigmax_check_duration_seconds_count %s\n',
				trim_scale(round(r.sum_us / 1e6, 6)), r.checks);
		END IF;
	END LOOP;
	out := out || E'# HELP sigmax_trading_halted Whether trading is paused or halted database-wide (1) or not (0).\n'
	           || E'# TYPE sigmax_trading_halted gauge\n'
	           || format(E'sigmax_trading_halted %s\n', CASE WHEN sigmax._global_state() IN ('paused', 'halted') THEN 1 ELSE 0 END)
	           || E'# HELP sigmax_account_paused Whether an account is paused or halted (1), with the kind of an automatic pause.\n'
	           || E'# TYPE sigmax_account_paused gauge\n';
	FOR r IN SELECT a.account_id, a.state, coalesce(a.auto_pause_kind, '') AS kind FROM sigmax.accounts a ORDER BY 1 LOOP
		out := out || format(E'sigmax_account_paused{account="%s",state="%s",auto="%s"} %s\n',
			r.account_id, r.state, r.kind, CASE WHEN r.state IN ('paused', 'halted') THEN 1 ELSE 0 END);
	END LOOP;
	out := out || E'# HELP sigmax_account_daily_loss_ratio Today''s loss as a share of the daily loss limit (1 = at the limit).\n'
	           || E'# TYPE sigmax_account_daily_loss_ratio gauge\n';
	FOR r IN SELECT p.account_id, greatest(-p.daily_pnl, 0) / nullif(l.max_daily_loss_pct * p.sod_equity, 0) AS ratio
	           FROM sigmax.account_pnl p JOIN sigmax.limits l ON l.account_id = p.account_id ORDER BY 1 LOOP
		out := out || format(E'sigmax_account_daily_loss_ratio{account="%s"} %s\n', r.account_id, round(coalesce(r.ratio, 0), 6));
	END LOOP;
	out := out || E'# HELP sigmax_account_equity Equity at the latest marks, in the account''s base currency.\n'
	           || E'# TYPE sigmax_account_equity gauge\n';
	FOR r IN SELECT p.account_id, p.equity FROM sigmax.account_pnl p ORDER BY 1 LOOP
		out := out || format(E'sigmax_account_equity{account="%s"} %s\n', r.account_id, round(r.equity, 8));
	END LOOP;
	out := out || E'# HELP sigmax_price_age_seconds Age of the latest recorded price.\n'
	           || E'# TYPE sigmax_price_age_seconds gauge\n';
	FOR r IN SELECT m.exchange, m.symbol, extract(epoch FROM now() - m.recorded_at) AS age FROM sigmax.market_prices m ORDER BY 1, 2 LOOP
		out := out || format(E'sigmax_price_age_seconds{exchange="%s",symbol="%s"} %s\n', r.exchange, r.symbol, round(r.age::numeric, 3));
	END LOOP;
	out := out || E'# HELP sigmax_venue_errors_last_minute Exchange API errors reported in the last minute.\n'
	           || E'# TYPE sigmax_venue_errors_last_minute gauge\n';
	FOR r IN SELECT v.exchange, v.state = 'reducing' AS reducing,
	                (SELECT count(*) FROM sigmax.venue_errors e WHERE e.exchange = v.exchange AND e.at > now() - interval '1 minute') AS n
	           FROM sigmax.venue_state v ORDER BY 1 LOOP
		out := out || format(E'sigmax_venue_errors_last_minute{exchange="%s",reducing="%s"} %s\n', r.exchange, CASE WHEN r.reducing THEN 'true' ELSE 'false' END, r.n);
	END LOOP;
	-- 1.1.0: the exchange poller, from shared memory
	-- (sigmax_worker_up is absent on a standby, where no poller runs)
	out := out || E'# HELP sigmax_worker_up Whether the exchange poller is running and polling (1) or not (0).\n'
	           || E'# TYPE sigmax_worker_up gauge\n'
	           || CASE WHEN pg_catalog.pg_is_in_recovery() THEN ''
	                   ELSE format(E'sigmax_worker_up %s\n',
	                               (SELECT CASE WHEN w.state LIKE 'polling%' THEN 1 ELSE 0 END FROM sigmax.worker_state() w)) END
	           || E'# HELP sigmax_worker_requests_total Requests the poller sent to a venue since the server started.\n'
	           || E'# TYPE sigmax_worker_requests_total counter\n';
	FOR r IN SELECT * FROM sigmax.worker_status() ORDER BY exchange LOOP
		out := out || format(E'sigmax_worker_requests_total{exchange="%s"} %s\n', r.exchange, r.requests);
	END LOOP;
	out := out || E'# HELP sigmax_worker_errors_total Failed requests to a venue since the server started.\n'
	           || E'# TYPE sigmax_worker_errors_total counter\n';
	FOR r IN SELECT * FROM sigmax.worker_status() ORDER BY exchange LOOP
		out := out || format(E'sigmax_worker_errors_total{exchange="%s"} %s\n', r.exchange, r.errors);
	END LOOP;
	out := out || E'# HELP sigmax_worker_consecutive_errors Failed requests to a venue since its last success (the status is in sigmax.status).\n'
	           || E'# TYPE sigmax_worker_consecutive_errors gauge\n';
	FOR r IN SELECT * FROM sigmax.worker_status() ORDER BY exchange LOOP
		out := out || format(E'sigmax_worker_consecutive_errors{exchange="%s"} %s\n', r.exchange, r.consecutive_errors);
	END LOOP;
	out := out || E'# HELP sigmax_worker_request_seconds Request latency to a venue over its last 256 requests (quantiles 0.5 and 0.99).\n'
	           || E'# TYPE sigmax_worker_request_seconds gauge\n';
	FOR r IN SELECT * FROM sigmax.worker_status() WHERE latency_p99_ms IS NOT NULL ORDER BY exchange LOOP
		out := out || format(E'sigmax_worker_request_seconds{exchange="%s",quantile="0.5"} %s\n', r.exchange, round((r.latency_p50_ms / 1000)::numeric, 6))
		           || format(E'sigmax_worker_request_seconds{exchange="%s",quantile="0.99"} %s\n', r.exchange, round((r.latency_p99_ms / 1000)::numeric, 6));
	END LOOP;
	out := out || E'# HELP sigmax_worker_commit_seconds Time from a venue''s response to its price committed, over the last 256 (quantile 0.99).\n'
	           || E'# TYPE sigmax_worker_commit_seconds gauge\n';
	FOR r IN SELECT * FROM sigmax.worker_status() WHERE commit_p99_ms IS NOT NULL ORDER BY exchange LOOP
		out := out || format(E'sigmax_worker_commit_seconds{exchange="%s",quantile="0.99"} %s\n', r.exchange, round((r.commit_p99_ms / 1000)::numeric, 6));
	END LOOP;
	out := out || E'# HELP sigmax_alerts_unacknowledged Alerts nobody has acknowledged, by kind.\n'
	           || E'# TYPE sigmax_alerts_unacknowledged gauge\n';
	FOR r IN SELECT x.kind, count(*) AS n FROM sigmax.alerts x WHERE x.acknowledged_at IS NULL GROUP BY 1 ORDER BY 1 LOOP
		out := out || format(E'sigmax_alerts_unacknowledged{kind="%s"} %s\n', r.kind, r.n);
	END LOOP;
	out := out || E'# HELP sigmax_ledger_entries Entries in each ledger stream (its head seq).\n'
	           || E'# TYPE sigmax_ledger_entries gauge\n';
	FOR r IN WITH RECURSIVE s(stream) AS (
	             (SELECT l.stream FROM sigmax.audit_log l ORDER BY l.stream LIMIT 1)
	             UNION ALL
	             SELECT (SELECT l.stream FROM sigmax.audit_log l WHERE l.stream > s.stream ORDER BY l.stream LIMIT 1)
	               FROM s WHERE s.stream IS NOT NULL)
	         SELECT s.stream, (SELECT max(l.seq) FROM sigmax.audit_log l WHERE l.stream = s.stream) AS seq
	           FROM s WHERE s.stream IS NOT NULL ORDER BY 1 LOOP
		out := out || format(E'sigmax_ledger_entries{stream="%s"} %s\n', r.stream, r.seq);
	END LOOP;
	out := out || E'# HELP sigmax_checkpoint_age_seconds Time since the latest signed ledger checkpoint.\n'
	           || E'# TYPE sigmax_checkpoint_age_seconds gauge\n'
	           || format(E'sigmax_checkpoint_age_seconds %s\n',
	                     coalesce(round(extract(epoch FROM now() - (SELECT max(c.created_at) FROM sigmax.audit_checkpoints c))::numeric, 3)::text, 'NaN'));
	RETURN out;
END
$$;

COMMENT ON FUNCTION sigmax.metrics() IS
'Counters and gauges in the Prometheus text exposition format: orders by outcome, check latency, rate-limit rejections, trading states, daily loss against its limit, equity, price age, venue errors, the exchange poller (up, requests, errors, latency and commit quantiles per venue), alerts, ledger entries, checkpoint age.';

-- the worker reads its venues again at commit, and finds the objects at the library's version
SELECT sigmax._poller_reload();
