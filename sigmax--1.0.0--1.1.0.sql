-- sigmax 1.0.0 -> 1.1.0 (ALTER EXTENSION sigmax UPDATE TO '1.1.0').
-- What 1.1.0 adds: the exchange poller in sigmax.status and sigmax.metrics(); API keys
-- (create, rotate, revoke, authenticate with a per-address lockout) binding a session
-- to a role and accounts for the order path.
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
		RAISE EXCEPTION 'unknown role "%"', role USING ERRCODE = '22023',
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
		                  AND e.key !~ '^_' AND e.key NOT IN ('authenticate', 'unbind', 'session_key', 'version')) THEN
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

-- the worker reads its venues again at commit, and finds the objects at the library's version
SELECT sigmax._poller_reload();
