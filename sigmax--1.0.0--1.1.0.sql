-- sigmax 1.0.0 -> 1.1.0 (ALTER EXTENSION sigmax UPDATE TO '1.1.0').
-- What 1.1.0 adds: the exchange poller in sigmax.status and sigmax.metrics(); API keys
-- (create, rotate, revoke, authenticate with a per-address lockout) binding a session
-- to a role and accounts for the order path.
\echo Use "ALTER EXTENSION sigmax UPDATE TO '1.1.0'" to load this file. \quit

CREATE FUNCTION sigmax.audit_checkpoint_verifies()
RETURNS boolean
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
UNION ALL
-- sigmax's own triggers as installed: the ledger's refusals and the caches' and poller's
-- triggers fire also under session_replication_role = replica (ENABLE ALWAYS), the chain
-- and insert guards as usual (ENABLE). A data-only pg_restore --disable-triggers, an
-- ALTER TABLE or a DROP TRIGGER leaves them otherwise; triggers of one's own are not shown.
SELECT 6, 'triggers', 'modes', CASE WHEN count(*) = 0 THEN 'as installed' ELSE 'CHANGED' END,
       count(*), NULL,
       coalesce(string_agg(e.rel || '.' || e.trigger || ' is ' ||
                           CASE WHEN t.tgenabled IS NULL THEN 'missing'
                                WHEN (t.tgtype & 1 = 1) <> e.per_row
                                THEN CASE WHEN e.per_row THEN 'per statement' ELSE 'per row' END
                                WHEN t.tgenabled = 'D' THEN 'disabled' WHEN t.tgenabled = 'O' THEN 'ENABLE'
                                WHEN t.tgenabled = 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE ALWAYS' END,
                           ', ' ORDER BY e.rel, e.trigger), 'none changed') COLLATE "default"
  FROM (VALUES ('audit_log', 'audit_log_append', 'O', true),
               ('audit_log', 'audit_log_immutable', 'A', true),
               ('audit_log', 'audit_log_no_truncate', 'A', false),
               ('audit_checkpoints', 'audit_checkpoints_insert_guard', 'O', true),
               ('audit_checkpoints', 'audit_checkpoints_immutable', 'A', true),
               ('audit_checkpoints', 'audit_checkpoints_no_truncate', 'A', false),
               ('audit_checkpoint_streams', 'audit_checkpoint_streams_insert_guard', 'O', true),
               ('audit_checkpoint_streams', 'audit_checkpoint_streams_immutable', 'A', true),
               ('audit_checkpoint_streams', 'audit_checkpoint_streams_no_truncate', 'A', false),
               ('instruments', 'instruments_cached', 'A', true),
               ('instruments', 'instruments_cached_truncate', 'A', false),
               ('instruments', 'poller_config_changed', 'A', true),
               ('instruments', 'poller_config_changed_truncate', 'A', false),
               ('risk_limits', 'risk_limits_cached', 'A', true),
               ('risk_limits', 'risk_limits_cached_truncate', 'A', false),
               ('venue_state', 'venue_state_cached', 'A', true),
               ('venue_state', 'venue_state_cached_state', 'A', true),
               ('venue_state', 'venue_state_cached_truncate', 'A', false),
               ('exchanges', 'poller_config_changed', 'A', true),
               ('exchanges', 'poller_config_changed_truncate', 'A', false),
               ('price_feeds', 'poller_config_changed', 'A', true),
               ('price_feeds', 'poller_config_changed_truncate', 'A', false)) e(rel, trigger, mode, per_row)
  LEFT JOIN (pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c
               ON c.oid = t.tgrelid AND c.relnamespace = 'sigmax'::regnamespace)
    ON c.relname = e.rel AND t.tgname = e.trigger
 WHERE t.tgenabled IS NULL OR t.tgenabled <> e.mode OR (t.tgtype & 1 = 1) <> e.per_row
) s
ORDER BY sort, name;

-- 1.0.0's view was its only caller; it ran its statements with its caller's search_path
DROP FUNCTION sigmax._checkpoint_verifies();

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

/* ---------------------------------------------------------------------------
 * API keys (docs/security.md): tokens shown once, stored as SHA-256; a session
 * authenticated with one acts as the key's role on the key's accounts.
 * ------------------------------------------------------------------------- */

CREATE SEQUENCE sigmax.api_keys_id_seq;

CREATE TABLE sigmax.api_keys (
	key_id        bigint      PRIMARY KEY DEFAULT nextval('sigmax.api_keys_id_seq'),
	name          text        NOT NULL CHECK (name ~ '^[A-Za-z0-9 ._:@-]{1,100}$'),
	role          text        NOT NULL CHECK (role IN ('sigmax_trader', 'sigmax_admin', 'sigmax_auditor')),
	account_ids   bigint[]    NOT NULL DEFAULT '{}' CHECK (array_position(account_ids, NULL) IS NULL),
	allowed_cidrs cidr[]      CHECK (array_position(allowed_cidrs, NULL) IS NULL),
	token_prefix  text        NOT NULL,
	token_hash    bytea       NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
	created_at    timestamptz NOT NULL DEFAULT now(),
	created_by    text        NOT NULL DEFAULT session_user,
	expires_at    timestamptz,
	revoked_at    timestamptz,
	revoked_by    text,
	replaced_by   bigint      REFERENCES sigmax.api_keys,
	rate_limits   jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(rate_limits) = 'object')
);
CREATE UNIQUE INDEX api_keys_live_name ON sigmax.api_keys (name) WHERE revoked_at IS NULL;

COMMENT ON TABLE sigmax.api_keys IS
'API keys: role, accounts, allowed client CIDRs, expiry; the token itself is never stored, only its SHA-256 and a recognisable prefix.';

SELECT pg_catalog.pg_extension_config_dump('sigmax.api_keys', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.api_keys_id_seq', '');

CREATE FUNCTION sigmax._new_api_token()
RETURNS text
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_new_api_token';

COMMENT ON FUNCTION sigmax._new_api_token() IS 'Internal: a new API token (256 random bits from OpenSSL, base64url, prefix sgx_).';

CREATE FUNCTION sigmax._authorize_account(account_id bigint)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_authorize_account_sql';

COMMENT ON FUNCTION sigmax._authorize_account(bigint) IS
'Internal: refuses (42501) an account the session''s API key may not act on, or an unauthenticated session under sigmax.require_api_key.';

/* Insert a key with a new token and ledger it; returns (key_id, token). */
CREATE FUNCTION sigmax._issue_api_key(name text, role text, account_ids bigint[], allowed_cidrs cidr[],
	expires_at timestamptz, action text, previous bigint)
RETURNS TABLE (key_id bigint, token text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t text := sigmax._new_api_token();
	id bigint;
BEGIN
	INSERT INTO sigmax.api_keys AS k (name, role, account_ids, allowed_cidrs, token_prefix, token_hash, expires_at)
	VALUES (name, role, account_ids, allowed_cidrs, left(t, 12), sha256(convert_to(t, 'UTF8')), expires_at)
	RETURNING k.key_id INTO id;
	PERFORM sigmax._audit_write('system', action,
		jsonb_build_object('key_id', id, 'name', name, 'role', role, 'account_ids', to_jsonb(account_ids),
		                   'allowed_cidrs', to_jsonb(allowed_cidrs::text[]), 'expires_at', expires_at,
		                   'token_prefix', left(t, 12), 'replaces', previous));
	RETURN QUERY SELECT id, t;
END
$$;

COMMENT ON FUNCTION sigmax._issue_api_key(text, text, bigint[], cidr[], timestamptz, text, bigint) IS
'Internal: store a new key (its token''s SHA-256 only) and ledger it without the token.';

CREATE FUNCTION sigmax.create_api_key(name text, role text, account_ids bigint[], allowed_cidrs cidr[] DEFAULT NULL,
	expires_at timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	missing bigint;
BEGIN
	IF name IS NULL OR name !~ '^[A-Za-z0-9 ._:@-]{1,100}$' THEN
		RAISE EXCEPTION 'a key name is 1 to 100 letters, digits, spaces and ._:@-' USING ERRCODE = '22023';
	END IF;
	IF role IS NULL OR role NOT IN ('sigmax_trader', 'sigmax_admin', 'sigmax_auditor') THEN
		RAISE EXCEPTION 'unknown role "%"', left(role, 64) USING ERRCODE = '22023',
			HINT = 'A key''s role is sigmax_trader, sigmax_admin or sigmax_auditor.';
	END IF;
	IF account_ids IS NULL OR array_position(account_ids, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'account_ids must be an array without NULLs' USING ERRCODE = '22023';
	END IF;
	IF role = 'sigmax_trader' AND cardinality(account_ids) = 0 THEN
		RAISE EXCEPTION 'a trader''s key needs at least one account' USING ERRCODE = '22023';
	END IF;
	SELECT x INTO missing FROM unnest(account_ids) x
	 WHERE NOT EXISTS (SELECT 1 FROM sigmax.accounts a WHERE a.account_id = x) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'account % does not exist', missing USING ERRCODE = '22023';
	END IF;
	IF allowed_cidrs IS NOT NULL AND array_position(allowed_cidrs, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'allowed_cidrs must not hold NULLs' USING ERRCODE = '22023';
	END IF;
	IF expires_at IS NOT NULL AND (expires_at <= now() OR expires_at = 'infinity') THEN
		RAISE EXCEPTION 'expires_at must be a finite time in the future' USING ERRCODE = '22023';
	END IF;
	IF EXISTS (SELECT 1 FROM sigmax.api_keys k WHERE k.name = create_api_key.name AND k.revoked_at IS NULL) THEN
		RAISE EXCEPTION 'a live key is already named "%"', name USING ERRCODE = '23505';
	END IF;
	RETURN (SELECT i.token FROM sigmax._issue_api_key(name, role, account_ids, allowed_cidrs, expires_at,
	                                                  'api_key.created', NULL) i);
END
$$;

COMMENT ON FUNCTION sigmax.create_api_key(text, text, bigint[], cidr[], timestamptz) IS
'Create an API key and return its token, once (only its SHA-256 is kept); ledgered without the token.';

CREATE FUNCTION sigmax.revoke_api_key(key_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE sigmax.api_keys k SET revoked_at = now(), revoked_by = session_user
	 WHERE k.key_id = revoke_api_key.key_id AND k.revoked_at IS NULL;
	IF NOT FOUND THEN
		IF EXISTS (SELECT 1 FROM sigmax.api_keys k WHERE k.key_id = revoke_api_key.key_id) THEN
			RAISE EXCEPTION 'key % is already revoked', key_id USING ERRCODE = '55000';
		END IF;
		RAISE EXCEPTION 'key % does not exist', key_id USING ERRCODE = '22023';
	END IF;
	PERFORM sigmax._audit_write('system', 'api_key.revoked', jsonb_build_object('key_id', key_id));
END
$$;

COMMENT ON FUNCTION sigmax.revoke_api_key(bigint) IS
'Revoke an API key; sessions bound to it are refused from their next transaction. Ledgered.';

CREATE FUNCTION sigmax.rotate_api_key(key_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k sigmax.api_keys;
	issued record;
BEGIN
	SELECT * INTO k FROM sigmax.api_keys x WHERE x.key_id = rotate_api_key.key_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'key % does not exist', key_id USING ERRCODE = '22023';
	END IF;
	IF k.revoked_at IS NOT NULL OR k.expires_at <= now() THEN
		RAISE EXCEPTION 'key % is revoked or expired', key_id USING ERRCODE = '55000', HINT = 'Create a new key instead.';
	END IF;
	UPDATE sigmax.api_keys x SET revoked_at = now(), revoked_by = session_user WHERE x.key_id = k.key_id;
	SELECT * INTO issued FROM sigmax._issue_api_key(k.name, k.role, k.account_ids, k.allowed_cidrs, k.expires_at,
	                                                'api_key.rotated', k.key_id);
	UPDATE sigmax.api_keys x SET replaced_by = issued.key_id WHERE x.key_id = k.key_id;
	UPDATE sigmax.api_keys x SET rate_limits = k.rate_limits WHERE x.key_id = issued.key_id;
	RETURN issued.token;
END
$$;

COMMENT ON FUNCTION sigmax.rotate_api_key(bigint) IS
'Replace a key by a new one with the same name, role, accounts, CIDRs, expiry and rate limits; the old one is revoked. Returns the new token, once.';

CREATE FUNCTION sigmax.authenticate(token text,
	OUT authenticated boolean, OUT key_id bigint, OUT role text, OUT account_ids bigint[], OUT reason text)
RETURNS record
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_authenticate';

COMMENT ON FUNCTION sigmax.authenticate(text) IS
'Check an API token (constant-time, expiry, revocation, allowed_cidrs) and bind the session to its key at commit; failures are counted per address (lockout), logged and ledgered, never with the token. Pass the token as a bind parameter.';

CREATE FUNCTION sigmax.unbind()
RETURNS boolean
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_unbind';

COMMENT ON FUNCTION sigmax.unbind() IS
'Forget the session''s API key (a connection pool''s reset query, with DISCARD ALL); true when there was one.';

CREATE FUNCTION sigmax.session_key(OUT key_id bigint, OUT role text, OUT account_ids bigint[])
RETURNS SETOF record
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_session_key';

COMMENT ON FUNCTION sigmax.session_key() IS 'The API key this session is bound to, its role and accounts (no row: none).';

/* cancel_order as in 1.0.0, and only on an account the session's key may act on. */
CREATE OR REPLACE FUNCTION sigmax.cancel_order(order_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o sigmax.orders;
BEGIN
	IF cancel_order.order_id IS NULL THEN
		RAISE EXCEPTION 'order_id must not be null' USING ERRCODE = '22023';
	END IF;
	PERFORM sigmax._authorize_account((SELECT x.account_id FROM sigmax.orders x WHERE x.order_id = cancel_order.order_id));
	-- The lock order of every order path: trading state, account row, order row.
	PERFORM sigmax._order_path_lock();
	PERFORM 1 FROM sigmax.accounts a JOIN sigmax.orders x ON x.account_id = a.account_id
	  WHERE x.order_id = cancel_order.order_id FOR NO KEY UPDATE OF a;
	SELECT * INTO o FROM sigmax.orders x WHERE x.order_id = cancel_order.order_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'order % does not exist', cancel_order.order_id USING ERRCODE = '22023';
	END IF;
	IF o.status NOT IN ('accepted', 'pending_approval') THEN
		RAISE EXCEPTION 'order % is already %', o.order_id, o.status
			USING ERRCODE = '55000', HINT = 'Only working orders (accepted or pending_approval) can be cancelled.';
	END IF;
	UPDATE sigmax.orders x SET status = 'cancelled', updated_at = now() WHERE x.order_id = o.order_id;
	PERFORM sigmax._audit_write('account:' || o.account_id, 'order.cancelled',
		jsonb_build_object('order_id', o.order_id, 'symbol', o.symbol, 'side', o.side,
		                   'qty', o.qty, 'previous_status', o.status));
	RETURN 'cancelled';
END
$$;

REVOKE ALL ON sigmax.api_keys, sigmax.api_keys_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION sigmax._new_api_token(), sigmax._authorize_account(bigint),
	sigmax._issue_api_key(text, text, bigint[], cidr[], timestamptz, text, bigint),
	sigmax.create_api_key(text, text, bigint[], cidr[], timestamptz), sigmax.revoke_api_key(bigint),
	sigmax.rotate_api_key(bigint), sigmax.authenticate(text), sigmax.session_key(), sigmax.unbind() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sigmax.create_api_key(text, text, bigint[], cidr[], timestamptz),
	sigmax.revoke_api_key(bigint), sigmax.rotate_api_key(bigint) TO sigmax_admin;
GRANT EXECUTE ON FUNCTION sigmax.authenticate(text), sigmax.session_key(), sigmax.unbind()
	TO sigmax_admin, sigmax_trader, sigmax_auditor;
GRANT SELECT (key_id, name, role, account_ids, allowed_cidrs, token_prefix, created_at, created_by, expires_at,
	revoked_at, revoked_by, replaced_by, rate_limits) ON sigmax.api_keys TO sigmax_admin;

/*
 * Per-key, per-function rate limits. The defaults are settings
 * (sigmax.api_rate_submit_order, _check_order, _default, _authenticate); a
 * key's rate_limits override them, function by function, from the key's next
 * authenticate. The buckets live in shared memory (src/api_limits.c).
 */
CREATE FUNCTION sigmax.set_api_key_rate_limits(key_id bigint, limits jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	merged jsonb;
	e record;
BEGIN
	IF key_id IS NULL OR limits IS NULL THEN
		RAISE EXCEPTION 'key_id and limits must not be null' USING ERRCODE = '22004';
	END IF;
	IF jsonb_typeof(limits) <> 'object' THEN
		RAISE EXCEPTION 'limits must be a JSON object of function names and calls a minute'
			USING ERRCODE = '22023', HINT = 'For instance {"submit_order": 300, "check_order": null}; null restores the default.';
	END IF;
	SELECT k.rate_limits INTO merged FROM sigmax.api_keys k
	 WHERE k.key_id = set_api_key_rate_limits.key_id AND k.revoked_at IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'key % does not exist or is revoked', key_id USING ERRCODE = '22023';
	END IF;
	FOR e IN SELECT j.key, j.value FROM jsonb_each(limits) j LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_proc p
		                WHERE p.pronamespace = 'sigmax'::regnamespace AND p.proname = e.key
		                  AND e.key !~ '^_' AND e.key NOT IN ('authenticate', 'unbind', 'session_key', 'version', 'may_read_account')) THEN
			RAISE EXCEPTION 'no per-key rate limit applies to "%"', left(e.key, 64) USING ERRCODE = '22023',
				DETAIL = 'Keys are names of public sigmax functions; authenticate is limited per client address by sigmax.api_rate_authenticate.';
		END IF;
		IF jsonb_typeof(e.value) = 'null' THEN
			merged := merged - e.key;
		ELSIF jsonb_typeof(e.value) = 'number' AND e.value::numeric = trunc(e.value::numeric)
		      AND e.value::numeric BETWEEN 0 AND 1000000 THEN
			merged := merged || jsonb_build_object(e.key, e.value::numeric::integer);
		ELSE
			RAISE EXCEPTION 'the limit of % must be a whole number of calls a minute from 0 (no limit) to 1000000, or null',
				e.key USING ERRCODE = '22023';
		END IF;
	END LOOP;
	IF (SELECT count(*) FROM jsonb_object_keys(merged)) > 16 THEN
		RAISE EXCEPTION 'a key has at most 16 function limits' USING ERRCODE = '54000';
	END IF;
	UPDATE sigmax.api_keys k SET rate_limits = merged WHERE k.key_id = set_api_key_rate_limits.key_id;
	PERFORM sigmax._audit_write('system', 'api_key.rate_limits',
		jsonb_build_object('key_id', key_id, 'rate_limits', merged, 'by', session_user));
	RETURN merged;
END
$$;

COMMENT ON FUNCTION sigmax.set_api_key_rate_limits(bigint, jsonb) IS
'Set a key''s own calls-a-minute limits per function ({"submit_order": 300}; null restores the setting''s default); applies from the key''s next authenticate. Ledgered.';

CREATE FUNCTION sigmax.api_rate_status(
	OUT key_id bigint, OUT address text, OUT function text, OUT per_minute integer, OUT tokens integer,
	OUT rejections bigint, OUT last_rejected_at timestamptz)
RETURNS SETOF record
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_api_rate_status';

COMMENT ON FUNCTION sigmax.api_rate_status() IS
'The API rate buckets of this database from shared memory: a key (or, for authenticate, a client address), the function, its limit, tokens left and refusals since startup.';

REVOKE ALL ON FUNCTION sigmax.set_api_key_rate_limits(bigint, jsonb), sigmax.api_rate_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sigmax.set_api_key_rate_limits(bigint, jsonb) TO sigmax_admin;
GRANT EXECUTE ON FUNCTION sigmax.api_rate_status() TO sigmax_admin, sigmax_auditor;

/* ---------------------------------------------------------------------------
 * Row security: a session bound to a trader's key reads its accounts' rows only.
 * ------------------------------------------------------------------------- */

CREATE FUNCTION sigmax.may_read_account(account_id bigint)
RETURNS boolean
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'sigmax_may_read_account';

COMMENT ON FUNCTION sigmax.may_read_account(bigint) IS
'Whether this session may read an account''s rows: a trader''s key its accounts, an admin''s or auditor''s key all, a dead key none; unbound sessions all unless sigmax.require_api_key.';

ALTER TABLE sigmax.orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE sigmax.fills ENABLE ROW LEVEL SECURITY;
ALTER TABLE sigmax.positions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sigmax.stops ENABLE ROW LEVEL SECURITY;
ALTER TABLE sigmax.alerts ENABLE ROW LEVEL SECURITY;
CREATE POLICY account_rows ON sigmax.orders FOR SELECT USING (sigmax.may_read_account(account_id));
CREATE POLICY account_rows ON sigmax.fills FOR SELECT USING (sigmax.may_read_account(account_id));
CREATE POLICY account_rows ON sigmax.positions FOR SELECT USING (sigmax.may_read_account(account_id));
CREATE POLICY account_rows ON sigmax.stops FOR SELECT USING (sigmax.may_read_account(account_id));
CREATE POLICY account_rows ON sigmax.alerts FOR SELECT USING (sigmax.may_read_account(account_id));

/* The account views run as their owner, past row security: they filter themselves. */
CREATE OR REPLACE VIEW sigmax.account_summary AS
SELECT a.account_id, a.name, a.trading_mode, a.state, a.cash,
       a.cash + coalesce(p.value, 0) AS equity, a.sod_equity,
       a.cash + coalesce(p.value, 0) - a.sod_equity AS daily_pnl,
       coalesce(p.gross, 0) AS gross_exposure,
       (SELECT count(*) FROM sigmax.orders o WHERE o.account_id = a.account_id
          AND o.status IN ('accepted', 'pending_approval')) AS open_orders
  FROM sigmax.accounts a
  LEFT JOIN LATERAL (
	SELECT sum(x.qty * coalesce(m.last, x.avg_price)) AS value,
	       sum(abs(x.qty) * coalesce(m.last, x.avg_price)) AS gross
	  FROM sigmax.positions x LEFT JOIN sigmax.instruments i ON i.symbol = x.symbol
	  LEFT JOIN sigmax.market_prices m ON m.exchange = i.exchange AND m.symbol = x.symbol
	 WHERE x.account_id = a.account_id AND x.qty <> 0) p ON true
 WHERE sigmax.may_read_account(a.account_id);

CREATE OR REPLACE VIEW sigmax.account_pnl AS
SELECT a.account_id, a.name, a.state, a.auto_pause_kind, a.auto_paused_at,
       a.cash + coalesce(p.value, 0) AS equity,
       coalesce(p.realized, 0) AS realized_pnl,
       coalesce(p.unrealized, 0) AS unrealized_pnl,
       a.sod_date, a.sod_equity,
       a.cash + coalesce(p.value, 0) - a.sod_equity AS daily_pnl,
       a.peak_equity,
       CASE WHEN a.peak_equity > 0
            THEN (a.peak_equity - (a.cash + coalesce(p.value, 0))) / a.peak_equity ELSE 0 END AS drawdown
  FROM sigmax.accounts a
  LEFT JOIN LATERAL (
	SELECT sum(x.qty * coalesce(x.mark_price, x.avg_price)) AS value,
	       sum(x.realized_pnl) AS realized,
	       sum(coalesce(x.unrealized_pnl, 0)) FILTER (WHERE x.qty <> 0) AS unrealized
	  FROM sigmax.positions x WHERE x.account_id = a.account_id) p ON true
 WHERE sigmax.may_read_account(a.account_id);

REVOKE ALL ON FUNCTION sigmax.may_read_account(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sigmax.may_read_account(bigint) TO sigmax_admin, sigmax_trader, sigmax_auditor;


/*
 * Two-person approvals (docs/security.md). Actions that loosen risk take a
 * second person: switching an account to live, loosening a limit, resuming
 * inside the cool-down after an automatic pause, lifting the kill switch,
 * and orders at or above approval_notional. The gated functions refuse
 * (42501, with a hint) and the same change goes through request_approval and
 * approve, which runs it in the approver's transaction through the internal
 * functions below. Superuser sessions are outside the model (they can change
 * any table): the gates do not stop them, but they never approve their own
 * request either.
 */
CREATE FUNCTION sigmax._superuser_session()
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname = session_user), false) $$;

COMMENT ON FUNCTION sigmax._superuser_session() IS 'Internal: is the session''s login role a superuser?';

CREATE FUNCTION sigmax._approval_ttl()
RETURNS interval
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'sigmax_approval_ttl';

COMMENT ON FUNCTION sigmax._approval_ttl() IS 'Internal: sigmax.approval_ttl as an interval.';

/* set_limits as in 1.0.0, without the gate: what an approved change runs. */
CREATE FUNCTION sigmax._apply_limits(account_id bigint, limits jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	k text;
	v jsonb;
	known text[] := ARRAY['max_order_qty', 'max_order_notional', 'max_position_pct', 'max_exposure_pct',
	                      'max_open_orders', 'max_daily_loss_pct', 'price_collar_pct', 'stale_price_ms',
	                      'orders_per_minute', 'approval_notional', 'slippage_bps', 'fee_bps',
	                      'max_drawdown_pct', 'stop_loss_pct', 'stop_trailing', 'max_loss_streak',
	                      'stop_cooldown_s'];
	before jsonb;
BEGIN
	IF limits IS NULL OR jsonb_typeof(limits) <> 'object' THEN
		RAISE EXCEPTION 'limits must be a JSON object' USING ERRCODE = '22023',
			HINT = 'For example ''{"max_position_pct": 0.05}''.';
	END IF;
	IF account_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sigmax.accounts a WHERE a.account_id = _apply_limits.account_id) THEN
		RAISE EXCEPTION 'account % does not exist', account_id USING ERRCODE = '22023';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(limits) LOOP
		IF NOT k = ANY (known) THEN
			RAISE EXCEPTION 'unknown limit "%"', left(k, 64) USING ERRCODE = '22023',
				HINT = 'Known limits: ' || array_to_string(known, ', ') || '.';
		END IF;
		IF jsonb_typeof(v) NOT IN ('number', 'null') THEN
			RAISE EXCEPTION 'limit "%" must be a number or null', k USING ERRCODE = '22023';
		END IF;
		IF jsonb_typeof(v) = 'number' AND ((v::numeric <= 0 AND k NOT IN ('max_open_orders', 'slippage_bps', 'fee_bps', 'stop_trailing', 'stop_cooldown_s'))
		   OR v::numeric < 0
		   OR (k IN ('max_open_orders', 'stale_price_ms', 'orders_per_minute', 'max_loss_streak', 'stop_cooldown_s')
		       AND (v::numeric <> trunc(v::numeric) OR v::numeric > 2147483647))
		   OR (k = 'stop_loss_pct' AND v::numeric >= 1)
		   OR (k = 'stop_trailing' AND v::numeric NOT IN (0, 1))
		   OR (k IN ('max_daily_loss_pct', 'max_drawdown_pct') AND v::numeric > 1)
		   OR (k IN ('slippage_bps', 'fee_bps') AND v::numeric >= 10000)) THEN
			RAISE EXCEPTION 'limit "%" is out of range', k USING ERRCODE = '22023';
		END IF;
	END LOOP;

	SELECT to_jsonb(r) - 'account_id' - 'updated_at' - 'updated_by' INTO before
	  FROM sigmax.risk_limits r WHERE r.account_id IS NOT DISTINCT FROM _apply_limits.account_id;
	IF before IS NULL THEN
		INSERT INTO sigmax.risk_limits (account_id, updated_by) VALUES (_apply_limits.account_id, session_user);
		before := '{}';
	END IF;
	UPDATE sigmax.risk_limits r SET
		max_order_qty = CASE WHEN limits ? 'max_order_qty' THEN (limits->>'max_order_qty')::numeric ELSE r.max_order_qty END,
		max_order_notional = CASE WHEN limits ? 'max_order_notional' THEN (limits->>'max_order_notional')::numeric ELSE r.max_order_notional END,
		max_position_pct = CASE WHEN limits ? 'max_position_pct' THEN (limits->>'max_position_pct')::numeric ELSE r.max_position_pct END,
		max_exposure_pct = CASE WHEN limits ? 'max_exposure_pct' THEN (limits->>'max_exposure_pct')::numeric ELSE r.max_exposure_pct END,
		max_open_orders = CASE WHEN limits ? 'max_open_orders' THEN (limits->>'max_open_orders')::integer ELSE r.max_open_orders END,
		max_daily_loss_pct = CASE WHEN limits ? 'max_daily_loss_pct' THEN (limits->>'max_daily_loss_pct')::numeric ELSE r.max_daily_loss_pct END,
		price_collar_pct = CASE WHEN limits ? 'price_collar_pct' THEN (limits->>'price_collar_pct')::numeric ELSE r.price_collar_pct END,
		stale_price_ms = CASE WHEN limits ? 'stale_price_ms' THEN (limits->>'stale_price_ms')::integer ELSE r.stale_price_ms END,
		orders_per_minute = CASE WHEN limits ? 'orders_per_minute' THEN (limits->>'orders_per_minute')::integer ELSE r.orders_per_minute END,
		approval_notional = CASE WHEN limits ? 'approval_notional' THEN (limits->>'approval_notional')::numeric ELSE r.approval_notional END,
		slippage_bps = CASE WHEN limits ? 'slippage_bps' THEN (limits->>'slippage_bps')::numeric ELSE r.slippage_bps END,
		fee_bps = CASE WHEN limits ? 'fee_bps' THEN (limits->>'fee_bps')::numeric ELSE r.fee_bps END,
		max_drawdown_pct = CASE WHEN limits ? 'max_drawdown_pct' THEN (limits->>'max_drawdown_pct')::numeric ELSE r.max_drawdown_pct END,
		stop_loss_pct = CASE WHEN limits ? 'stop_loss_pct' THEN (limits->>'stop_loss_pct')::numeric ELSE r.stop_loss_pct END,
		stop_trailing = CASE WHEN limits ? 'stop_trailing' THEN (limits->>'stop_trailing')::integer ELSE r.stop_trailing END,
		max_loss_streak = CASE WHEN limits ? 'max_loss_streak' THEN (limits->>'max_loss_streak')::integer ELSE r.max_loss_streak END,
		stop_cooldown_s = CASE WHEN limits ? 'stop_cooldown_s' THEN (limits->>'stop_cooldown_s')::integer ELSE r.stop_cooldown_s END,
		updated_at = now(), updated_by = session_user
	WHERE r.account_id IS NOT DISTINCT FROM _apply_limits.account_id;
	PERFORM sigmax._audit_write(CASE WHEN account_id IS NULL THEN 'system' ELSE 'account:' || account_id END,
		'limits.set', jsonb_build_object('account_id', account_id, 'before', before, 'changes', limits));
END
$$;

COMMENT ON FUNCTION sigmax._apply_limits(bigint, jsonb) IS 'Internal: validate, apply and ledger a change of limits.';

/* Every account's effective limits, and the defaults' (key "defaults"), as JSON. */
CREATE FUNCTION sigmax._effective_limits()
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT coalesce((SELECT jsonb_object_agg(l.account_id::text, to_jsonb(l) - 'account_id') FROM sigmax.limits l), '{}')
    -- the defaults as sigmax.limits derives them: a null override inherits the built-in value
    || jsonb_build_object('defaults',
         (SELECT to_jsonb(b) || coalesce(jsonb_strip_nulls(to_jsonb(d) - 'account_id' - 'updated_at' - 'updated_by'), '{}')
            FROM sigmax.builtin_limits b LEFT JOIN sigmax.risk_limits d ON d.account_id IS NULL))
$$;

COMMENT ON FUNCTION sigmax._effective_limits() IS 'Internal: the effective limits of every account and of the defaults.';

/*
 * Which limits got looser from before to after: a higher maximum, a limit
 * removed (null: no limit), a shorter stop cool-down, or trailing stops
 * turned off. Every key of sigmax.limits counts, so that a new limit is
 * gated from the start; slippage and fee are simulation settings, not limits.
 */
CREATE FUNCTION sigmax._limits_loosened(before jsonb, after jsonb)
RETURNS text[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT coalesce(array_agg(DISTINCT k.key ORDER BY k.key), '{}')
  FROM jsonb_each(after) a(who, lim)
  CROSS JOIN LATERAL jsonb_each(a.lim) k(key, new_value)
  CROSS JOIN LATERAL (SELECT before->a.who->k.key AS old_value) o
 WHERE before ? a.who
   AND k.key NOT IN ('slippage_bps', 'fee_bps')
   AND CASE
         WHEN jsonb_typeof(o.old_value) IS DISTINCT FROM 'number' THEN false   -- no limit before
         WHEN jsonb_typeof(k.new_value) <> 'number' THEN k.key NOT IN ('stop_cooldown_s', 'stop_trailing')   -- removed
         WHEN k.key IN ('stop_cooldown_s', 'stop_trailing') THEN k.new_value::numeric < o.old_value::numeric
         ELSE k.new_value::numeric > o.old_value::numeric
       END
$$;

COMMENT ON FUNCTION sigmax._limits_loosened(jsonb, jsonb) IS 'Internal: the names of the limits that a change made looser.';

CREATE OR REPLACE FUNCTION sigmax.set_limits(account_id bigint, limits jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	before jsonb;
	loosened text[];
BEGIN
	IF sigmax._superuser_session() THEN
		PERFORM sigmax._apply_limits(account_id, limits);
		RETURN;
	END IF;
	-- one change of limits at a time: the comparison must see every committed change
	LOCK TABLE sigmax.risk_limits IN SHARE ROW EXCLUSIVE MODE;
	before := sigmax._effective_limits();
	PERFORM sigmax._apply_limits(account_id, limits);
	loosened := sigmax._limits_loosened(before, sigmax._effective_limits());
	IF cardinality(loosened) > 0 THEN
		-- the error rolls the change back
		RAISE EXCEPTION 'loosening limits needs a second person''s approval'
			USING ERRCODE = '42501',
			DETAIL = 'The change would loosen: ' || array_to_string(loosened, ', ') || '.',
			HINT = 'Request it with sigmax.request_approval(''set_limits'', jsonb_build_object(''account_id'', '
			       || coalesce(account_id::text, 'NULL') || ', ''limits'', ...)); another person approves it with sigmax.approve.';
	END IF;
END
$$;

COMMENT ON FUNCTION sigmax.set_limits(bigint, jsonb) IS
'Override risk limits for an account (NULL: the defaults of every account); keys as in sigmax.limits, null to inherit again. Tightening applies at once; loosening needs a second person (request_approval).';

/* _set_state as in 1.0.0, with the gates an approval lifts. */
CREATE FUNCTION sigmax._apply_state(account_id bigint, new_state text, reason text, approved boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old_state text;
	paused_at timestamptz;
	kind text;
	equity numeric;
BEGIN
	IF reason IS NOT NULL AND length(reason) > 500 THEN
		RAISE EXCEPTION 'reason must be at most 500 characters' USING ERRCODE = '22023';
	END IF;
	IF account_id IS NULL THEN
		-- The kill switch must see every order that commits while it waits for them.
		IF current_setting('transaction_isolation') <> 'read committed' THEN
			RAISE EXCEPTION 'database-wide trading states change only in READ COMMITTED transactions'
				USING ERRCODE = '55000',
				DETAIL = 'A REPEATABLE READ or SERIALIZABLE snapshot would miss orders committed while the change waited for them.';
		END IF;
		-- Wait for orders in flight; shared memory learns the state at commit.
		PERFORM sigmax._lock_global_state();
		SELECT g.state INTO old_state FROM sigmax.global_state g;
		-- Lifting the kill switch takes a second person (docs/security.md).
		IF old_state = 'halted' AND new_state <> 'halted' AND NOT approved AND NOT sigmax._superuser_session() THEN
			RAISE EXCEPTION 'lifting the kill switch needs a second person''s approval'
				USING ERRCODE = '42501',
				DETAIL = 'Trading is halted for every account; a change to ' || new_state || ' lifts the halt.',
				HINT = 'Request it with sigmax.request_approval(''resume'', ''{"account_id": null}''); another person approves it with sigmax.approve.';
		END IF;
		INSERT INTO sigmax.global_state AS g (singleton, state, state_reason, state_changed_at, state_changed_by)
		VALUES (true, new_state, reason, now(), session_user)
		ON CONFLICT (singleton) DO UPDATE SET state = EXCLUDED.state, state_reason = EXCLUDED.state_reason,
			state_changed_at = EXCLUDED.state_changed_at, state_changed_by = EXCLUDED.state_changed_by;
		PERFORM sigmax._publish_global_state(new_state);
		PERFORM sigmax._audit_write('system', 'state.' || new_state,
			jsonb_build_object('scope', 'global', 'from', coalesce(old_state, 'active'), 'to', new_state, 'reason', reason));
	ELSE
		PERFORM sigmax._order_path_lock();
		SELECT a.state, a.auto_paused_at, a.auto_pause_kind INTO old_state, paused_at, kind
		  FROM sigmax.accounts a WHERE a.account_id = _apply_state.account_id FOR NO KEY UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'account % does not exist', account_id USING ERRCODE = '22023';
		END IF;
		-- After an automatic pause a person re-enables trading, and not at once (RTS 6 Art. 15(3)).
		IF paused_at IS NOT NULL AND new_state IN ('active', 'reducing') THEN
			IF now() < paused_at + sigmax._resume_cooldown() AND NOT approved THEN
				RAISE EXCEPTION 'account % was paused automatically (%) at %; it can resume from %',
					account_id, kind, paused_at, paused_at + sigmax._resume_cooldown()
					USING ERRCODE = '55000',
					DETAIL = 'sigmax.auto_pause_cooldown keeps an automatically paused account paused for a while.',
					HINT = 'Review the evidence in the ledger (protection.' || kind || ') and resume after the cool-down, '
					       'or earlier with a second person''s approval: sigmax.request_approval(''resume'', ''{"account_id": '
					       || account_id || '}'').';
			END IF;
			-- A person re-enables it: the drawdown counts from here, the losing streak starts again.
			SELECT p.equity INTO equity FROM sigmax.account_pnl p WHERE p.account_id = _apply_state.account_id;
			UPDATE sigmax.accounts a SET auto_paused_at = NULL, auto_pause_kind = NULL, loss_streak = 0,
				peak_equity = equity
			 WHERE a.account_id = _apply_state.account_id;
			reason := coalesce(reason, '') || ' (after automatic pause: ' || kind || '; peak equity re-based to ' || equity || ')';
		END IF;
		UPDATE sigmax.accounts a SET state = new_state, state_reason = reason, state_changed_at = now(),
			state_changed_by = session_user WHERE a.account_id = _apply_state.account_id;
		PERFORM sigmax._audit_write('account:' || account_id, 'state.' || new_state,
			jsonb_build_object('scope', 'account', 'from', old_state, 'to', new_state, 'reason', reason));
	END IF;
END
$$;

COMMENT ON FUNCTION sigmax._apply_state(bigint, text, text, boolean) IS
'Internal: change and ledger a trading state; approved lifts the kill switch or resumes inside the cool-down.';

CREATE OR REPLACE FUNCTION sigmax._set_state(account_id bigint, new_state text, reason text)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sigmax._apply_state(account_id, new_state, reason, false) $$;

/* An account's trading mode: paper, testnet or live (live takes a second person). */
CREATE FUNCTION sigmax._apply_trading_mode(account_id bigint, mode text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old_mode text;
BEGIN
	IF account_id IS NULL OR mode IS NULL THEN
		RAISE EXCEPTION 'account_id and mode must not be null' USING ERRCODE = '22004';
	END IF;
	IF mode NOT IN ('paper', 'testnet', 'live') THEN
		RAISE EXCEPTION 'unknown trading mode "%"', left(mode, 32) USING ERRCODE = '22023',
			HINT = 'A trading mode is paper, testnet or live.';
	END IF;
	PERFORM sigmax._order_path_lock();
	SELECT a.trading_mode INTO old_mode FROM sigmax.accounts a
	 WHERE a.account_id = _apply_trading_mode.account_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account % does not exist', account_id USING ERRCODE = '22023';
	END IF;
	UPDATE sigmax.accounts a SET trading_mode = mode WHERE a.account_id = _apply_trading_mode.account_id;
	PERFORM sigmax._audit_write('account:' || account_id, 'account.trading_mode',
		jsonb_build_object('from', old_mode, 'to', mode, 'by', session_user));
END
$$;

COMMENT ON FUNCTION sigmax._apply_trading_mode(bigint, text) IS 'Internal: change and ledger an account''s trading mode.';

CREATE FUNCTION sigmax.set_trading_mode(account_id bigint, mode text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF mode = 'live' AND NOT sigmax._superuser_session() THEN
		-- validate first: a request for a bad change is refused as the change itself would be
		IF NOT EXISTS (SELECT 1 FROM sigmax.accounts a WHERE a.account_id = set_trading_mode.account_id) THEN
			RAISE EXCEPTION 'account % does not exist', account_id USING ERRCODE = '22023';
		END IF;
		RAISE EXCEPTION 'switching an account to live needs a second person''s approval'
			USING ERRCODE = '42501',
			HINT = 'Request it with sigmax.request_approval(''set_trading_mode'', ''{"account_id": '
			       || account_id || ', "mode": "live"}''); another person approves it with sigmax.approve.';
	END IF;
	PERFORM sigmax._apply_trading_mode(account_id, mode);
END
$$;

COMMENT ON FUNCTION sigmax.set_trading_mode(bigint, text) IS
'Set an account''s trading mode (paper, testnet, live); switching to live needs a second person (request_approval). Ledgered.';

/* add_instrument as in 1.0.0, without the gate: what an approved change runs. */
CREATE FUNCTION sigmax._apply_instrument(symbol text, exchange text, tick_size numeric DEFAULT 0.01,
	lot_size numeric DEFAULT 0.00001, min_qty numeric DEFAULT 0, max_qty numeric DEFAULT NULL,
	min_notional numeric DEFAULT 0, venue_symbol text DEFAULT NULL, enabled boolean DEFAULT true,
	stop_loss_pct numeric DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF symbol IS NULL OR symbol !~ '^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$' THEN
		RAISE EXCEPTION 'invalid symbol' USING ERRCODE = '22023',
			DETAIL = 'A symbol is BASE/QUOTE, each side 2 to 10 upper-case letters or digits.';
	END IF;
	IF exchange IS NULL OR exchange !~ '^[a-z0-9_]{1,32}$' THEN
		RAISE EXCEPTION 'exchange must be 1 to 32 of a-z, 0-9 and _' USING ERRCODE = '22023';
	END IF;
	IF venue_symbol IS NOT NULL AND venue_symbol !~ '^[A-Za-z0-9._-]{1,64}$' THEN
		RAISE EXCEPTION 'venue_symbol must be 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-"' USING ERRCODE = '22023';
	END IF;
	IF tick_size IS NULL OR tick_size = 'NaN' OR tick_size <= 0 OR lot_size IS NULL OR lot_size = 'NaN' OR lot_size <= 0
	   OR min_qty IS NULL OR min_qty = 'NaN' OR min_qty < 0 OR max_qty = 'NaN' OR max_qty <= 0
	   OR min_notional IS NULL OR min_notional = 'NaN' OR min_notional < 0 OR enabled IS NULL
	   OR stop_loss_pct = 'NaN' OR stop_loss_pct <= 0 OR stop_loss_pct >= 1 THEN
		RAISE EXCEPTION 'tick_size and lot_size must be positive, min_qty and min_notional not negative'
			USING ERRCODE = '22023';
	END IF;
	INSERT INTO sigmax.instruments AS i (symbol, exchange, venue_symbol, tick_size, lot_size, min_qty, max_qty, min_notional, enabled, stop_loss_pct)
	VALUES (symbol, exchange, venue_symbol, tick_size, lot_size, min_qty, max_qty, min_notional, enabled, stop_loss_pct)
	ON CONFLICT ON CONSTRAINT instruments_pkey DO UPDATE
	SET exchange = EXCLUDED.exchange, venue_symbol = EXCLUDED.venue_symbol, tick_size = EXCLUDED.tick_size,
	    lot_size = EXCLUDED.lot_size, min_qty = EXCLUDED.min_qty, max_qty = EXCLUDED.max_qty,
	    min_notional = EXCLUDED.min_notional, enabled = EXCLUDED.enabled, stop_loss_pct = EXCLUDED.stop_loss_pct;
	PERFORM sigmax._audit_write('system', 'instrument.set',
		jsonb_build_object('symbol', symbol, 'exchange', exchange, 'venue_symbol', venue_symbol,
		                   'tick_size', tick_size, 'lot_size', lot_size, 'min_qty', min_qty,
		                   'max_qty', max_qty, 'min_notional', min_notional, 'enabled', enabled,
		                   'stop_loss_pct', stop_loss_pct));
END
$$;

COMMENT ON FUNCTION sigmax._apply_instrument(text, text, numeric, numeric, numeric, numeric, numeric, text, boolean, numeric) IS
'Internal: validate, store and ledger an instrument.';

/* An add_instrument request's arguments, with add_instrument's defaults. */
CREATE FUNCTION sigmax._apply_instrument_args(args jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF (args - ARRAY['symbol', 'exchange', 'tick_size', 'lot_size', 'min_qty', 'max_qty', 'min_notional',
	                 'venue_symbol', 'enabled', 'stop_loss_pct']) <> '{}' THEN
		RAISE EXCEPTION 'add_instrument takes the arguments of sigmax.add_instrument by name' USING ERRCODE = '22023',
			HINT = 'For instance {"symbol": "BTC/USDT", "exchange": "binance", "stop_loss_pct": 0.03}.';
	END IF;
	PERFORM sigmax._apply_instrument(args->>'symbol', args->>'exchange',
		CASE WHEN args ? 'tick_size' THEN (args->>'tick_size')::numeric ELSE 0.01 END,
		CASE WHEN args ? 'lot_size' THEN (args->>'lot_size')::numeric ELSE 0.00001 END,
		CASE WHEN args ? 'min_qty' THEN (args->>'min_qty')::numeric ELSE 0 END,
		(args->>'max_qty')::numeric,
		CASE WHEN args ? 'min_notional' THEN (args->>'min_notional')::numeric ELSE 0 END,
		args->>'venue_symbol',
		CASE WHEN args ? 'enabled' THEN (args->>'enabled')::boolean ELSE true END,
		(args->>'stop_loss_pct')::numeric);
END
$$;

COMMENT ON FUNCTION sigmax._apply_instrument_args(jsonb) IS 'Internal: run an approved add_instrument request.';

/*
 * add_instrument with the gate: an instrument's stop_loss_pct wins over the
 * account's, so a change that makes any account's effective stop-loss wider
 * (or removes it) takes a second person, like loosening the limit itself.
 */
CREATE OR REPLACE FUNCTION sigmax.add_instrument(symbol text, exchange text, tick_size numeric DEFAULT 0.01,
	lot_size numeric DEFAULT 0.00001, min_qty numeric DEFAULT 0, max_qty numeric DEFAULT NULL,
	min_notional numeric DEFAULT 0, venue_symbol text DEFAULT NULL, enabled boolean DEFAULT true,
	stop_loss_pct numeric DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	old_stop numeric;
BEGIN
	IF NOT sigmax._superuser_session() THEN
		LOCK TABLE sigmax.risk_limits IN SHARE ROW EXCLUSIVE MODE;
		SELECT i.stop_loss_pct INTO old_stop FROM sigmax.instruments i WHERE i.symbol = add_instrument.symbol FOR UPDATE;
		IF EXISTS (SELECT 1 FROM jsonb_each(sigmax._effective_limits()) l(who, lim),
		                  LATERAL (SELECT (l.lim->>'stop_loss_pct')::numeric AS own) a,
		                  LATERAL (SELECT coalesce(old_stop, a.own) AS before, coalesce(stop_loss_pct, a.own) AS after) e
		            WHERE e.before IS NOT NULL AND (e.after IS NULL OR e.after > e.before)) THEN
			RAISE EXCEPTION 'loosening a stop-loss needs a second person''s approval'
				USING ERRCODE = '42501',
				DETAIL = 'The instrument''s stop_loss_pct wins over the accounts''; this change would widen or remove a stop-loss.',
				HINT = 'Request it with sigmax.request_approval(''add_instrument'', jsonb_build_object(''symbol'', ...)); another person approves it with sigmax.approve.';
		END IF;
	END IF;
	PERFORM sigmax._apply_instrument(symbol, exchange, tick_size, lot_size, min_qty, max_qty, min_notional,
		venue_symbol, enabled, stop_loss_pct);
END
$$;

/*
 * What a resume request is made against: the database-wide halt (when it
 * started) or the account's automatic pause inside its cool-down. Strict: an
 * error when there is nothing that needs a second person to lift; otherwise
 * NULL then.
 */
CREATE FUNCTION sigmax._resume_guard(account_id bigint, strict boolean DEFAULT true)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g record;
	a record;
BEGIN
	IF account_id IS NULL THEN
		SELECT x.state, x.state_changed_at INTO g FROM sigmax.global_state x;
		IF g.state = 'halted' THEN
			RETURN jsonb_build_object('scope', 'global', 'halted_at', g.state_changed_at);
		ELSIF strict THEN
			RAISE EXCEPTION 'trading is not halted' USING ERRCODE = '55000',
				DETAIL = 'Only lifting the kill switch needs a second person; sigmax.resume() does the rest.';
		END IF;
		RETURN NULL;
	END IF;
	SELECT x.auto_paused_at, x.auto_pause_kind INTO a FROM sigmax.accounts x WHERE x.account_id = _resume_guard.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account % does not exist', account_id USING ERRCODE = '22023';
	END IF;
	IF a.auto_paused_at IS NOT NULL AND clock_timestamp() < a.auto_paused_at + sigmax._resume_cooldown() THEN
		RETURN jsonb_build_object('scope', 'account', 'auto_paused_at', a.auto_paused_at, 'kind', a.auto_pause_kind);
	ELSIF strict THEN
		RAISE EXCEPTION 'account % needs no approval to resume', account_id USING ERRCODE = '55000',
			DETAIL = 'It is not inside the cool-down after an automatic pause; sigmax.resume does it.';
	END IF;
	RETURN NULL;
END
$$;

COMMENT ON FUNCTION sigmax._resume_guard(bigint, boolean) IS 'Internal: the halt or automatic pause a resume request lifts.';

CREATE SEQUENCE sigmax.approval_requests_id_seq;

CREATE TABLE sigmax.approval_requests (
	request_id         bigint      PRIMARY KEY DEFAULT nextval('sigmax.approval_requests_id_seq'),
	action             text        NOT NULL CHECK (action IN ('set_limits', 'set_trading_mode', 'resume', 'add_instrument', 'order')),
	args               jsonb       NOT NULL CHECK (jsonb_typeof(args) = 'object'),
	guard              jsonb,      -- what the request was made against (the halt or pause a resume lifts)
	order_id           bigint      REFERENCES sigmax.orders,
	status             text        NOT NULL DEFAULT 'pending'
	                               CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
	requested_by       text        NOT NULL,
	requested_key_id   bigint,
	requested_key_name text,
	requested_at       timestamptz NOT NULL DEFAULT now(),
	expires_at         timestamptz NOT NULL,
	decided_by         text,
	decided_key_id     bigint,
	decided_at         timestamptz,
	reason             text,
	result             jsonb,
	CHECK ((action = 'order') = (order_id IS NOT NULL))
);
CREATE INDEX approval_requests_pending ON sigmax.approval_requests (expires_at) WHERE status = 'pending';
CREATE UNIQUE INDEX approval_requests_one_per_order ON sigmax.approval_requests (order_id) WHERE order_id IS NOT NULL;

COMMENT ON TABLE sigmax.approval_requests IS
'Requests for a second person''s approval: the action and its arguments, who asked (login role and API key), who decided, and the outcome.';

SELECT pg_catalog.pg_extension_config_dump('sigmax.approval_requests', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.approval_requests_id_seq', '');

/* Who is acting: the login role, and the API key the session is bound to (if any). */
CREATE FUNCTION sigmax._principal(OUT login text, OUT key_id bigint, OUT key_name text)
RETURNS record
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT session_user::text, k.key_id, a.name
  FROM (SELECT 1) one
  LEFT JOIN sigmax.session_key() k ON true
  LEFT JOIN sigmax.api_keys a ON a.key_id = k.key_id
$$;

COMMENT ON FUNCTION sigmax._principal() IS 'Internal: the session''s login role and bound API key.';

/*
 * Close what expired: pending requests past expires_at, and requests whose
 * order is no longer pending approval (cancelled by its trader or by the kill
 * switch). An expired order request cancels its order. Called by the
 * approval functions and by the background worker.
 */
CREATE FUNCTION sigmax._expire_approvals()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	n integer := 0;
	order_status text;
BEGIN
	FOR r IN SELECT x.request_id, x.action, x.order_id, x.expires_at, o.account_id
	           FROM sigmax.approval_requests x LEFT JOIN sigmax.orders o ON o.order_id = x.order_id
	          WHERE x.status = 'pending'
	            AND (x.expires_at <= clock_timestamp() OR (x.order_id IS NOT NULL AND o.status <> 'pending_approval'))
	          ORDER BY x.request_id
	LOOP
		IF r.order_id IS NOT NULL THEN
			-- the lock order of every order path: trading state, account, order
			PERFORM sigmax._order_path_lock();
			PERFORM 1 FROM sigmax.accounts a WHERE a.account_id = r.account_id FOR NO KEY UPDATE;
			SELECT o.status INTO order_status FROM sigmax.orders o WHERE o.order_id = r.order_id FOR UPDATE;
		END IF;
		PERFORM 1 FROM sigmax.approval_requests x WHERE x.request_id = r.request_id AND x.status = 'pending' FOR UPDATE;
		CONTINUE WHEN NOT FOUND;
		IF r.order_id IS NOT NULL AND order_status <> 'pending_approval' THEN
			UPDATE sigmax.approval_requests x SET status = 'cancelled', decided_at = now(),
				reason = 'the order is ' || order_status
			 WHERE x.request_id = r.request_id;
			PERFORM sigmax._audit_write('system', 'approval.cancelled',
				jsonb_build_object('request_id', r.request_id, 'order_id', r.order_id, 'order_status', order_status));
		ELSE
			UPDATE sigmax.approval_requests x SET status = 'expired', decided_at = now()
			 WHERE x.request_id = r.request_id;
			IF r.order_id IS NOT NULL THEN
				UPDATE sigmax.orders o SET status = 'cancelled', reason = 'approval request ' || r.request_id || ' expired',
					updated_at = now() WHERE o.order_id = r.order_id;
				PERFORM sigmax._audit_write('account:' || r.account_id, 'order.cancelled',
					jsonb_build_object('order_id', r.order_id, 'previous_status', 'pending_approval',
					                   'by', 'approval expiry', 'request_id', r.request_id));
			END IF;
			PERFORM sigmax._audit_write('system', 'approval.expired',
				jsonb_build_object('request_id', r.request_id, 'action', r.action, 'expired_at', r.expires_at));
		END IF;
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

COMMENT ON FUNCTION sigmax._expire_approvals() IS 'Internal: close expired approval requests (cancelling their orders) and those whose order is gone.';

/* The request submit_order files for an order at or above approval_notional. */
CREATE FUNCTION sigmax._request_order_approval(order_id bigint)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o sigmax.orders;
	me record;
	id bigint;
BEGIN
	SELECT * INTO STRICT o FROM sigmax.orders x WHERE x.order_id = _request_order_approval.order_id;
	SELECT * INTO me FROM sigmax._principal();
	INSERT INTO sigmax.approval_requests (action, args, order_id, requested_by, requested_key_id,
		requested_key_name, expires_at)
	VALUES ('order', jsonb_build_object('order_id', o.order_id, 'account_id', o.account_id, 'symbol', o.symbol,
	                                    'side', o.side, 'order_type', o.order_type, 'qty', o.qty,
	                                    'limit_price', o.limit_price, 'reason', o.reason),
	        o.order_id, me.login, me.key_id, me.key_name, now() + sigmax._approval_ttl())
	RETURNING request_id INTO id;
	PERFORM sigmax._audit_write('system', 'approval.requested',
		jsonb_build_object('request_id', id, 'action', 'order', 'order_id', o.order_id,
		                   'account_id', o.account_id, 'by', me.login, 'key_id', me.key_id));
	RETURN id;
END
$$;

COMMENT ON FUNCTION sigmax._request_order_approval(bigint) IS 'Internal: file the approval request of an order pending approval.';

CREATE FUNCTION sigmax._approve_order(order_id bigint,
	OUT order_id bigint, OUT status text, OUT reason_code text, OUT reason text)
RETURNS record
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_approve_order';

COMMENT ON FUNCTION sigmax._approve_order(bigint) IS
'Internal: run every check again on an order pending approval and accept, fill or reject it.';

CREATE FUNCTION sigmax.request_approval(action text, args jsonb)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	me record;
	id bigint;
	account bigint;
	guard jsonb;
BEGIN
	IF action IS NULL OR args IS NULL THEN
		RAISE EXCEPTION 'action and args must not be null' USING ERRCODE = '22004';
	END IF;
	IF jsonb_typeof(args) <> 'object' THEN
		RAISE EXCEPTION 'args must be a JSON object' USING ERRCODE = '22023';
	END IF;
	IF action = 'order' THEN
		RAISE EXCEPTION 'orders ask for approval themselves' USING ERRCODE = '22023',
			DETAIL = 'submit_order files the request of an order at or above approval_notional.';
	ELSIF action NOT IN ('set_limits', 'set_trading_mode', 'resume', 'add_instrument') THEN
		RAISE EXCEPTION 'unknown action "%"', left(action, 64) USING ERRCODE = '22023',
			HINT = 'Actions: set_limits, set_trading_mode, resume, add_instrument.';
	END IF;
	IF args ? 'account_id' AND (jsonb_typeof(args->'account_id') NOT IN ('number', 'null')
	   OR (jsonb_typeof(args->'account_id') = 'number'
	       AND (args->>'account_id')::numeric <> trunc((args->>'account_id')::numeric))) THEN
		RAISE EXCEPTION 'account_id must be a whole number or null' USING ERRCODE = '22023';
	END IF;
	account := (args->>'account_id')::numeric::bigint;
	PERFORM sigmax._expire_approvals();

	-- A request for a change that would fail is refused now, as the change itself would be:
	-- run it, then roll it back.
	BEGIN
		IF action = 'set_limits' THEN
			IF (args - 'account_id' - 'limits') <> '{}' OR NOT args ? 'account_id' OR NOT args ? 'limits' THEN
				RAISE EXCEPTION 'set_limits takes {"account_id": ..., "limits": {...}}' USING ERRCODE = '22023';
			END IF;
			PERFORM sigmax._apply_limits(account, args->'limits');
		ELSIF action = 'set_trading_mode' THEN
			IF (args - 'account_id' - 'mode') <> '{}' OR account IS NULL OR jsonb_typeof(args->'mode') <> 'string' THEN
				RAISE EXCEPTION 'set_trading_mode takes {"account_id": ..., "mode": "live"}' USING ERRCODE = '22023';
			END IF;
			PERFORM sigmax._apply_trading_mode(account, args->>'mode');
		ELSIF action = 'add_instrument' THEN
			PERFORM sigmax._apply_instrument_args(args);
		ELSE
			IF (args - 'account_id') <> '{}' OR NOT args ? 'account_id' THEN
				RAISE EXCEPTION 'resume takes {"account_id": ...} (null: the database-wide state)' USING ERRCODE = '22023';
			END IF;
			guard := sigmax._resume_guard(account);
		END IF;
		RAISE EXCEPTION USING ERRCODE = 'SXDRY';
	EXCEPTION WHEN SQLSTATE 'SXDRY' THEN
		NULL;			-- the change is undone; guard, a variable, keeps its value
	END;

	SELECT * INTO me FROM sigmax._principal();
	INSERT INTO sigmax.approval_requests (action, args, guard, requested_by, requested_key_id, requested_key_name, expires_at)
	VALUES (action, args, guard, me.login, me.key_id, me.key_name, now() + sigmax._approval_ttl())
	RETURNING request_id INTO id;
	PERFORM sigmax._audit_write('system', 'approval.requested',
		jsonb_build_object('request_id', id, 'action', action, 'args', args, 'by', me.login, 'key_id', me.key_id));
	RETURN id;
END
$$;

COMMENT ON FUNCTION sigmax.request_approval(text, jsonb) IS
'Ask a second person to approve a change: set_limits {"account_id", "limits"}, set_trading_mode {"account_id", "mode"}, resume {"account_id"} or add_instrument {"symbol", "exchange", ...}; checked now, run by approve. Returns the request id. Ledgered.';

/*
 * The pending request approve and deny decide, locked in the order path's
 * lock order (trading state, account, then the request) when it holds an
 * order; expired requests are closed first.
 */
CREATE FUNCTION sigmax._lock_pending_request(request_id bigint)
RETURNS sigmax.approval_requests
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r sigmax.approval_requests;
	account bigint;
BEGIN
	IF request_id IS NULL THEN
		RAISE EXCEPTION 'request_id must not be null' USING ERRCODE = '22004';
	END IF;
	PERFORM sigmax._expire_approvals();
	SELECT o.account_id INTO account FROM sigmax.orders o
	  JOIN sigmax.approval_requests q ON q.order_id = o.order_id WHERE q.request_id = _lock_pending_request.request_id;
	IF account IS NOT NULL THEN
		PERFORM sigmax._order_path_lock();
		PERFORM 1 FROM sigmax.accounts a WHERE a.account_id = account FOR NO KEY UPDATE;
	END IF;
	SELECT * INTO r FROM sigmax.approval_requests x WHERE x.request_id = _lock_pending_request.request_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'approval request % does not exist', request_id USING ERRCODE = '22023';
	END IF;
	IF r.status <> 'pending' THEN
		RAISE EXCEPTION 'approval request % is already %', request_id, r.status USING ERRCODE = '55000';
	END IF;
	RETURN r;
END
$$;

COMMENT ON FUNCTION sigmax._lock_pending_request(bigint) IS 'Internal: lock a pending approval request for approve or deny.';

CREATE FUNCTION sigmax.approve(request_id bigint)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r sigmax.approval_requests;
	me record;
	account bigint;
	outcome jsonb;
BEGIN
	r := sigmax._lock_pending_request(request_id);
	SELECT * INTO me FROM sigmax._principal();
	IF me.login = r.requested_by OR (me.key_name IS NOT NULL AND me.key_name = r.requested_key_name) THEN
		RAISE EXCEPTION 'the requester cannot approve their own request' USING ERRCODE = '42501',
			DETAIL = 'Request ' || request_id || ' was made by ' || r.requested_by
			         || coalesce(' with API key ' || r.requested_key_name, '') || '; another person must approve it, whatever roles the requester holds.';
	END IF;

	IF r.expires_at <= clock_timestamp() THEN
		RAISE EXCEPTION 'approval request % has expired', request_id USING ERRCODE = '55000';
	END IF;
	account := (r.args->>'account_id')::numeric::bigint;
	IF r.action = 'set_limits' THEN
		PERFORM sigmax._apply_limits(account, r.args->'limits');
		outcome := jsonb_build_object('limits', r.args->'limits');
	ELSIF r.action = 'set_trading_mode' THEN
		PERFORM sigmax._apply_trading_mode(account, r.args->>'mode');
		outcome := jsonb_build_object('trading_mode', r.args->>'mode');
	ELSIF r.action = 'resume' THEN
		-- the approval lifts the halt or pause it was asked for, not a later one
		IF sigmax._resume_guard(account, false) IS DISTINCT FROM r.guard THEN
			RAISE EXCEPTION 'approval request % no longer applies', request_id USING ERRCODE = '55000',
				DETAIL = 'The trading state it was asked to lift has changed since the request.',
				HINT = 'Deny it and request again if resuming is still wanted.';
		END IF;
		PERFORM sigmax._apply_state(account, 'active', 'resumed with approval ' || request_id, true);
		outcome := jsonb_build_object('state', 'active');
	ELSIF r.action = 'add_instrument' THEN
		PERFORM sigmax._apply_instrument_args(r.args);
		outcome := jsonb_build_object('instrument', r.args->>'symbol');
	ELSE
		SELECT to_jsonb(o) INTO outcome FROM sigmax._approve_order(r.order_id) o;
	END IF;

	UPDATE sigmax.approval_requests x SET status = 'approved', decided_by = me.login, decided_key_id = me.key_id,
		decided_at = now(), result = outcome
	 WHERE x.request_id = approve.request_id;
	PERFORM sigmax._audit_write('system', 'approval.approved',
		jsonb_build_object('request_id', request_id, 'action', r.action, 'requested_by', r.requested_by,
		                   'approved_by', me.login, 'key_id', me.key_id, 'result', outcome));
	RETURN outcome;
END
$$;

COMMENT ON FUNCTION sigmax.approve(bigint) IS
'Approve a pending request and run it in this transaction; the requester can never approve it. An order is checked again now. Returns the outcome. Ledgered.';

CREATE FUNCTION sigmax.deny(request_id bigint, reason text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r sigmax.approval_requests;
	me record;
	acct bigint;
BEGIN
	IF reason IS NOT NULL AND length(reason) > 500 THEN
		RAISE EXCEPTION 'reason must be at most 500 characters' USING ERRCODE = '22023';
	END IF;
	r := sigmax._lock_pending_request(request_id);
	SELECT o.account_id INTO acct FROM sigmax.orders o WHERE o.order_id = r.order_id;
	SELECT * INTO me FROM sigmax._principal();
	IF r.order_id IS NOT NULL THEN
		UPDATE sigmax.orders o SET status = 'cancelled',
			reason = left('approval denied' || coalesce(': ' || deny.reason, ''), 600), updated_at = now()
		 WHERE o.order_id = r.order_id AND o.status = 'pending_approval';
		PERFORM sigmax._audit_write('account:' || acct, 'order.cancelled',
			jsonb_build_object('order_id', r.order_id, 'previous_status', 'pending_approval',
			                   'by', 'approval denied', 'request_id', request_id));
	END IF;
	UPDATE sigmax.approval_requests x SET status = 'denied', decided_by = me.login, decided_key_id = me.key_id,
		decided_at = now(), reason = deny.reason
	 WHERE x.request_id = deny.request_id;
	PERFORM sigmax._audit_write('system', 'approval.denied',
		jsonb_build_object('request_id', request_id, 'action', r.action, 'requested_by', r.requested_by,
		                   'denied_by', me.login, 'key_id', me.key_id, 'reason', reason));
	PERFORM sigmax._raise_alert('approval_denied', 'warning', acct,
		jsonb_build_object('request_id', request_id, 'action', r.action, 'requested_by', r.requested_by,
		                   'denied_by', me.login, 'reason', reason), r.requested_by);
END
$$;

COMMENT ON FUNCTION sigmax.deny(bigint, text) IS
'Deny a pending request (an order waiting on it is cancelled); raises an approval_denied alert. Ledgered.';

REVOKE ALL ON sigmax.approval_requests, sigmax.approval_requests_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION sigmax._superuser_session(), sigmax._approval_ttl(), sigmax._apply_limits(bigint, jsonb),
	sigmax._effective_limits(), sigmax._limits_loosened(jsonb, jsonb), sigmax._apply_state(bigint, text, text, boolean),
	sigmax._apply_trading_mode(bigint, text), sigmax.set_trading_mode(bigint, text), sigmax._principal(),
	sigmax._expire_approvals(), sigmax._request_order_approval(bigint), sigmax._approve_order(bigint),
	sigmax.request_approval(text, jsonb), sigmax.approve(bigint), sigmax.deny(bigint, text),
	sigmax._apply_instrument(text, text, numeric, numeric, numeric, numeric, numeric, text, boolean, numeric),
	sigmax._apply_instrument_args(jsonb), sigmax._resume_guard(bigint, boolean),
	sigmax._lock_pending_request(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sigmax.set_trading_mode(bigint, text), sigmax.request_approval(text, jsonb),
	sigmax.approve(bigint), sigmax.deny(bigint, text) TO sigmax_admin;
GRANT SELECT ON sigmax.approval_requests TO sigmax_admin, sigmax_auditor;

-- Orders 1.0.0 left pending approval get their requests, so that they can be approved or expire.
SELECT sigmax._request_order_approval(o.order_id)
  FROM sigmax.orders o WHERE o.status = 'pending_approval' ORDER BY o.order_id;
UPDATE sigmax.approval_requests q SET requested_by = o.created_by
  FROM sigmax.orders o WHERE o.order_id = q.order_id AND q.status = 'pending';

/*
 * Unusual trading (docs/security.md): each account's orders and notional per
 * minute, kept for a day, against which the background worker compares the
 * last five minutes every minute.
 */
CREATE INDEX orders_created_idx ON sigmax.orders (created_at);

CREATE TABLE sigmax.account_activity (
	account_id bigint      NOT NULL REFERENCES sigmax.accounts,
	minute     timestamptz NOT NULL,
	orders     integer     NOT NULL CHECK (orders >= 0),
	notional   numeric     NOT NULL CHECK (notional >= 0),
	PRIMARY KEY (account_id, minute)
);

SELECT pg_catalog.pg_extension_config_dump('sigmax.account_activity', '');

CREATE INDEX account_activity_minute_idx ON sigmax.account_activity (minute);

COMMENT ON TABLE sigmax.account_activity IS
'Orders placed (whatever their verdict) and their notional, per account and minute, for the last 25 hours: the baseline of the unusual_trading alert.';

/*
 * Count the last ten minutes again (an order commits after its created_at,
 * and the current minute is still filling, so a minute is counted more than
 * once), drop what is older than 25 hours, and raise an unusual_trading alert
 * for an account whose last five minutes are sigmax.unusual_trading_factor
 * times its average five minutes over the 24 hours before, and above the
 * floors. An account younger than a day has no baseline and raises none.
 * Returns the alerts newly raised.
 */
CREATE FUNCTION sigmax._check_trading_baselines()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- the window: the four whole minutes before this one, and this one so far
	window_start timestamptz := date_trunc('minute', now()) - interval '4 minutes';
	factor numeric := current_setting('sigmax.unusual_trading_factor')::numeric;
	min_orders integer := current_setting('sigmax.unusual_trading_min_orders')::integer;
	min_notional_pct numeric := current_setting('sigmax.unusual_trading_min_notional_pct')::numeric;
	r record;
	n integer := 0;
	detail jsonb;
	recount_from timestamptz;
BEGIN
	-- after a gap (the first run, a restore, the worker stopped) the day is counted again
	SELECT greatest(least(coalesce(max(x.minute), '-infinity'), window_start - interval '5 minutes'),
	                window_start - interval '24 hours')
	  INTO recount_from FROM sigmax.account_activity x;
	INSERT INTO sigmax.account_activity AS x (account_id, minute, orders, notional)
	SELECT o.account_id, date_trunc('minute', o.created_at), count(*),
	       coalesce(sum(o.qty * coalesce(o.limit_price, o.reference_price, o.avg_fill_price, 0)), 0)
	  FROM sigmax.orders o
	 WHERE o.created_at >= recount_from
	 GROUP BY 1, 2
	ON CONFLICT ON CONSTRAINT account_activity_pkey
	DO UPDATE SET orders = EXCLUDED.orders, notional = EXCLUDED.notional;
	DELETE FROM sigmax.account_activity x WHERE x.minute < window_start - interval '25 hours';

	FOR r IN
		SELECT s.account_id, s.equity, w.cur_orders, w.cur_notional, w.base_orders, w.base_notional
		  FROM (SELECT x.account_id,
		               sum(x.orders) FILTER (WHERE x.minute >= window_start) AS cur_orders,
		               sum(x.notional) FILTER (WHERE x.minute >= window_start) AS cur_notional,
		               coalesce(sum(x.orders) FILTER (WHERE x.minute < window_start), 0) / 288.0 AS base_orders,
		               coalesce(sum(x.notional) FILTER (WHERE x.minute < window_start), 0) / 288.0 AS base_notional
		          FROM sigmax.account_activity x
		         WHERE x.minute >= window_start - interval '24 hours'
		           AND x.account_id IN (SELECT y.account_id FROM sigmax.account_activity y WHERE y.minute >= window_start)
		         GROUP BY x.account_id
		        HAVING sum(x.orders) FILTER (WHERE x.minute >= window_start) > 0) w
		  JOIN sigmax.account_summary s ON s.account_id = w.account_id
		  -- an account younger than a day has no baseline of its own yet
		  JOIN sigmax.accounts a ON a.account_id = w.account_id AND a.created_at < window_start - interval '24 hours'
		 ORDER BY s.account_id
	LOOP
		detail := jsonb_build_object('window_start', window_start, 'orders', r.cur_orders,
			'baseline_orders', round(r.base_orders, 2), 'notional', round(r.cur_notional, 2),
			'baseline_notional', round(r.base_notional, 2), 'factor', factor);
		IF r.cur_orders >= min_orders AND r.cur_orders > factor * r.base_orders THEN
			n := n + sigmax._unusual_trading(r.account_id, 'order_rate', detail);
		END IF;
		IF r.cur_notional > 0 AND r.cur_notional >= min_notional_pct * r.equity
		   AND r.cur_notional > factor * r.base_notional THEN
			n := n + sigmax._unusual_trading(r.account_id, 'notional', detail);
		END IF;
	END LOOP;
	RETURN n;
END
$$;

COMMENT ON FUNCTION sigmax._check_trading_baselines() IS
'Internal: count each account''s orders per minute and alert (unusual_trading) on five minutes far above its trailing 24-hour baseline; the worker runs it every minute.';

/* Raise (or count again) an unusual_trading alert; ledgered when it is new. 1 when new, else 0. */
CREATE FUNCTION sigmax._unusual_trading(account_id bigint, measure text, detail jsonb)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	open_alert boolean;
BEGIN
	SELECT EXISTS (SELECT 1 FROM sigmax.alerts a
	                WHERE a.kind = 'unusual_trading' AND a.account_id = _unusual_trading.account_id
	                  AND a.subject = measure AND a.acknowledged_at IS NULL
	                  AND a.raised_at > now() - interval '1 minute')
	  INTO open_alert;
	PERFORM sigmax._raise_alert('unusual_trading', 'warning', account_id, detail || jsonb_build_object('measure', measure), measure);
	IF open_alert THEN
		RETURN 0;
	END IF;
	PERFORM sigmax._audit_write('account:' || account_id, 'trading.unusual', detail || jsonb_build_object('measure', measure));
	RETURN 1;
END
$$;

COMMENT ON FUNCTION sigmax._unusual_trading(bigint, text, jsonb) IS 'Internal: raise and ledger an unusual_trading alert.';

REVOKE ALL ON sigmax.account_activity FROM PUBLIC;
REVOKE ALL ON FUNCTION sigmax._check_trading_baselines(), sigmax._unusual_trading(bigint, text, jsonb) FROM PUBLIC;
GRANT SELECT ON sigmax.account_activity TO sigmax_admin, sigmax_auditor;

/*
 * Errors never echo a huge input: the names these quote are clipped to 64
 * characters (bodies as in 1.0.0 otherwise).
 */
CREATE OR REPLACE FUNCTION sigmax.add_exchange(name text, adapter text DEFAULT NULL, base_url text DEFAULT NULL,
	testnet_url text DEFAULT NULL, poll_interval_ms integer DEFAULT 1000, enabled boolean DEFAULT true,
	category text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a sigmax.exchange_adapters;
BEGIN
	IF name IS NULL OR name !~ '^[a-z0-9_]{1,32}$' THEN
		RAISE EXCEPTION 'exchange name must be 1 to 32 of a-z, 0-9 and _' USING ERRCODE = '22023';
	END IF;
	SELECT * INTO a FROM sigmax.exchange_adapters x WHERE x.adapter = coalesce(add_exchange.adapter, add_exchange.name);
	IF NOT FOUND THEN
		RAISE EXCEPTION 'unknown exchange adapter "%"', left(coalesce(adapter, name), 64) USING ERRCODE = '22023',
			HINT = 'The adapters are listed in sigmax.exchange_adapters.';
	END IF;
	IF poll_interval_ms IS NULL OR poll_interval_ms < 100 OR poll_interval_ms > 3600000 OR enabled IS NULL THEN
		RAISE EXCEPTION 'poll_interval_ms must be from 100 to 3600000' USING ERRCODE = '22023';
	END IF;
	IF category IS NOT NULL AND category !~ '^[a-z]{1,16}$' THEN
		RAISE EXCEPTION 'category must be 1 to 16 of a-z' USING ERRCODE = '22023';
	END IF;
	INSERT INTO sigmax.exchanges AS e (name, adapter, base_url, testnet_url, enabled, poll_interval_ms, category)
	VALUES (name, a.adapter, coalesce(base_url, a.default_base_url),
	        CASE WHEN base_url IS NULL THEN coalesce(testnet_url, a.default_testnet_url) ELSE testnet_url END,
	        enabled, poll_interval_ms, category)
	ON CONFLICT ON CONSTRAINT exchanges_pkey DO UPDATE
	SET adapter = EXCLUDED.adapter, base_url = EXCLUDED.base_url, testnet_url = EXCLUDED.testnet_url,
	    enabled = EXCLUDED.enabled, poll_interval_ms = EXCLUDED.poll_interval_ms, category = EXCLUDED.category;
	PERFORM sigmax._audit_write('system', 'exchange.set',
		(SELECT to_jsonb(e) FROM sigmax.exchanges e WHERE e.name = add_exchange.name));
END
$$;

CREATE OR REPLACE FUNCTION sigmax.enable_exchange(name text, enabled boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF enabled IS NULL THEN
		RAISE EXCEPTION 'enabled must not be null' USING ERRCODE = '22023';
	END IF;
	UPDATE sigmax.exchanges e SET enabled = enable_exchange.enabled WHERE e.name = enable_exchange.name;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'exchange "%" does not exist', left(name, 64) USING ERRCODE = '22023',
			HINT = 'Add it with sigmax.add_exchange.';
	END IF;
	PERFORM sigmax._audit_write('system', CASE WHEN enabled THEN 'exchange.enabled' ELSE 'exchange.disabled' END,
		jsonb_build_object('name', name));
END
$$;

CREATE OR REPLACE FUNCTION sigmax.add_price_feed(exchange text, symbol text, venue_symbol text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF symbol IS NULL OR symbol !~ '^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$' THEN
		RAISE EXCEPTION 'invalid symbol' USING ERRCODE = '22023',
			DETAIL = 'A symbol is BASE/QUOTE, each side 2 to 10 upper-case letters or digits.';
	END IF;
	IF venue_symbol IS NOT NULL AND venue_symbol !~ '^[A-Za-z0-9._-]{1,64}$' THEN
		RAISE EXCEPTION 'venue_symbol must be 1 to 64 of A-Z, a-z, 0-9, ".", "_" and "-"' USING ERRCODE = '22023';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM sigmax.exchanges e WHERE e.name = add_price_feed.exchange) THEN
		RAISE EXCEPTION 'exchange "%" does not exist', left(exchange, 64) USING ERRCODE = '22023',
			HINT = 'Add it with sigmax.add_exchange.';
	END IF;
	INSERT INTO sigmax.price_feeds AS f (exchange, symbol, venue_symbol) VALUES (exchange, symbol, venue_symbol)
	ON CONFLICT ON CONSTRAINT price_feeds_pkey DO UPDATE SET venue_symbol = EXCLUDED.venue_symbol;
	PERFORM sigmax._audit_write('system', 'price_feed.set',
		jsonb_build_object('exchange', exchange, 'symbol', symbol, 'venue_symbol', venue_symbol));
END
$$;

/* Secrets: Vault KV v2 with an environment fallback (src/secrets.c). */

CREATE FUNCTION sigmax.secret_status(name text,
	OUT source text, OUT status text, OUT detail text, OUT resolved_at timestamptz)
RETURNS record
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_secret_status';

COMMENT ON FUNCTION sigmax.secret_status(text) IS
'Where the secret name resolves from in this session (vault, environment or missing), what Vault said (status, detail) and when it was resolved; never the value. Vault first (sigmax.vault_addr), then the server''s environment variable SIGMAX_<NAME>; cached for sigmax.vault_cache_ttl.';

CREATE FUNCTION sigmax.exchange_credentials()
RETURNS TABLE (exchange text, mode text, credential text, secret_name text, source text, status text, detail text)
LANGUAGE c VOLATILE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_exchange_credentials_fn';

COMMENT ON FUNCTION sigmax.exchange_credentials() IS
'For every exchange in sigmax.exchanges, its testnet and live api_key and api_secret (secrets named <exchange>_<testnet|live>_<api_key|api_secret>): whether each resolves, from where (vault, environment, missing) and what Vault said; never a value.';

REVOKE ALL ON FUNCTION sigmax.secret_status(text), sigmax.exchange_credentials() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sigmax.secret_status(text), sigmax.exchange_credentials() TO sigmax_admin;


/*
 * What a recorded price sets off, split out of sigmax.record_price when its
 * checks and store moved to C (src/prices.c): the C code calls this only when
 * an open position or a resting limit order is in the symbol or the venue is
 * reducing, so a reference price that nothing holds costs no PL/pgSQL.
 */
CREATE FUNCTION sigmax._price_actions(exchange text, symbol text, bid numeric, ask numeric, last numeric,
	at timestamptz)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o record;
	c record;
	acct bigint;
	is_paper boolean;
	may_add boolean;
	n integer := 0;
BEGIN
	-- The accounts this price must act on, found with one read-only query: those with
	-- resting orders it crosses, with stops it hits or a trailing stop it moves, and those
	-- whose equity at the new mark crosses the daily-loss or drawdown limit or whose trading
	-- day rolls over need the full pass; those only reaching a new peak equity need that
	-- written. Each is taken once, in ascending order (the order every path locks accounts
	-- in), under the order path's locks (trading state, account row, then its orders and
	-- positions). The others are only marked, at the end, in one statement. Record one
	-- price per transaction: each locks its market_prices row until commit.
	-- Nothing holds or rests on the symbol (a reference price): no fill, stop, mark or
	-- protection can follow, so the planning of the candidate query is skipped.
	IF EXISTS (SELECT 1 FROM sigmax.positions p WHERE p.symbol = _price_actions.symbol AND p.qty <> 0)
	   OR EXISTS (SELECT 1 FROM sigmax.orders x WHERE x.symbol = _price_actions.symbol
	               AND x.status = 'accepted' AND x.order_type = 'limit') THEN
		FOR c IN
			WITH holders AS (
				SELECT p.account_id FROM sigmax.positions p JOIN sigmax.instruments i ON i.symbol = p.symbol
				 WHERE p.symbol = _price_actions.symbol AND i.exchange = _price_actions.exchange AND p.qty <> 0),
			equity AS (
				SELECT a.account_id, a.state, a.sod_date, a.sod_equity, a.peak_equity, a.cash + v.value AS equity
				  FROM (SELECT x.account_id,
				               sum(x.qty * CASE WHEN x.symbol = _price_actions.symbol THEN _price_actions.last
				                                ELSE coalesce(x.mark_price, x.avg_price) END) AS value
				          FROM sigmax.positions x
				         WHERE x.qty <> 0 AND x.account_id IN (SELECT h.account_id FROM holders h)
				         GROUP BY x.account_id) v
				  JOIN sigmax.accounts a ON a.account_id = v.account_id),
			full_pass AS (
				SELECT x.account_id FROM sigmax.orders x JOIN sigmax.instruments i ON i.symbol = x.symbol
				 WHERE x.symbol = _price_actions.symbol AND i.exchange = _price_actions.exchange
				   AND x.status = 'accepted' AND x.order_type = 'limit'
				   AND ((x.side = 'buy' AND x.limit_price >= coalesce(_price_actions.ask, _price_actions.last))
				     OR (x.side = 'sell' AND x.limit_price <= coalesce(_price_actions.bid, _price_actions.last)))
				UNION
				SELECT st.account_id FROM sigmax.stops st
				 WHERE st.symbol = _price_actions.symbol AND st.status = 'active'
				   AND st.account_id IN (SELECT h.account_id FROM holders h)
				   AND ((st.direction = 'long' AND (coalesce(_price_actions.bid, _price_actions.last) <= st.stop_price
				                                    OR (st.trail_pct IS NOT NULL AND _price_actions.last > st.best_price)))
				     OR (st.direction = 'short' AND (coalesce(_price_actions.ask, _price_actions.last) >= st.stop_price
				                                     OR (st.trail_pct IS NOT NULL AND _price_actions.last < st.best_price))))
				UNION
				SELECT e.account_id FROM equity e JOIN sigmax.limits l ON l.account_id = e.account_id
				 WHERE (_price_actions.at AT TIME ZONE 'UTC')::date > e.sod_date
				    OR (e.state NOT IN ('paused', 'halted')
				        AND (e.equity - e.sod_equity <= -(l.max_daily_loss_pct * e.sod_equity)
				             OR (e.peak_equity > 0 AND (e.peak_equity - e.equity) / e.peak_equity >= l.max_drawdown_pct))))
			SELECT f.account_id, true AS full_pass, NULL::numeric AS equity FROM full_pass f
			UNION ALL
			SELECT e.account_id, false, e.equity FROM equity e
			 WHERE e.equity > e.peak_equity AND e.account_id NOT IN (SELECT f.account_id FROM full_pass f)
			ORDER BY 1
		LOOP
			PERFORM sigmax._order_path_lock();
			IF NOT c.full_pass THEN
				UPDATE sigmax.accounts a SET peak_equity = c.equity
				 WHERE a.account_id = c.account_id AND a.peak_equity < c.equity;
				CONTINUE;
			END IF;
			acct := c.account_id;
			SELECT a.trading_mode = 'paper',
			       a.state = 'active' AND sigmax._global_state() = 'active'
			       AND NOT EXISTS (SELECT 1 FROM sigmax.venue_state v
			                        WHERE v.exchange = _price_actions.exchange AND v.state = 'reducing')
			  INTO is_paper, may_add
			  FROM sigmax.accounts a WHERE a.account_id = acct FOR NO KEY UPDATE;
			-- Resting orders fill at their limit or better; while the account, the market or the
			-- venue is not active, only those placed to reduce a position do.
			FOR o IN SELECT x.order_id, x.side, x.limit_price FROM sigmax.orders x
			          WHERE x.account_id = acct AND x.symbol = _price_actions.symbol
			            AND x.status = 'accepted' AND x.order_type = 'limit' AND (may_add OR x.reduce_only)
			            AND ((x.side = 'buy' AND x.limit_price >= coalesce(_price_actions.ask, _price_actions.last))
			              OR (x.side = 'sell' AND x.limit_price <= coalesce(_price_actions.bid, _price_actions.last)))
			          ORDER BY x.order_id
			LOOP
				IF is_paper AND sigmax._fill_order(o.order_id,
					CASE WHEN o.side = 'buy' THEN least(o.limit_price, coalesce(_price_actions.ask, _price_actions.last))
					     ELSE greatest(o.limit_price, coalesce(_price_actions.bid, _price_actions.last)) END) THEN
					n := n + 1;
				END IF;
			END LOOP;
			UPDATE sigmax.positions p
			   SET mark_price = _price_actions.last, unrealized_pnl = p.qty * (_price_actions.last - p.avg_price),
			       marked_at = _price_actions.at
			 WHERE p.account_id = acct AND p.symbol = _price_actions.symbol AND p.qty <> 0;
			PERFORM sigmax._run_stops(acct, _price_actions.symbol, _price_actions.bid, _price_actions.ask,
				_price_actions.last, _price_actions.at);
			PERFORM sigmax._check_protections(acct, _price_actions.at);
		END LOOP;

		-- Every other position in the symbol is marked in one statement (position rows only:
		-- no account lock is taken after them).
		UPDATE sigmax.positions p
		   SET mark_price = _price_actions.last, unrealized_pnl = p.qty * (_price_actions.last - p.avg_price),
		       marked_at = _price_actions.at
		  FROM sigmax.instruments i
		 WHERE i.symbol = p.symbol AND p.symbol = _price_actions.symbol AND i.exchange = _price_actions.exchange
		   AND p.qty <> 0 AND (p.marked_at IS NULL OR p.marked_at <= _price_actions.at);
	END IF;

	-- A venue that answers again, with at most 5 errors in the last minute, has recovered.
	-- (Ledgered last: the system stream's lock comes after the trading-state lock.)
	IF EXISTS (SELECT 1 FROM sigmax.venue_state v WHERE v.exchange = _price_actions.exchange AND v.state = 'reducing')
	   AND (SELECT count(*) FROM sigmax.venue_errors e
	         WHERE e.exchange = _price_actions.exchange AND e.at > now() - interval '1 minute') <= 5 THEN
		PERFORM sigmax._order_path_lock();
		UPDATE sigmax.venue_state v SET state = 'active', since = now()
		 WHERE v.exchange = _price_actions.exchange AND v.state = 'reducing';
		IF FOUND THEN
			PERFORM sigmax._audit_write('system', 'venue.recovered', jsonb_build_object('exchange', exchange));
		END IF;
	END IF;
	RETURN n;
END
$$;

COMMENT ON FUNCTION sigmax._price_actions(text, text, numeric, numeric, numeric, timestamptz) IS
'Internal: the fills, marks, stops, protections and venue recovery a price just stored by sigmax.record_price sets off.';

REVOKE ALL ON FUNCTION sigmax._price_actions(text, text, numeric, numeric, numeric, timestamptz) FROM PUBLIC;

-- The checks and the store in C; the same arguments, defaults, messages and SQLSTATEs.
CREATE OR REPLACE FUNCTION sigmax.record_price(exchange text, symbol text, bid numeric, ask numeric, last numeric,
	at timestamptz DEFAULT now(), exchange_time timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_record_price_sql';

-- A fill's trade P&L, losing streak and protective stop moved into the fill itself (C,
-- src/fills.c): the position is written once per fill, and a stop the fill leaves as it
-- was is neither written nor ledgered. Only sigmax's fill path inserts fills.
DROP TRIGGER fills_maintain_stop ON sigmax.fills;
DROP FUNCTION sigmax._maintain_stop();

-- The order functions return exactly one row: say so, so that a plan calling them over many
-- rows is costed as it runs (a default of 1000 rows a call made such plans JIT-compile).
ALTER FUNCTION sigmax.submit_order(bigint, text, text, numeric, text, numeric, text) ROWS 1;
ALTER FUNCTION sigmax.check_order(bigint, text, text, numeric, text, numeric, text) ROWS 1;
ALTER FUNCTION sigmax._submit_system_order(bigint, text, text, numeric, text, numeric, text) ROWS 1;

-- check_order runs with its caller's rights. Its common path reads sigmax's tables
-- through their indexes in C, with no SPI and no name resolved through search_path, so
-- it needs neither the owner's rights nor a pinned search_path, whose set and reset per
-- call were a tenth of its cost. The rare reads through SPI (a limits cache miss, a stop
-- cool-down, the trading state after a restart) switch to the extension's owner with
-- search_path pinned for their duration (sigmax_owner_scope_begin in src/sigmax.c).
-- EXECUTE stays granted to the sigmax roles only.
ALTER FUNCTION sigmax.check_order(bigint, text, text, numeric, text, numeric, text)
	SECURITY INVOKER RESET search_path;

/*
 * Instruments and venue states are cached per backend for the order checks
 * (src/instrument_cache.c). Every write to them that the checks can see drops
 * the caches of every backend at commit; a venue's error bookkeeping, which
 * updates its row on each error, does so only when the state changes.
 */
CREATE FUNCTION sigmax._cached_table_changed()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'sigmax_cached_table_changed';

COMMENT ON FUNCTION sigmax._cached_table_changed() IS
'Internal trigger: every backend drops its cached rows of the table when the transaction commits.';

REVOKE ALL ON FUNCTION sigmax._cached_table_changed() FROM PUBLIC;

-- Per row, and TRUNCATE per statement: logical replication's apply fires row triggers only.
CREATE TRIGGER instruments_cached
AFTER INSERT OR UPDATE OR DELETE ON sigmax.instruments
FOR EACH ROW EXECUTE FUNCTION sigmax._cached_table_changed();

CREATE TRIGGER instruments_cached_truncate
AFTER TRUNCATE ON sigmax.instruments
FOR EACH STATEMENT EXECUTE FUNCTION sigmax._cached_table_changed();

-- record_venue_error's INSERT ... ON CONFLICT DO UPDATE fires statement-level INSERT
-- triggers at each error: the venue's triggers are per row, and an update counts only
-- when it changes the state.
CREATE TRIGGER venue_state_cached
AFTER INSERT OR DELETE ON sigmax.venue_state
FOR EACH ROW EXECUTE FUNCTION sigmax._cached_table_changed();

CREATE TRIGGER venue_state_cached_state
AFTER UPDATE ON sigmax.venue_state
FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.exchange IS DISTINCT FROM NEW.exchange)
EXECUTE FUNCTION sigmax._cached_table_changed();

CREATE TRIGGER venue_state_cached_truncate
AFTER TRUNCATE ON sigmax.venue_state
FOR EACH STATEMENT EXECUTE FUNCTION sigmax._cached_table_changed();

-- The limits cache (src/limits.c) was dropped only by set_limits and approvals, through
-- sigmax._limits_changed(): any write to sigmax.risk_limits now drops it, a direct one too.
CREATE TRIGGER risk_limits_cached
AFTER INSERT OR UPDATE OR DELETE ON sigmax.risk_limits
FOR EACH ROW EXECUTE FUNCTION sigmax._cached_table_changed();
CREATE TRIGGER risk_limits_cached_truncate
AFTER TRUNCATE ON sigmax.risk_limits
FOR EACH STATEMENT EXECUTE FUNCTION sigmax._cached_table_changed();
DROP FUNCTION sigmax._limits_changed();

-- The poller's reload triggers of 1.0.0 were per statement, which logical replication's
-- apply does not fire: per row now, and TRUNCATE per statement.
DROP TRIGGER poller_config_changed ON sigmax.exchanges;
DROP TRIGGER poller_config_changed ON sigmax.price_feeds;
DROP TRIGGER poller_config_changed ON sigmax.instruments;
CREATE TRIGGER poller_config_changed AFTER INSERT OR UPDATE OR DELETE ON sigmax.exchanges
	FOR EACH ROW EXECUTE FUNCTION sigmax._poller_config_changed();
CREATE TRIGGER poller_config_changed_truncate AFTER TRUNCATE ON sigmax.exchanges
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax._poller_config_changed();
CREATE TRIGGER poller_config_changed AFTER INSERT OR UPDATE OR DELETE ON sigmax.price_feeds
	FOR EACH ROW EXECUTE FUNCTION sigmax._poller_config_changed();
CREATE TRIGGER poller_config_changed_truncate AFTER TRUNCATE ON sigmax.price_feeds
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax._poller_config_changed();
CREATE TRIGGER poller_config_changed AFTER INSERT OR UPDATE OR DELETE ON sigmax.instruments
	FOR EACH ROW EXECUTE FUNCTION sigmax._poller_config_changed();
CREATE TRIGGER poller_config_changed_truncate AFTER TRUNCATE ON sigmax.instruments
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax._poller_config_changed();

-- The caches and the poller hear of writes also under session_replication_role = replica:
-- logical replication's apply (which fires row triggers, and statement triggers for
-- TRUNCATE), bulk loads.
ALTER TABLE sigmax.risk_limits ENABLE ALWAYS TRIGGER risk_limits_cached;
ALTER TABLE sigmax.risk_limits ENABLE ALWAYS TRIGGER risk_limits_cached_truncate;
ALTER TABLE sigmax.instruments ENABLE ALWAYS TRIGGER instruments_cached;
ALTER TABLE sigmax.instruments ENABLE ALWAYS TRIGGER instruments_cached_truncate;
ALTER TABLE sigmax.venue_state ENABLE ALWAYS TRIGGER venue_state_cached;
ALTER TABLE sigmax.venue_state ENABLE ALWAYS TRIGGER venue_state_cached_state;
ALTER TABLE sigmax.venue_state ENABLE ALWAYS TRIGGER venue_state_cached_truncate;
ALTER TABLE sigmax.exchanges ENABLE ALWAYS TRIGGER poller_config_changed;
ALTER TABLE sigmax.exchanges ENABLE ALWAYS TRIGGER poller_config_changed_truncate;
ALTER TABLE sigmax.price_feeds ENABLE ALWAYS TRIGGER poller_config_changed;
ALTER TABLE sigmax.price_feeds ENABLE ALWAYS TRIGGER poller_config_changed_truncate;
ALTER TABLE sigmax.instruments ENABLE ALWAYS TRIGGER poller_config_changed;
ALTER TABLE sigmax.instruments ENABLE ALWAYS TRIGGER poller_config_changed_truncate;

-- Tables without a primary key are published with their whole row as the replica
-- identity: an UPDATE or DELETE of a published table without one fails on the publisher.
ALTER TABLE sigmax.risk_limits REPLICA IDENTITY FULL;
ALTER TABLE sigmax.venue_errors REPLICA IDENTITY FULL;

-- The ledger refuses UPDATE, DELETE and TRUNCATE also under session_replication_role =
-- replica, which skips ordinary triggers: a superuser must now disable the triggers (DDL,
-- visible with log_statement = ddl) to change a ledger row. The insert guards stay as they
-- were, so that logical replication can copy ledger rows verbatim into a subscriber.
ALTER TABLE sigmax.audit_log ENABLE ALWAYS TRIGGER audit_log_immutable;
ALTER TABLE sigmax.audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
ALTER TABLE sigmax.audit_checkpoints ENABLE ALWAYS TRIGGER audit_checkpoints_immutable;
ALTER TABLE sigmax.audit_checkpoints ENABLE ALWAYS TRIGGER audit_checkpoints_no_truncate;
ALTER TABLE sigmax.audit_checkpoint_streams ENABLE ALWAYS TRIGGER audit_checkpoint_streams_immutable;
ALTER TABLE sigmax.audit_checkpoint_streams ENABLE ALWAYS TRIGGER audit_checkpoint_streams_no_truncate;

/*
 * The CHECK constraints of the tables every order writes become one CHECK a table calling a
 * C function with the same conditions (src/row_checks.c). PostgreSQL rebuilds and plans a
 * table's CHECK expressions again at every statement that writes it, and stores an IN list
 * byte by byte: the seventeen CHECKs below were a sixth of submit_order's time. Each
 * condition passes on NULL, as before; NOT NULL stays with the columns. Adding a CHECK scans
 * the table once (no rewrite).
 */
CREATE FUNCTION sigmax._orders_row_valid(side text, order_type text, qty numeric, limit_price numeric,
	status text)
RETURNS boolean LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'sigmax_orders_row_valid';
CREATE FUNCTION sigmax._fills_row_valid(side text, qty numeric, price numeric)
RETURNS boolean LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'sigmax_fills_row_valid';
CREATE FUNCTION sigmax._accounts_row_valid(name text, base_currency text, trading_mode text,
	initial_equity numeric, state text)
RETURNS boolean LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'sigmax_accounts_row_valid';
CREATE FUNCTION sigmax._audit_log_row_valid(seq bigint, payload jsonb, prev_hash bytea, hash bytea)
RETURNS boolean LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'sigmax_audit_log_row_valid';
REVOKE ALL ON FUNCTION sigmax._orders_row_valid(text, text, numeric, numeric, text),
	sigmax._fills_row_valid(text, numeric, numeric),
	sigmax._accounts_row_valid(text, text, text, numeric, text),
	sigmax._audit_log_row_valid(bigint, jsonb, bytea, bytea) FROM PUBLIC;
COMMENT ON FUNCTION sigmax._orders_row_valid(text, text, numeric, numeric, text) IS
'Internal: the CHECK of sigmax.orders: side buy or sell, order_type market or limit, qty and limit_price above 0, a known status.';
COMMENT ON FUNCTION sigmax._fills_row_valid(text, numeric, numeric) IS
'Internal: the CHECK of sigmax.fills: side buy or sell, qty and price above 0.';
COMMENT ON FUNCTION sigmax._accounts_row_valid(text, text, text, numeric, text) IS
'Internal: the CHECK of sigmax.accounts: a name of 1 to 100 characters, a base currency of 2 to 10 of A-Z and 0-9, a known trading mode, initial equity above 0, a known state.';
COMMENT ON FUNCTION sigmax._audit_log_row_valid(bigint, jsonb, bytea, bytea) IS
'Internal: the CHECK of sigmax.audit_log: seq above 0, an object as payload, 32-byte hashes.';

ALTER TABLE sigmax.orders
	DROP CONSTRAINT orders_side_check, DROP CONSTRAINT orders_order_type_check,
	DROP CONSTRAINT orders_qty_check, DROP CONSTRAINT orders_limit_price_check,
	DROP CONSTRAINT orders_status_check,
	ADD CONSTRAINT orders_row_check CHECK (sigmax._orders_row_valid(side, order_type, qty, limit_price, status));
ALTER TABLE sigmax.fills
	DROP CONSTRAINT fills_side_check, DROP CONSTRAINT fills_qty_check, DROP CONSTRAINT fills_price_check,
	ADD CONSTRAINT fills_row_check CHECK (sigmax._fills_row_valid(side, qty, price));
ALTER TABLE sigmax.accounts
	DROP CONSTRAINT accounts_name_check, DROP CONSTRAINT accounts_base_currency_check,
	DROP CONSTRAINT accounts_trading_mode_check, DROP CONSTRAINT accounts_initial_equity_check,
	DROP CONSTRAINT accounts_state_check,
	ADD CONSTRAINT accounts_row_check
		CHECK (sigmax._accounts_row_valid(name, base_currency, trading_mode, initial_equity, state));
ALTER TABLE sigmax.audit_log
	DROP CONSTRAINT audit_log_seq_check, DROP CONSTRAINT audit_log_payload_check,
	DROP CONSTRAINT audit_log_prev_hash_check, DROP CONSTRAINT audit_log_hash_check,
	ADD CONSTRAINT audit_log_row_check CHECK (sigmax._audit_log_row_valid(seq, payload, prev_hash, hash));

-- the worker reads its venues again at commit, and finds the objects at the library's version
SELECT sigmax._poller_reload();
