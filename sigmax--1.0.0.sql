/*
 * sigmax--1.0.0.sql: install script of the sigmax extension, version 1.0.0.
 * Released: never edited again. Changes go to update scripts
 * (sigmax--1.0.0--1.1.0.sql, ...), which CREATE EXTENSION also runs after this
 * one for a fresh install of a later version.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION sigmax" to load this file. \quit

/*
 * Roles. They belong to the cluster, not to a database, so they are created
 * only when missing and survive DROP EXTENSION. None of them can log in: a
 * login role is granted one of them.
 */
DO $roles$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['sigmax_admin', 'sigmax_trader', 'sigmax_auditor']
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
			EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
		END IF;
	END LOOP;
END
$roles$;

COMMENT ON SCHEMA sigmax IS 'sigmax: pre-trade risk engine and tamper-evident trade ledger';

/* ---------------------------------------------------------------------------
 * Library
 * ------------------------------------------------------------------------- */

CREATE FUNCTION sigmax.version()
RETURNS text
LANGUAGE c STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'sigmax_version';

COMMENT ON FUNCTION sigmax.version() IS
'Version of the loaded sigmax library.';

/* ---------------------------------------------------------------------------
 * Ledger: one append-only table, one SHA-256 chain per stream
 * (docs/ledger-format.md specifies every byte).
 * ------------------------------------------------------------------------- */

CREATE TABLE sigmax.audit_log (
	stream      text        NOT NULL,
	seq         bigint      NOT NULL CHECK (seq > 0),
	recorded_at timestamptz NOT NULL,
	actor       text        NOT NULL,
	action      text        NOT NULL,
	payload     jsonb       NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
	prev_hash   bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
	hash        bytea       NOT NULL CHECK (octet_length(hash) = 32),
	PRIMARY KEY (stream, seq)
);

COMMENT ON TABLE sigmax.audit_log IS
'Append-only, hash-chained record of every sigmax decision: hash = SHA-256(prev_hash || canonical(entry)) per stream.';
COMMENT ON COLUMN sigmax.audit_log.stream IS 'system, account:<id> or app:<name>; each stream is its own chain.';
COMMENT ON COLUMN sigmax.audit_log.seq IS 'Position in the stream, from 1, without gaps.';
COMMENT ON COLUMN sigmax.audit_log.actor IS 'Role (later: API key) on whose behalf the entry was written.';
COMMENT ON COLUMN sigmax.audit_log.prev_hash IS 'Hash of the previous entry of the stream; 32 zero bytes for seq 1.';

CREATE FUNCTION sigmax.audit_log_append()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'sigmax_audit_log_append';

COMMENT ON FUNCTION sigmax.audit_log_append() IS
'Trigger: assigns seq, recorded_at, prev_hash and hash of a new ledger entry under a per-stream lock.';

CREATE FUNCTION sigmax.ledger_immutable()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'sigmax_ledger_immutable';

COMMENT ON FUNCTION sigmax.ledger_immutable() IS
'Trigger: refuses UPDATE, DELETE and TRUNCATE on the ledger tables, even for their owner.';

CREATE FUNCTION sigmax.ledger_insert_guard()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'sigmax_ledger_insert_guard';

COMMENT ON FUNCTION sigmax.ledger_insert_guard() IS
'Trigger: only sigmax''s functions (or a superuser''s restore under sigmax.ledger_restore) add checkpoint rows.';

CREATE TRIGGER audit_log_append
	BEFORE INSERT ON sigmax.audit_log
	FOR EACH ROW EXECUTE FUNCTION sigmax.audit_log_append();
CREATE TRIGGER audit_log_immutable
	BEFORE UPDATE OR DELETE ON sigmax.audit_log
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_immutable();
CREATE TRIGGER audit_log_no_truncate
	BEFORE TRUNCATE ON sigmax.audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax.ledger_immutable();

CREATE TABLE sigmax.audit_checkpoints (
	id           bigint      PRIMARY KEY CHECK (id > 0),
	created_at   timestamptz NOT NULL,
	actor        text        NOT NULL,
	stream_count integer     NOT NULL,
	prev_digest  bytea       CHECK (octet_length(prev_digest) = 32),
	digest       bytea       NOT NULL CHECK (octet_length(digest) = 32),
	signature    bytea       NOT NULL CHECK (octet_length(signature) = 64),
	public_key   bytea       NOT NULL CHECK (octet_length(public_key) = 32)
);

COMMENT ON TABLE sigmax.audit_checkpoints IS
'Ed25519-signed digests of every stream''s head and Merkle root; each links to the previous one.';

CREATE TABLE sigmax.audit_checkpoint_streams (
	checkpoint_id bigint NOT NULL,
	stream        text   NOT NULL,
	seq           bigint NOT NULL CHECK (seq > 0),
	head          bytea  NOT NULL CHECK (octet_length(head) = 32),
	root          bytea  NOT NULL CHECK (octet_length(root) = 32),
	frontier      bytea  NOT NULL,
	PRIMARY KEY (checkpoint_id, stream)
);
CREATE INDEX audit_checkpoint_streams_stream_idx
	ON sigmax.audit_checkpoint_streams (stream, checkpoint_id);

COMMENT ON TABLE sigmax.audit_checkpoint_streams IS
'One line per stream and checkpoint: head seq and hash, RFC 6962 Merkle root, and the compact frontier that extends it.';

CREATE TRIGGER audit_checkpoints_insert_guard
	BEFORE INSERT ON sigmax.audit_checkpoints
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_insert_guard();
CREATE TRIGGER audit_checkpoints_immutable
	BEFORE UPDATE OR DELETE ON sigmax.audit_checkpoints
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_immutable();
CREATE TRIGGER audit_checkpoints_no_truncate
	BEFORE TRUNCATE ON sigmax.audit_checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax.ledger_immutable();
CREATE TRIGGER audit_checkpoint_streams_insert_guard
	BEFORE INSERT ON sigmax.audit_checkpoint_streams
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_insert_guard();
CREATE TRIGGER audit_checkpoint_streams_immutable
	BEFORE UPDATE OR DELETE ON sigmax.audit_checkpoint_streams
	FOR EACH ROW EXECUTE FUNCTION sigmax.ledger_immutable();
CREATE TRIGGER audit_checkpoint_streams_no_truncate
	BEFORE TRUNCATE ON sigmax.audit_checkpoint_streams
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax.ledger_immutable();

-- pg_dump keeps the ledger (restore with sigmax.ledger_restore = on; see docs/operations.md).
SELECT pg_catalog.pg_extension_config_dump('sigmax.audit_log', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.audit_checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.audit_checkpoint_streams', '');

CREATE FUNCTION sigmax.audit_append(action text, payload jsonb, stream text DEFAULT 'app:default')
RETURNS bigint
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_append';

COMMENT ON FUNCTION sigmax.audit_append(text, jsonb, text) IS
'Record an application decision in the ledger stream app:<name>; returns its seq. Refuses personal data and secrets.';

CREATE FUNCTION sigmax.audit_verify(stream text DEFAULT NULL)
RETURNS TABLE (stream text, seq bigint, problem text)
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_verify';

COMMENT ON FUNCTION sigmax.audit_verify(text) IS
'Recompute every chain (or one stream''s) and check it against the latest checkpoint; no rows means intact.';

CREATE FUNCTION sigmax.audit_checkpoint()
RETURNS TABLE (checkpoint_id bigint, stream_count integer, digest text)
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_checkpoint';

COMMENT ON FUNCTION sigmax.audit_checkpoint() IS
'Sign every stream''s head and Merkle root with the Ed25519 key of sigmax.checkpoint_key_file; also sent on NOTIFY sigmax_checkpoint.';

CREATE FUNCTION sigmax.audit_public_key()
RETURNS text
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_public_key';

COMMENT ON FUNCTION sigmax.audit_public_key() IS
'Public half (PEM) of the checkpoint signing key, for verifying checkpoints and proofs outside the database.';

CREATE FUNCTION sigmax.audit_checkpoint_export(checkpoint_id bigint DEFAULT NULL)
RETURNS text
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_checkpoint_export';

COMMENT ON FUNCTION sigmax.audit_checkpoint_export(bigint) IS
'A checkpoint (NULL: the latest) in the text form tools/sigmax-verify reads.';

CREATE FUNCTION sigmax.audit_proof(stream text, seq bigint)
RETURNS jsonb
LANGUAGE c STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_audit_proof';

COMMENT ON FUNCTION sigmax.audit_proof(text, bigint) IS
'RFC 6962 inclusion proof of one entry in the latest checkpoint covering it, checkable with the public key alone.';

/* ---------------------------------------------------------------------------
 * Risk engine: accounts, instruments, limits, prices, orders, fills, positions
 * (docs/risk-checks.md). Only sigmax's functions write these tables.
 * ------------------------------------------------------------------------- */

CREATE SEQUENCE sigmax.accounts_id_seq;
CREATE SEQUENCE sigmax.orders_id_seq;
CREATE SEQUENCE sigmax.fills_id_seq;

CREATE TABLE sigmax.accounts (
	account_id       bigint      PRIMARY KEY DEFAULT nextval('sigmax.accounts_id_seq'),
	name             text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
	base_currency    text        NOT NULL CHECK (base_currency ~ '^[A-Z0-9]{2,10}$'),
	trading_mode     text        NOT NULL DEFAULT 'paper' CHECK (trading_mode IN ('paper', 'testnet', 'live')),
	initial_equity   numeric     NOT NULL CHECK (initial_equity > 0),
	cash             numeric     NOT NULL,
	state            text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'reducing', 'paused', 'halted')),
	state_reason     text,
	state_changed_at timestamptz,
	state_changed_by text,
	sod_date         date        NOT NULL,
	sod_equity       numeric     NOT NULL,
	peak_equity      numeric     NOT NULL,
	auto_paused_at   timestamptz,
	auto_pause_kind  text,
	loss_streak      integer     NOT NULL DEFAULT 0,
	created_at       timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE sigmax.accounts IS
'Trading accounts: paper cash balance, trading mode, state and the start-of-day equity the daily loss is measured against.';

CREATE TABLE sigmax.global_state (
	singleton        boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
	state            text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'reducing', 'paused', 'halted')),
	state_reason     text,
	state_changed_at timestamptz,
	state_changed_by text
);
COMMENT ON TABLE sigmax.global_state IS
'The database-wide trading state (no row: active); shared memory serves it to the order checks.';

CREATE TABLE sigmax.instruments (
	symbol       text    PRIMARY KEY CHECK (symbol ~ '^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$'),
	exchange     text    NOT NULL CHECK (exchange ~ '^[a-z0-9_]{1,32}$'),
	venue_symbol text,
	tick_size    numeric NOT NULL DEFAULT 0.01 CHECK (tick_size > 0),
	lot_size     numeric NOT NULL DEFAULT 0.00001 CHECK (lot_size > 0),
	min_qty      numeric NOT NULL DEFAULT 0 CHECK (min_qty >= 0),
	max_qty      numeric CHECK (max_qty > 0),
	min_notional numeric NOT NULL DEFAULT 0 CHECK (min_notional >= 0),
	enabled      boolean NOT NULL DEFAULT true,
	stop_loss_pct numeric CHECK (stop_loss_pct > 0 AND stop_loss_pct < 1)
);

COMMENT ON TABLE sigmax.instruments IS
'Tradable symbols (BASE/QUOTE), the venue whose prices they are judged against, and their trading rules.';

CREATE TABLE sigmax.risk_limits (
	account_id          bigint  UNIQUE REFERENCES sigmax.accounts ON DELETE CASCADE,
	max_order_qty       numeric CHECK (max_order_qty > 0),
	max_order_notional  numeric CHECK (max_order_notional > 0),
	max_position_pct    numeric CHECK (max_position_pct > 0),
	max_exposure_pct    numeric CHECK (max_exposure_pct > 0),
	max_open_orders     integer CHECK (max_open_orders >= 0),
	max_daily_loss_pct  numeric CHECK (max_daily_loss_pct > 0 AND max_daily_loss_pct <= 1),
	price_collar_pct    numeric CHECK (price_collar_pct > 0),
	stale_price_ms      integer CHECK (stale_price_ms > 0),
	orders_per_minute   integer CHECK (orders_per_minute > 0),
	approval_notional   numeric CHECK (approval_notional > 0),
	slippage_bps        numeric CHECK (slippage_bps >= 0 AND slippage_bps < 10000),
	fee_bps             numeric CHECK (fee_bps >= 0 AND fee_bps < 10000),
	max_drawdown_pct    numeric CHECK (max_drawdown_pct > 0 AND max_drawdown_pct <= 1),
	stop_loss_pct       numeric CHECK (stop_loss_pct > 0 AND stop_loss_pct < 1),
	stop_trailing       integer CHECK (stop_trailing IN (0, 1)),
	max_loss_streak     integer CHECK (max_loss_streak > 0),
	stop_cooldown_s     integer CHECK (stop_cooldown_s >= 0),
	updated_at          timestamptz NOT NULL DEFAULT now(),
	updated_by          text
);
CREATE UNIQUE INDEX risk_limits_one_default ON sigmax.risk_limits ((true)) WHERE account_id IS NULL;

COMMENT ON TABLE sigmax.risk_limits IS
'Risk limit overrides: the row with account_id NULL overrides the built-in defaults for every account; an account''s row overrides the columns it sets.';

/* The built-in defaults, from SIGMAX's own guidance; the one place they are written down. */
CREATE VIEW sigmax.builtin_limits AS
SELECT NULL::numeric AS max_order_qty,
       NULL::numeric AS max_order_notional,
       0.05::numeric AS max_position_pct,
       1.0::numeric AS max_exposure_pct,
       50 AS max_open_orders,
       0.02::numeric AS max_daily_loss_pct,
       0.05::numeric AS price_collar_pct,
       10000 AS stale_price_ms,
       100 AS orders_per_minute,
       NULL::numeric AS approval_notional,
       5::numeric AS slippage_bps,
       10::numeric AS fee_bps,
       0.10::numeric AS max_drawdown_pct,
       0.015::numeric AS stop_loss_pct,
       0 AS stop_trailing,
       3 AS max_loss_streak,
       0 AS stop_cooldown_s;

COMMENT ON VIEW sigmax.builtin_limits IS 'Built-in risk limit defaults (SIGMAX guidance), used where no override is set.';

/* The limits each account runs under: its override, else the defaults row, else the built-in. */
CREATE VIEW sigmax.limits AS
SELECT a.account_id,
       coalesce(o.max_order_qty, d.max_order_qty, b.max_order_qty) AS max_order_qty,
       coalesce(o.max_order_notional, d.max_order_notional, b.max_order_notional) AS max_order_notional,
       coalesce(o.max_position_pct, d.max_position_pct, b.max_position_pct) AS max_position_pct,
       coalesce(o.max_exposure_pct, d.max_exposure_pct, b.max_exposure_pct) AS max_exposure_pct,
       coalesce(o.max_open_orders, d.max_open_orders, b.max_open_orders) AS max_open_orders,
       coalesce(o.max_daily_loss_pct, d.max_daily_loss_pct, b.max_daily_loss_pct) AS max_daily_loss_pct,
       coalesce(o.price_collar_pct, d.price_collar_pct, b.price_collar_pct) AS price_collar_pct,
       coalesce(o.stale_price_ms, d.stale_price_ms, b.stale_price_ms) AS stale_price_ms,
       coalesce(o.orders_per_minute, d.orders_per_minute, b.orders_per_minute) AS orders_per_minute,
       coalesce(o.approval_notional, d.approval_notional, b.approval_notional) AS approval_notional,
       coalesce(o.slippage_bps, d.slippage_bps, b.slippage_bps) AS slippage_bps,
       coalesce(o.fee_bps, d.fee_bps, b.fee_bps) AS fee_bps,
       coalesce(o.max_drawdown_pct, d.max_drawdown_pct, b.max_drawdown_pct) AS max_drawdown_pct,
       coalesce(o.stop_loss_pct, d.stop_loss_pct, b.stop_loss_pct) AS stop_loss_pct,
       coalesce(o.stop_trailing, d.stop_trailing, b.stop_trailing) AS stop_trailing,
       coalesce(o.max_loss_streak, d.max_loss_streak, b.max_loss_streak) AS max_loss_streak,
       coalesce(o.stop_cooldown_s, d.stop_cooldown_s, b.stop_cooldown_s) AS stop_cooldown_s
  FROM sigmax.accounts a
  CROSS JOIN sigmax.builtin_limits b
  LEFT JOIN sigmax.risk_limits d ON d.account_id IS NULL
  LEFT JOIN sigmax.risk_limits o ON o.account_id = a.account_id;

COMMENT ON VIEW sigmax.limits IS 'The effective risk limits of every account.';

CREATE TABLE sigmax.market_prices (
	exchange      text        NOT NULL,
	symbol        text        NOT NULL,
	bid           numeric,
	ask           numeric,
	last          numeric     NOT NULL,
	exchange_time timestamptz,
	recorded_at   timestamptz NOT NULL,
	PRIMARY KEY (exchange, symbol)
);

COMMENT ON TABLE sigmax.market_prices IS
'Latest price per venue and symbol, as sigmax.record_price wrote it; older than stale_price_ms means no price.';

CREATE TABLE sigmax.orders (
	order_id        bigint      PRIMARY KEY DEFAULT nextval('sigmax.orders_id_seq'),
	account_id      bigint      NOT NULL REFERENCES sigmax.accounts,
	symbol          text        NOT NULL,
	side            text        NOT NULL CHECK (side IN ('buy', 'sell')),
	order_type      text        NOT NULL CHECK (order_type IN ('market', 'limit')),
	qty             numeric     NOT NULL CHECK (qty > 0),
	limit_price     numeric     CHECK (limit_price > 0),
	client_order_id text,
	status          text        NOT NULL CHECK (status IN ('accepted', 'filled', 'rejected', 'cancelled', 'pending_approval')),
	reason_code     text,
	reason          text,
	reference_price numeric,
	filled_qty      numeric     NOT NULL DEFAULT 0,
	avg_fill_price  numeric,
	reduce_only     boolean     NOT NULL DEFAULT false,
	created_at      timestamptz NOT NULL DEFAULT now(),
	updated_at      timestamptz NOT NULL DEFAULT now(),
	created_by      text        NOT NULL,
	UNIQUE (account_id, client_order_id)
);
CREATE INDEX orders_working_idx ON sigmax.orders (account_id, symbol)
	WHERE status IN ('accepted', 'pending_approval');
CREATE INDEX orders_resting_idx ON sigmax.orders (symbol)
	WHERE status = 'accepted' AND order_type = 'limit';

COMMENT ON TABLE sigmax.orders IS
'Every order and its verdict: rejected orders stay with their reason_code; working orders are accepted or pending_approval.';

CREATE TABLE sigmax.fills (
	fill_id    bigint      PRIMARY KEY DEFAULT nextval('sigmax.fills_id_seq'),
	order_id   bigint      NOT NULL REFERENCES sigmax.orders,
	account_id bigint      NOT NULL REFERENCES sigmax.accounts,
	symbol     text        NOT NULL,
	side       text        NOT NULL CHECK (side IN ('buy', 'sell')),
	qty        numeric     NOT NULL CHECK (qty > 0),
	price      numeric     NOT NULL CHECK (price > 0),
	fee        numeric     NOT NULL DEFAULT 0,
	realized_pnl numeric,
	filled_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fills_account_idx ON sigmax.fills (account_id, filled_at);

COMMENT ON TABLE sigmax.fills IS 'Executions: paper fills made by sigmax, later also fills reported by a venue.';

CREATE TABLE sigmax.positions (
	account_id   bigint      NOT NULL REFERENCES sigmax.accounts,
	symbol       text        NOT NULL,
	qty          numeric     NOT NULL DEFAULT 0,
	avg_price    numeric,
	realized_pnl numeric     NOT NULL DEFAULT 0,
	mark_price   numeric,
	unrealized_pnl numeric,
	marked_at    timestamptz,
	trade_pnl    numeric     NOT NULL DEFAULT 0,
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (account_id, symbol)
);

CREATE INDEX positions_open_symbol_idx ON sigmax.positions (symbol) WHERE qty <> 0;

COMMENT ON TABLE sigmax.positions IS
'Net position per account and symbol (negative: short), its average entry price and realized P&L.';

SELECT pg_catalog.pg_extension_config_dump('sigmax.accounts_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.orders_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.fills_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.global_state', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.instruments', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.risk_limits', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.market_prices', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.orders', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.fills', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.positions', '');

/* ---------------------------------------------------------------------------
 * Internal entry points: owned by the extension owner, granted to nobody.
 * ------------------------------------------------------------------------- */

CREATE FUNCTION sigmax._audit_write(stream text, action text, payload jsonb)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_internal_audit_write';


CREATE FUNCTION sigmax._limits_changed()
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_limits_changed';

CREATE FUNCTION sigmax._lock_global_state()
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_lock_global_state';

CREATE FUNCTION sigmax._publish_global_state(state text)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_publish_global_state';

CREATE FUNCTION sigmax._global_state()
RETURNS text
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_global_state_text';

CREATE FUNCTION sigmax._reset_shared_state()
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_reset_shared_state';

CREATE FUNCTION sigmax._order_path_lock()
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_order_path_lock';

COMMENT ON FUNCTION sigmax._order_path_lock() IS 'Internal: take the trading-state lock in share mode, first, as every order path does.';

CREATE FUNCTION sigmax._fill_order(order_id bigint, price numeric)
RETURNS boolean
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'sigmax_fill_order';

COMMENT ON FUNCTION sigmax._audit_write(text, text, jsonb) IS 'Internal: ledger entry point of sigmax''s own SQL functions.';
COMMENT ON FUNCTION sigmax._limits_changed() IS 'Internal: drop every backend''s cached limits at commit.';
COMMENT ON FUNCTION sigmax._lock_global_state() IS 'Internal: wait for orders in flight before a database-wide state change.';
COMMENT ON FUNCTION sigmax._publish_global_state(text) IS 'Internal: publish the database-wide state to shared memory at commit.';
COMMENT ON FUNCTION sigmax._global_state() IS 'Internal: the database-wide state from shared memory.';
COMMENT ON FUNCTION sigmax._reset_shared_state() IS 'Internal: forget this database''s shared state (CREATE EXTENSION).';
COMMENT ON FUNCTION sigmax._fill_order(bigint, numeric) IS 'Internal: paper-fill a resting order a price crossed.';

/* ---------------------------------------------------------------------------
 * Orders (sigmax_trader)
 * ------------------------------------------------------------------------- */

CREATE FUNCTION sigmax.submit_order(account_id bigint, symbol text, side text, qty numeric,
	order_type text DEFAULT 'market', limit_price numeric DEFAULT NULL, client_order_id text DEFAULT NULL)
RETURNS TABLE (order_id bigint, status text, reason_code text, reason text)
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_submit_order';

COMMENT ON FUNCTION sigmax.submit_order(bigint, text, text, numeric, text, numeric, text) IS
'Check an order against every risk limit and record the verdict (accepted, filled, rejected with a reason code, or pending_approval), paper-filling and ledgering it in the same transaction.';

CREATE FUNCTION sigmax.check_order(account_id bigint, symbol text, side text, qty numeric,
	order_type text DEFAULT 'market', limit_price numeric DEFAULT NULL, client_order_id text DEFAULT NULL)
RETURNS TABLE (order_id bigint, status text, reason_code text, reason text)
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_check_order';

COMMENT ON FUNCTION sigmax.check_order(bigint, text, text, numeric, text, numeric, text) IS
'Dry run of submit_order: the same verdict; nothing is written and no rate-limit token is taken.';

CREATE FUNCTION sigmax.cancel_order(order_id bigint)
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

COMMENT ON FUNCTION sigmax.cancel_order(bigint) IS
'Cancel a working order and return its new status; cancels always pass, whatever the trading state.';

/* ---------------------------------------------------------------------------
 * Administration (sigmax_admin)
 * ------------------------------------------------------------------------- */

CREATE FUNCTION sigmax.create_account(name text, equity numeric, base_currency text DEFAULT 'USDT')
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	IF name IS NULL OR length(name) NOT BETWEEN 1 AND 100 THEN
		RAISE EXCEPTION 'account name must be 1 to 100 characters long' USING ERRCODE = '22023';
	END IF;
	IF equity IS NULL OR equity = 'NaN' OR equity <= 0 OR equity > 1e15 THEN
		RAISE EXCEPTION 'equity must be a positive amount up to 1e15' USING ERRCODE = '22023';
	END IF;
	IF base_currency IS NULL OR base_currency !~ '^[A-Z0-9]{2,10}$' THEN
		RAISE EXCEPTION 'base_currency must be 2 to 10 upper-case letters or digits' USING ERRCODE = '22023';
	END IF;
	IF EXISTS (SELECT 1 FROM sigmax.accounts a WHERE a.name = create_account.name) THEN
		RAISE EXCEPTION 'an account named "%" already exists', name USING ERRCODE = '23505';
	END IF;
	INSERT INTO sigmax.accounts (name, base_currency, initial_equity, cash, sod_date, sod_equity, peak_equity)
	VALUES (name, base_currency, equity, equity, (now() AT TIME ZONE 'UTC')::date, equity, equity)
	RETURNING account_id INTO id;
	PERFORM sigmax._audit_write('account:' || id, 'account.created',
		jsonb_build_object('account_id', id, 'name', name, 'equity', equity,
		                   'base_currency', base_currency, 'trading_mode', 'paper'));
	RETURN id;
END
$$;

COMMENT ON FUNCTION sigmax.create_account(text, numeric, text) IS
'Open a paper-trading account with the given equity as its cash balance; returns its id.';

CREATE FUNCTION sigmax.add_instrument(symbol text, exchange text, tick_size numeric DEFAULT 0.01,
	lot_size numeric DEFAULT 0.00001, min_qty numeric DEFAULT 0, max_qty numeric DEFAULT NULL,
	min_notional numeric DEFAULT 0, venue_symbol text DEFAULT NULL, enabled boolean DEFAULT true,
	stop_loss_pct numeric DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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

COMMENT ON FUNCTION sigmax.add_instrument(text, text, numeric, numeric, numeric, numeric, numeric, text, boolean, numeric) IS
'Add or change a tradable instrument: the venue whose prices judge it and its lot, tick and notional rules.';

CREATE FUNCTION sigmax.set_limits(account_id bigint, limits jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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
	IF account_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sigmax.accounts a WHERE a.account_id = set_limits.account_id) THEN
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
	  FROM sigmax.risk_limits r WHERE r.account_id IS NOT DISTINCT FROM set_limits.account_id;
	IF before IS NULL THEN
		INSERT INTO sigmax.risk_limits (account_id, updated_by) VALUES (set_limits.account_id, session_user);
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
	WHERE r.account_id IS NOT DISTINCT FROM set_limits.account_id;
	PERFORM sigmax._limits_changed();
	PERFORM sigmax._audit_write(CASE WHEN account_id IS NULL THEN 'system' ELSE 'account:' || account_id END,
		'limits.set', jsonb_build_object('account_id', account_id, 'before', before, 'changes', limits));
END
$$;

COMMENT ON FUNCTION sigmax.set_limits(bigint, jsonb) IS
'Override risk limits for an account (NULL: the defaults of every account); keys as in sigmax.limits, null to inherit again.';

CREATE FUNCTION sigmax._set_state(account_id bigint, new_state text, reason text)
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
		  FROM sigmax.accounts a WHERE a.account_id = _set_state.account_id FOR NO KEY UPDATE;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'account % does not exist', account_id USING ERRCODE = '22023';
		END IF;
		-- After an automatic pause a person re-enables trading, and not at once (RTS 6 Art. 15(3)).
		IF paused_at IS NOT NULL AND new_state IN ('active', 'reducing') THEN
			IF now() < paused_at + sigmax._resume_cooldown() THEN
				RAISE EXCEPTION 'account % was paused automatically (%) at %; it can resume from %',
					account_id, kind, paused_at, paused_at + sigmax._resume_cooldown()
					USING ERRCODE = '55000',
					DETAIL = 'sigmax.auto_pause_cooldown keeps an automatically paused account paused for a while.',
					HINT = 'Review the evidence in the ledger (protection.' || kind || ') and resume after the cool-down.';
			END IF;
			-- A person re-enables it: the drawdown counts from here, the losing streak starts again.
			SELECT p.equity INTO equity FROM sigmax.account_pnl p WHERE p.account_id = _set_state.account_id;
			UPDATE sigmax.accounts a SET auto_paused_at = NULL, auto_pause_kind = NULL, loss_streak = 0,
				peak_equity = equity
			 WHERE a.account_id = _set_state.account_id;
			reason := coalesce(reason, '') || ' (after automatic pause: ' || kind || '; peak equity re-based to ' || equity || ')';
		END IF;
		UPDATE sigmax.accounts a SET state = new_state, state_reason = reason, state_changed_at = now(),
			state_changed_by = session_user WHERE a.account_id = _set_state.account_id;
		PERFORM sigmax._audit_write('account:' || account_id, 'state.' || new_state,
			jsonb_build_object('scope', 'account', 'from', old_state, 'to', new_state, 'reason', reason));
	END IF;
END
$$;

COMMENT ON FUNCTION sigmax._set_state(bigint, text, text) IS 'Internal: change and ledger a trading state.';

CREATE FUNCTION sigmax.pause(account_id bigint DEFAULT NULL, reason text DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sigmax._set_state(account_id, 'paused', reason) $$;

COMMENT ON FUNCTION sigmax.pause(bigint, text) IS
'Pause trading for an account (NULL: every account): only orders that reduce a position pass.';

CREATE FUNCTION sigmax.resume(account_id bigint DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT sigmax._set_state(account_id, 'active', 'resumed') $$;

COMMENT ON FUNCTION sigmax.resume(bigint) IS
'Return an account (NULL: the database-wide state) to active trading.';

CREATE FUNCTION sigmax.set_reduce_only(account_id bigint, "on" boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF "on" IS NULL THEN
		RAISE EXCEPTION 'on must not be null' USING ERRCODE = '22023';
	END IF;
	PERFORM sigmax._set_state(account_id, CASE WHEN "on" THEN 'reducing' ELSE 'active' END,
		CASE WHEN "on" THEN 'reduce-only set' ELSE 'reduce-only lifted' END);
END
$$;

COMMENT ON FUNCTION sigmax.set_reduce_only(bigint, boolean) IS
'Allow only orders that reduce a position, for an account (NULL: every account), or lift it.';

/*
 * Cancel the working orders of an account (NULL: of every account), in one
 * symbol or all, ledgering each on its account's stream with who cancelled
 * it and why. The caller holds the locks its path needs. Returns how many.
 */
CREATE FUNCTION sigmax._cancel_working(account_id bigint, symbol text, reason text, cancelled_by text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	o record;
	n integer := 0;
BEGIN
	FOR o IN SELECT x.order_id, x.account_id, x.symbol, x.side, x.qty, x.status FROM sigmax.orders x
	          WHERE x.status IN ('accepted', 'pending_approval')
	            AND (_cancel_working.account_id IS NULL OR x.account_id = _cancel_working.account_id)
	            AND (_cancel_working.symbol IS NULL OR x.symbol = _cancel_working.symbol)
	          ORDER BY x.account_id, x.order_id FOR UPDATE
	LOOP
		UPDATE sigmax.orders x SET status = 'cancelled', reason = _cancel_working.reason, updated_at = now()
		 WHERE x.order_id = o.order_id;
		PERFORM sigmax._audit_write('account:' || o.account_id, 'order.cancelled',
			jsonb_build_object('order_id', o.order_id, 'symbol', o.symbol, 'side', o.side, 'qty', o.qty,
			                   'previous_status', o.status, 'by', cancelled_by));
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

COMMENT ON FUNCTION sigmax._cancel_working(bigint, text, text, text) IS
'Internal: cancel and ledger working orders (kill switch, automatic pauses, stop-losses).';

CREATE FUNCTION sigmax.kill_switch(reason text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer;
BEGIN
	IF reason IS NULL OR length(reason) NOT BETWEEN 1 AND 500 THEN
		RAISE EXCEPTION 'the kill switch needs a reason of 1 to 500 characters' USING ERRCODE = '22023';
	END IF;
	PERFORM sigmax._set_state(NULL, 'halted', reason);
	n := sigmax._cancel_working(NULL, NULL, 'kill switch', 'kill_switch');
	PERFORM sigmax._audit_write('system', 'kill_switch',
		jsonb_build_object('reason', reason, 'cancelled_orders', n));
	PERFORM sigmax._raise_alert('kill_switch', 'critical', NULL,
		jsonb_build_object('reason', reason, 'cancelled_orders', n, 'by', session_user));
	RETURN n;
END
$$;

COMMENT ON FUNCTION sigmax.kill_switch(text) IS
'Halt all trading and cancel every working order in the same transaction; returns how many were cancelled.';

CREATE FUNCTION sigmax.trading_state(account_id bigint DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	g text := sigmax._global_state();
	a text;
	rank CONSTANT text[] := ARRAY['active', 'reducing', 'paused', 'halted'];
BEGIN
	IF account_id IS NULL THEN
		RETURN g;
	END IF;
	SELECT x.state INTO a FROM sigmax.accounts x WHERE x.account_id = trading_state.account_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'account % does not exist', account_id USING ERRCODE = '22023';
	END IF;
	RETURN CASE WHEN array_position(rank, a) > array_position(rank, g) THEN a ELSE g END;
END
$$;

COMMENT ON FUNCTION sigmax.trading_state(bigint) IS
'Effective trading state (active, reducing, paused, halted) of an account, or the database-wide one for NULL.';

CREATE FUNCTION sigmax.record_price(exchange text, symbol text, bid numeric, ask numeric, last numeric,
	at timestamptz DEFAULT now(), exchange_time timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
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
	IF exchange IS NULL OR exchange !~ '^[a-z0-9_]{1,32}$' THEN
		RAISE EXCEPTION 'exchange must be 1 to 32 of a-z, 0-9 and _' USING ERRCODE = '22023';
	END IF;
	IF symbol IS NULL OR symbol !~ '^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$' THEN
		RAISE EXCEPTION 'invalid symbol' USING ERRCODE = '22023';
	END IF;
	IF last IS NULL OR at IS NULL THEN
		RAISE EXCEPTION 'last and at must not be null' USING ERRCODE = '22023';
	END IF;
	IF last = 'NaN' OR bid = 'NaN' OR ask = 'NaN' THEN
		RAISE EXCEPTION 'prices must be numbers, not NaN' USING ERRCODE = '22023';
	END IF;
	IF last IN ('Infinity', '-Infinity') OR bid IN ('Infinity', '-Infinity') OR ask IN ('Infinity', '-Infinity')
	   OR at IN ('infinity', '-infinity') THEN
		RAISE EXCEPTION 'prices and time must be finite' USING ERRCODE = '22003';
	END IF;
	IF last <= 0 OR bid <= 0 OR ask <= 0 OR bid > ask THEN
		RAISE EXCEPTION 'prices must be positive with bid <= ask' USING ERRCODE = '22023';
	END IF;
	-- A price from the future would never go stale: allow a minute of clock skew, no more.
	IF at > now() + interval '1 minute' THEN
		RAISE EXCEPTION 'at is more than a minute in the future' USING ERRCODE = '22023',
			HINT = 'Record prices with the time they were observed.';
	END IF;
	INSERT INTO sigmax.market_prices AS m (exchange, symbol, bid, ask, last, exchange_time, recorded_at)
	VALUES (record_price.exchange, record_price.symbol, record_price.bid, record_price.ask, record_price.last,
	        record_price.exchange_time, record_price.at)
	ON CONFLICT ON CONSTRAINT market_prices_pkey DO UPDATE
	SET bid = EXCLUDED.bid, ask = EXCLUDED.ask, last = EXCLUDED.last, exchange_time = EXCLUDED.exchange_time,
	    recorded_at = EXCLUDED.recorded_at
	WHERE m.recorded_at <= EXCLUDED.recorded_at;
	IF NOT FOUND THEN
		RETURN 0;   -- older than the price already recorded: neither stored nor acted on
	END IF;

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
	IF EXISTS (SELECT 1 FROM sigmax.positions p WHERE p.symbol = record_price.symbol AND p.qty <> 0)
	   OR EXISTS (SELECT 1 FROM sigmax.orders x WHERE x.symbol = record_price.symbol
	               AND x.status = 'accepted' AND x.order_type = 'limit') THEN
		FOR c IN
			WITH holders AS (
				SELECT p.account_id FROM sigmax.positions p JOIN sigmax.instruments i ON i.symbol = p.symbol
				 WHERE p.symbol = record_price.symbol AND i.exchange = record_price.exchange AND p.qty <> 0),
			equity AS (
				SELECT a.account_id, a.state, a.sod_date, a.sod_equity, a.peak_equity, a.cash + v.value AS equity
				  FROM (SELECT x.account_id,
				               sum(x.qty * CASE WHEN x.symbol = record_price.symbol THEN record_price.last
				                                ELSE coalesce(x.mark_price, x.avg_price) END) AS value
				          FROM sigmax.positions x
				         WHERE x.qty <> 0 AND x.account_id IN (SELECT h.account_id FROM holders h)
				         GROUP BY x.account_id) v
				  JOIN sigmax.accounts a ON a.account_id = v.account_id),
			full_pass AS (
				SELECT x.account_id FROM sigmax.orders x JOIN sigmax.instruments i ON i.symbol = x.symbol
				 WHERE x.symbol = record_price.symbol AND i.exchange = record_price.exchange
				   AND x.status = 'accepted' AND x.order_type = 'limit'
				   AND ((x.side = 'buy' AND x.limit_price >= coalesce(record_price.ask, record_price.last))
				     OR (x.side = 'sell' AND x.limit_price <= coalesce(record_price.bid, record_price.last)))
				UNION
				SELECT st.account_id FROM sigmax.stops st
				 WHERE st.symbol = record_price.symbol AND st.status = 'active'
				   AND st.account_id IN (SELECT h.account_id FROM holders h)
				   AND ((st.direction = 'long' AND (coalesce(record_price.bid, record_price.last) <= st.stop_price
				                                    OR (st.trail_pct IS NOT NULL AND record_price.last > st.best_price)))
				     OR (st.direction = 'short' AND (coalesce(record_price.ask, record_price.last) >= st.stop_price
				                                     OR (st.trail_pct IS NOT NULL AND record_price.last < st.best_price))))
				UNION
				SELECT e.account_id FROM equity e JOIN sigmax.limits l ON l.account_id = e.account_id
				 WHERE (record_price.at AT TIME ZONE 'UTC')::date > e.sod_date
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
			                        WHERE v.exchange = record_price.exchange AND v.state = 'reducing')
			  INTO is_paper, may_add
			  FROM sigmax.accounts a WHERE a.account_id = acct FOR NO KEY UPDATE;
			-- Resting orders fill at their limit or better; while the account, the market or the
			-- venue is not active, only those placed to reduce a position do.
			FOR o IN SELECT x.order_id, x.side, x.limit_price FROM sigmax.orders x
			          WHERE x.account_id = acct AND x.symbol = record_price.symbol
			            AND x.status = 'accepted' AND x.order_type = 'limit' AND (may_add OR x.reduce_only)
			            AND ((x.side = 'buy' AND x.limit_price >= coalesce(record_price.ask, record_price.last))
			              OR (x.side = 'sell' AND x.limit_price <= coalesce(record_price.bid, record_price.last)))
			          ORDER BY x.order_id
			LOOP
				IF is_paper AND sigmax._fill_order(o.order_id,
					CASE WHEN o.side = 'buy' THEN least(o.limit_price, coalesce(record_price.ask, record_price.last))
					     ELSE greatest(o.limit_price, coalesce(record_price.bid, record_price.last)) END) THEN
					n := n + 1;
				END IF;
			END LOOP;
			UPDATE sigmax.positions p
			   SET mark_price = record_price.last, unrealized_pnl = p.qty * (record_price.last - p.avg_price),
			       marked_at = record_price.at
			 WHERE p.account_id = acct AND p.symbol = record_price.symbol AND p.qty <> 0;
			PERFORM sigmax._run_stops(acct, record_price.symbol, record_price.bid, record_price.ask,
				record_price.last, record_price.at);
			PERFORM sigmax._check_protections(acct, record_price.at);
		END LOOP;

		-- Every other position in the symbol is marked in one statement (position rows only:
		-- no account lock is taken after them).
		UPDATE sigmax.positions p
		   SET mark_price = record_price.last, unrealized_pnl = p.qty * (record_price.last - p.avg_price),
		       marked_at = record_price.at
		  FROM sigmax.instruments i
		 WHERE i.symbol = p.symbol AND p.symbol = record_price.symbol AND i.exchange = record_price.exchange
		   AND p.qty <> 0 AND (p.marked_at IS NULL OR p.marked_at <= record_price.at);
	END IF;

	-- A venue that answers again, with at most 5 errors in the last minute, has recovered.
	-- (Ledgered last: the system stream's lock comes after the trading-state lock.)
	IF EXISTS (SELECT 1 FROM sigmax.venue_state v WHERE v.exchange = record_price.exchange AND v.state = 'reducing')
	   AND (SELECT count(*) FROM sigmax.venue_errors e
	         WHERE e.exchange = record_price.exchange AND e.at > now() - interval '1 minute') <= 5 THEN
		PERFORM sigmax._order_path_lock();
		UPDATE sigmax.venue_state v SET state = 'active', since = now()
		 WHERE v.exchange = record_price.exchange AND v.state = 'reducing';
		IF FOUND THEN
			PERFORM sigmax._audit_write('system', 'venue.recovered', jsonb_build_object('exchange', exchange));
		END IF;
	END IF;
	RETURN n;
END
$$;

COMMENT ON FUNCTION sigmax.record_price(text, text, numeric, numeric, numeric, timestamptz, timestamptz) IS
'Record a venue''s price for a symbol (what the worker calls) and paper-fill the resting orders it crosses; returns the number of fills.';

CREATE FUNCTION sigmax.order_counters()
RETURNS TABLE (outcome text, count bigint)
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_order_counters';

COMMENT ON FUNCTION sigmax.order_counters() IS
'Orders checked since the server started, by outcome (accepted or reason code), from shared memory: aborts do not undo them.';

/* Reads for traders and admins. */
CREATE VIEW sigmax.account_summary AS
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
	 WHERE x.account_id = a.account_id AND x.qty <> 0) p ON true;

COMMENT ON VIEW sigmax.account_summary IS 'Each account''s state, cash, marked equity, P&L since the start of the UTC day, exposure and working orders.';

/* ---------------------------------------------------------------------------
 * Automatic protections (docs/protections.md): alerts, marks, automatic pauses.
 * ------------------------------------------------------------------------- */

CREATE SEQUENCE sigmax.alerts_id_seq;

CREATE TABLE sigmax.alerts (
	alert_id        bigint      PRIMARY KEY DEFAULT nextval('sigmax.alerts_id_seq'),
	raised_at       timestamptz NOT NULL DEFAULT now(),
	last_raised_at  timestamptz NOT NULL DEFAULT now(),
	severity        text        NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
	kind            text        NOT NULL,
	account_id      bigint,
	subject         text,
	detail          jsonb       NOT NULL DEFAULT '{}',
	repeat_count    integer     NOT NULL DEFAULT 1,
	acknowledged_by text,
	acknowledged_at timestamptz
);
CREATE INDEX alerts_dedupe_idx ON sigmax.alerts (kind, account_id, raised_at DESC);

COMMENT ON TABLE sigmax.alerts IS
'Alerts raised by sigmax: one row per kind and account per minute (repeats counted), sent on NOTIFY sigmax_alerts at commit.';

SELECT pg_catalog.pg_extension_config_dump('sigmax.alerts_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.alerts', '');

CREATE FUNCTION sigmax._resume_cooldown()
RETURNS interval
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'sigmax_resume_cooldown';

COMMENT ON FUNCTION sigmax._resume_cooldown() IS 'Internal: sigmax.auto_pause_cooldown as an interval.';

CREATE FUNCTION sigmax._raise_alert(kind text, severity text, account_id bigint, detail jsonb,
	subject text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id bigint;
BEGIN
	-- One alert per kind, account and subject (a venue, a symbol) per minute: a repeat
	-- is counted, not sent again. The newest match is the one counted.
	SELECT a.alert_id INTO id FROM sigmax.alerts a
	 WHERE a.kind = _raise_alert.kind AND a.account_id IS NOT DISTINCT FROM _raise_alert.account_id
	   AND a.subject IS NOT DISTINCT FROM _raise_alert.subject
	   AND a.raised_at > now() - interval '1 minute' AND a.acknowledged_at IS NULL
	 ORDER BY a.raised_at DESC LIMIT 1
	   FOR UPDATE;
	IF FOUND THEN
		UPDATE sigmax.alerts a SET repeat_count = a.repeat_count + 1, last_raised_at = now(),
			detail = _raise_alert.detail
		 WHERE a.alert_id = id;
		RETURN id;
	END IF;
	INSERT INTO sigmax.alerts (severity, kind, account_id, subject, detail)
	VALUES (severity, kind, account_id, subject, detail)
	RETURNING alert_id INTO id;
	PERFORM pg_notify('sigmax_alerts', jsonb_build_object('alert_id', id, 'kind', kind,
		'severity', severity, 'account_id', account_id, 'subject', subject, 'detail', detail)::text);
	RETURN id;
END
$$;

COMMENT ON FUNCTION sigmax._raise_alert(text, text, bigint, jsonb, text) IS
'Internal: raise (or count again) an alert; NOTIFY sigmax_alerts at commit.';

CREATE FUNCTION sigmax.acknowledge_alert(alert_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a sigmax.alerts;
BEGIN
	SELECT * INTO a FROM sigmax.alerts x WHERE x.alert_id = acknowledge_alert.alert_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert % does not exist', acknowledge_alert.alert_id USING ERRCODE = '22023';
	END IF;
	IF a.acknowledged_at IS NOT NULL THEN
		RAISE EXCEPTION 'alert % was already acknowledged by % at %', a.alert_id, a.acknowledged_by, a.acknowledged_at
			USING ERRCODE = '55000';
	END IF;
	-- The system stream's lock first, then the alert row: the order raisers take them in.
	PERFORM sigmax._audit_write('system', 'alert.acknowledged',
		jsonb_build_object('alert_id', a.alert_id, 'kind', a.kind, 'account_id', a.account_id));
	UPDATE sigmax.alerts x SET acknowledged_by = session_user, acknowledged_at = now()
	 WHERE x.alert_id = a.alert_id AND x.acknowledged_at IS NULL;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'alert % was already acknowledged', a.alert_id USING ERRCODE = '55000';
	END IF;
END
$$;

COMMENT ON FUNCTION sigmax.acknowledge_alert(bigint) IS 'Acknowledge an alert: records who and when, and ledgers it.';

/*
 * Pause an account automatically: the state, the time and kind for the
 * cool-down, its working orders cancelled when asked, the evidence in the
 * ledger, a critical alert. The caller holds the account's lock.
 */
CREATE FUNCTION sigmax._auto_pause(account_id bigint, kind text, evidence jsonb, cancel_orders boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	UPDATE sigmax.accounts x SET state = 'paused', state_reason = 'automatic: ' || kind,
		state_changed_at = now(), state_changed_by = 'sigmax', auto_paused_at = now(), auto_pause_kind = kind
	 WHERE x.account_id = _auto_pause.account_id;
	IF cancel_orders THEN
		evidence := evidence || jsonb_build_object('cancelled_orders',
			sigmax._cancel_working(_auto_pause.account_id, NULL, 'automatic pause: ' || kind, kind));
	END IF;
	PERFORM sigmax._audit_write('account:' || _auto_pause.account_id, 'protection.' || kind, evidence);
	PERFORM sigmax._raise_alert(kind, 'critical', _auto_pause.account_id, evidence);
END
$$;

COMMENT ON FUNCTION sigmax._auto_pause(bigint, text, jsonb, boolean) IS
'Internal: pause an account automatically, with evidence in the ledger and an alert.';

/*
 * Re-evaluate an account after a mark or a fill, at the time of the price or
 * the call: the day rollover (a new start-of-day equity), the peak equity,
 * and the automatic pauses for daily loss and drawdown, each ledgered with
 * its evidence and alerted. Takes the order path's locks, in its order.
 */
CREATE FUNCTION sigmax._check_protections(account_id bigint, at timestamptz)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	a sigmax.accounts;
	lim sigmax.limits;
	equity numeric;
	daily numeric;
	drawdown numeric;
	kind text;
	evidence jsonb;
	day date := (at AT TIME ZONE 'UTC')::date;
BEGIN
	PERFORM sigmax._order_path_lock();
	SELECT * INTO a FROM sigmax.accounts x WHERE x.account_id = _check_protections.account_id FOR NO KEY UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	SELECT * INTO lim FROM sigmax.limits l WHERE l.account_id = a.account_id;
	SELECT p.equity INTO equity FROM sigmax.account_pnl p WHERE p.account_id = a.account_id;

	-- A new UTC day, by the clock of the price: today's losses count from today's equity.
	-- The rollover never lifts a pause.
	IF day > a.sod_date THEN
		UPDATE sigmax.accounts x SET sod_date = day, sod_equity = equity WHERE x.account_id = a.account_id;
		PERFORM sigmax._audit_write('account:' || a.account_id, 'day.rollover',
			jsonb_build_object('date', day, 'sod_equity', equity, 'previous_sod_equity', a.sod_equity));
		a.sod_equity := equity;
	END IF;
	IF equity > a.peak_equity THEN
		UPDATE sigmax.accounts x SET peak_equity = equity WHERE x.account_id = a.account_id;
		a.peak_equity := equity;
	END IF;
	IF a.state IN ('paused', 'halted') THEN
		RETURN NULL;
	END IF;

	daily := equity - a.sod_equity;
	drawdown := CASE WHEN a.peak_equity > 0 THEN (a.peak_equity - equity) / a.peak_equity ELSE 0 END;
	IF daily <= -(lim.max_daily_loss_pct * a.sod_equity) THEN
		kind := 'daily_loss';
		evidence := jsonb_build_object('equity', equity, 'sod_equity', a.sod_equity, 'daily_pnl', daily,
			'max_daily_loss_pct', lim.max_daily_loss_pct, 'at', at);
	ELSIF drawdown >= lim.max_drawdown_pct THEN
		kind := 'drawdown';
		evidence := jsonb_build_object('equity', equity, 'peak_equity', a.peak_equity,
			'drawdown', round(drawdown, 6), 'max_drawdown_pct', lim.max_drawdown_pct, 'at', at);
	ELSE
		RETURN NULL;
	END IF;

	PERFORM sigmax._auto_pause(a.account_id, kind, evidence, true);
	RETURN kind;
END
$$;

COMMENT ON FUNCTION sigmax._check_protections(bigint, timestamptz) IS
'Internal: day rollover, peak equity and the automatic daily-loss and drawdown pauses of one account.';

/* Stop-losses: a protective stop on every opening fill, closed through the order path. */
CREATE SEQUENCE sigmax.stops_id_seq;

CREATE TABLE sigmax.stops (
	stop_id        bigint      PRIMARY KEY DEFAULT nextval('sigmax.stops_id_seq'),
	account_id     bigint      NOT NULL REFERENCES sigmax.accounts,
	symbol         text        NOT NULL,
	direction      text        NOT NULL CHECK (direction IN ('long', 'short')),
	entry_price    numeric     NOT NULL,
	stop_price     numeric     NOT NULL,
	trail_pct      numeric,
	best_price     numeric     NOT NULL,
	status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'triggered', 'cancelled')),
	created_at     timestamptz NOT NULL DEFAULT now(),
	closed_at      timestamptz,
	trigger_price  numeric,
	close_order_id bigint
);
CREATE UNIQUE INDEX stops_one_active ON sigmax.stops (account_id, symbol) WHERE status = 'active';

COMMENT ON TABLE sigmax.stops IS
'Protective stops: one active per account and symbol, at entry minus (long) or plus (short) stop_loss_pct; trailing ones follow the best price.';

SELECT pg_catalog.pg_extension_config_dump('sigmax.stops_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.stops', '');

CREATE FUNCTION sigmax._submit_system_order(account_id bigint, symbol text, side text, qty numeric,
	order_type text DEFAULT 'market', limit_price numeric DEFAULT NULL, client_order_id text DEFAULT NULL)
RETURNS TABLE (order_id bigint, status text, reason_code text, reason text)
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_submit_system_order';

COMMENT ON FUNCTION sigmax._submit_system_order(bigint, text, text, numeric, text, numeric, text) IS
'Internal: the order path for sigmax''s own closing orders (stop-losses).';

/*
 * After each fill: a trade that closes (back to flat, or a flip) extends or
 * ends the account's losing streak (max_loss_streak losing trades in a row
 * pause it); an opening or adding fill sets the position's stop; a closed
 * position drops it.
 */
CREATE FUNCTION sigmax._maintain_stop()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	pos sigmax.positions;
	pct numeric;
	is_trailing boolean;
	dir text;
	id bigint;
	price numeric;
	streak integer;
	max_streak integer;
	state text;
	trade numeric;
	qty_after numeric;
BEGIN
	-- A restore (pg_restore under sigmax.ledger_restore) brings the stops, the positions and
	-- the ledger as they were: replaying the fills' effects would count them twice.
	IF pg_catalog.current_setting('sigmax.ledger_restore')::boolean THEN
		RETURN NULL;
	END IF;
	-- A trade runs from flat to flat (or to a flip); its P&L is what its fills realized, net
	-- of their fees. When one closes, a loss extends the account's losing streak and a win
	-- or a scratch ends it.
	UPDATE sigmax.positions p SET trade_pnl = p.trade_pnl + coalesce(NEW.realized_pnl, 0) - NEW.fee
	 WHERE p.account_id = NEW.account_id AND p.symbol = NEW.symbol
	RETURNING p.qty, p.trade_pnl INTO qty_after, trade;
	IF NEW.realized_pnl IS NOT NULL
	   AND (qty_after = 0 OR (qty_after > 0) = (NEW.side = 'buy')) THEN
		UPDATE sigmax.positions p SET trade_pnl = 0 WHERE p.account_id = NEW.account_id AND p.symbol = NEW.symbol;
		UPDATE sigmax.accounts a SET loss_streak = CASE WHEN trade < 0 THEN a.loss_streak + 1 ELSE 0 END
		 WHERE a.account_id = NEW.account_id
		RETURNING a.loss_streak, a.state INTO streak, state;
		SELECT l.max_loss_streak INTO max_streak FROM sigmax.limits l WHERE l.account_id = NEW.account_id;
		IF streak >= max_streak AND state NOT IN ('paused', 'halted') THEN
			PERFORM sigmax._auto_pause(NEW.account_id, 'loss_streak',
				jsonb_build_object('losing_trades', streak, 'max_loss_streak', max_streak,
				                   'last_fill_id', NEW.fill_id, 'last_trade_pnl', trade), true);
		END IF;
	END IF;

	SELECT * INTO pos FROM sigmax.positions p WHERE p.account_id = NEW.account_id AND p.symbol = NEW.symbol;
	IF NOT FOUND OR pos.qty = 0 THEN
		UPDATE sigmax.stops s SET status = 'cancelled', closed_at = now()
		 WHERE s.account_id = NEW.account_id AND s.symbol = NEW.symbol AND s.status = 'active';
		RETURN NULL;
	END IF;
	dir := CASE WHEN pos.qty > 0 THEN 'long' ELSE 'short' END;
	IF (dir = 'long') <> (NEW.side = 'buy') THEN
		RETURN NULL;   -- a reducing fill keeps the stop
	END IF;
	SELECT coalesce(i.stop_loss_pct, l.stop_loss_pct), l.stop_trailing = 1 INTO pct, is_trailing
	  FROM sigmax.limits l, sigmax.instruments i WHERE l.account_id = NEW.account_id AND i.symbol = NEW.symbol;
	price := CASE WHEN dir = 'long' THEN pos.avg_price * (1 - pct) ELSE pos.avg_price * (1 + pct) END;
	-- A flip cancels the stop of the other side.
	UPDATE sigmax.stops s SET status = 'cancelled', closed_at = now()
	 WHERE s.account_id = NEW.account_id AND s.symbol = NEW.symbol AND s.status = 'active' AND s.direction <> dir;
	INSERT INTO sigmax.stops AS s (account_id, symbol, direction, entry_price, stop_price, trail_pct, best_price)
	VALUES (NEW.account_id, NEW.symbol, dir, pos.avg_price, round(price, 12),
	        CASE WHEN is_trailing THEN pct END, pos.avg_price)
	ON CONFLICT (account_id, symbol) WHERE status = 'active' DO UPDATE
	   SET entry_price = EXCLUDED.entry_price, trail_pct = EXCLUDED.trail_pct,
	       -- a trailing stop that moved never moves back when the position grows
	       stop_price = CASE WHEN s.trail_pct IS NULL THEN EXCLUDED.stop_price
	                         WHEN s.direction = 'long' THEN greatest(s.stop_price, EXCLUDED.stop_price)
	                         ELSE least(s.stop_price, EXCLUDED.stop_price) END,
	       best_price = CASE WHEN s.trail_pct IS NULL THEN EXCLUDED.best_price
	                         WHEN s.direction = 'long' THEN greatest(s.best_price, EXCLUDED.best_price)
	                         ELSE least(s.best_price, EXCLUDED.best_price) END
	RETURNING s.stop_id, s.stop_price INTO id, price;
	PERFORM sigmax._audit_write('account:' || NEW.account_id, 'stop.set',
		jsonb_build_object('stop_id', id, 'symbol', NEW.symbol, 'direction', dir, 'entry_price', pos.avg_price,
		                   'stop_price', price, 'trailing', is_trailing, 'fill_id', NEW.fill_id));
	RETURN NULL;
END
$$;

COMMENT ON FUNCTION sigmax._maintain_stop() IS 'Trigger: the losing streak, and the protective stop of a position, after a fill.';

CREATE TRIGGER fills_maintain_stop AFTER INSERT ON sigmax.fills
	FOR EACH ROW EXECUTE FUNCTION sigmax._maintain_stop();

/*
 * Evaluate the stops of one account in a symbol at a recorded price (the
 * caller holds the account lock): trailing stops follow the best price; a
 * stop the price reaches closes the position with a reduce-only market order
 * through the order path, which fills at the market, the gapped price when
 * the price jumped through the stop. The stop row is locked and checked
 * active, and the close order's client_order_id is the stop's, so a
 * position is closed once whoever records prices at the same time.
 */
CREATE FUNCTION sigmax._run_stops(account_id bigint, symbol text, bid numeric, ask numeric, last numeric, at timestamptz)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	st sigmax.stops;
	qty numeric;
	hit numeric;
	r record;
	evidence jsonb;
	n integer := 0;
BEGIN
	FOR st IN SELECT * FROM sigmax.stops s
	           WHERE s.account_id = _run_stops.account_id AND s.symbol = _run_stops.symbol AND s.status = 'active'
	           FOR UPDATE
	LOOP
		IF st.trail_pct IS NOT NULL THEN
			IF st.direction = 'long' AND last > st.best_price THEN
				st.best_price := last;
				st.stop_price := greatest(st.stop_price, round(last * (1 - st.trail_pct), 12));
			ELSIF st.direction = 'short' AND last < st.best_price THEN
				st.best_price := last;
				st.stop_price := least(st.stop_price, round(last * (1 + st.trail_pct), 12));
			END IF;
			UPDATE sigmax.stops s SET best_price = st.best_price, stop_price = st.stop_price WHERE s.stop_id = st.stop_id;
		END IF;
		hit := CASE WHEN st.direction = 'long' THEN coalesce(bid, last) ELSE coalesce(ask, last) END;
		IF (st.direction = 'long' AND hit > st.stop_price) OR (st.direction = 'short' AND hit < st.stop_price) THEN
			CONTINUE;
		END IF;
		SELECT abs(p.qty) INTO qty FROM sigmax.positions p
		 WHERE p.account_id = st.account_id AND p.symbol = st.symbol;
		IF coalesce(qty, 0) = 0 THEN
			UPDATE sigmax.stops s SET status = 'cancelled', closed_at = now() WHERE s.stop_id = st.stop_id;
			CONTINUE;
		END IF;
		-- The account's working orders in the symbol go first: a resting sell would make the
		-- close exceed the position, a resting buy would re-enter.
		PERFORM sigmax._cancel_working(st.account_id, st.symbol, 'stop-loss', 'stop-loss');
		-- '#' is refused in a trader's client_order_id: this id is sigmax's own.
		SELECT * INTO r FROM sigmax._submit_system_order(st.account_id, st.symbol,
			CASE WHEN st.direction = 'long' THEN 'sell' ELSE 'buy' END, qty, 'market', NULL, 'stop#' || st.stop_id);
		evidence := jsonb_build_object('stop_id', st.stop_id, 'symbol', st.symbol, 'direction', st.direction,
			'entry_price', st.entry_price, 'stop_price', st.stop_price, 'trigger_price', hit,
			'last', last, 'at', at, 'close_order_id', r.order_id, 'close_status', r.status,
			'close_reason_code', r.reason_code);
		IF r.status IN ('filled', 'accepted') THEN
			UPDATE sigmax.stops s SET status = 'triggered', closed_at = now(), trigger_price = hit,
				close_order_id = r.order_id
			 WHERE s.stop_id = st.stop_id;
			PERFORM sigmax._audit_write('account:' || st.account_id, 'stop.triggered', evidence);
			PERFORM sigmax._raise_alert('stop_loss', 'warning', st.account_id, evidence, st.symbol);
		ELSE
			-- The close did not go through: the stop stays armed, a person must look now.
			PERFORM sigmax._audit_write('account:' || st.account_id, 'stop.failed', evidence);
			PERFORM sigmax._auto_pause(st.account_id, 'stop_failed', evidence, false);
		END IF;
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

COMMENT ON FUNCTION sigmax._run_stops(bigint, text, numeric, numeric, numeric, timestamptz) IS
'Internal: move trailing stops and close the positions whose stop a price reached.';

/* Venue health: more than 5 API errors in a minute put a venue's instruments in reducing state. */
CREATE TABLE sigmax.venue_state (
	exchange      text        PRIMARY KEY,
	state         text        NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'reducing')),
	since         timestamptz NOT NULL DEFAULT now(),
	last_error_at timestamptz,
	last_error    text
);

COMMENT ON TABLE sigmax.venue_state IS
'Per venue: reducing after more than 5 API errors in a minute (only orders that reduce pass), active again when it answers.';

CREATE TABLE sigmax.venue_errors (
	exchange text        NOT NULL,
	at       timestamptz NOT NULL DEFAULT now(),
	detail   text
);
CREATE INDEX venue_errors_recent_idx ON sigmax.venue_errors (exchange, at);

COMMENT ON TABLE sigmax.venue_errors IS 'Recent exchange API errors (the last hour), as the worker reports them.';
SELECT pg_catalog.pg_extension_config_dump('sigmax.venue_errors', '');

CREATE FUNCTION sigmax.record_venue_error(exchange text, detail text)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer;
	st text;
BEGIN
	IF exchange IS NULL OR exchange !~ '^[a-z0-9_]{1,32}$' THEN
		RAISE EXCEPTION 'exchange must be 1 to 32 of a-z, 0-9 and _' USING ERRCODE = '22023';
	END IF;
	DELETE FROM sigmax.venue_errors e WHERE e.exchange = record_venue_error.exchange AND e.at < now() - interval '1 hour';
	INSERT INTO sigmax.venue_errors (exchange, detail) VALUES (exchange, left(detail, 500));
	-- serialize the venue's transitions on its state row
	INSERT INTO sigmax.venue_state AS v (exchange, state, last_error_at, last_error)
	VALUES (exchange, 'active', now(), left(detail, 500))
	ON CONFLICT ON CONSTRAINT venue_state_pkey DO UPDATE
	SET last_error_at = EXCLUDED.last_error_at, last_error = EXCLUDED.last_error
	RETURNING v.state INTO st;
	SELECT count(*) INTO n FROM sigmax.venue_errors e
	 WHERE e.exchange = record_venue_error.exchange AND e.at > now() - interval '1 minute';
	IF n > 5 THEN
		IF st = 'active' THEN
			UPDATE sigmax.venue_state v SET state = 'reducing', since = now() WHERE v.exchange = record_venue_error.exchange;
			PERFORM sigmax._audit_write('system', 'venue.reducing',
				jsonb_build_object('exchange', exchange, 'errors_last_minute', n, 'last_error', left(detail, 200)));
		END IF;
		PERFORM sigmax._raise_alert('venue_errors', 'critical', NULL,
			jsonb_build_object('exchange', exchange, 'errors_last_minute', n, 'last_error', left(detail, 200)), exchange);
	END IF;
	RETURN n;
END
$$;

COMMENT ON FUNCTION sigmax.record_venue_error(text, text) IS
'Report an exchange API error (the worker calls it); more than 5 in a minute put the venue''s instruments in reducing state. Returns the errors of the last minute.';

SELECT pg_catalog.pg_extension_config_dump('sigmax.venue_state', '');

CREATE VIEW sigmax.account_pnl AS
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
	  FROM sigmax.positions x WHERE x.account_id = a.account_id) p ON true;

COMMENT ON VIEW sigmax.account_pnl IS
'Per-account P&L: equity at the latest marks, realized and unrealized P&L, P&L since the start of the UTC day, peak equity and drawdown.';

/* ---------------------------------------------------------------------------
 * Observability: one psql screen, and metrics for Prometheus.
 * ------------------------------------------------------------------------- */

CREATE FUNCTION sigmax.check_latency()
RETURNS TABLE (le_us integer, checks bigint, sum_us bigint)
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_check_latency';

COMMENT ON FUNCTION sigmax.check_latency() IS
'Cumulative histogram of order-check latency since the server started (le_us NULL: +Inf; sum_us on the last row), from shared memory.';

CREATE FUNCTION sigmax._checkpoint_verifies()
RETURNS boolean
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'sigmax_checkpoint_verifies';

COMMENT ON FUNCTION sigmax._checkpoint_verifies() IS
'Internal: whether the latest checkpoint''s digest and signature verify (NULL: none yet).';

CREATE VIEW sigmax.status AS
SELECT section, name, state, value, "limit", detail FROM (
SELECT 0 AS sort, 'trading' AS section, 'all accounts' AS name, sigmax._global_state() AS state,
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
  FROM sigmax.market_prices m LEFT JOIN sigmax.venue_state v ON v.exchange = m.exchange
 GROUP BY m.exchange
UNION ALL
SELECT 3, 'alerts', 'unacknowledged', NULL, count(*), NULL,
       coalesce(string_agg(DISTINCT x.kind, ', '), 'none')
  FROM sigmax.alerts x WHERE x.acknowledged_at IS NULL
UNION ALL
SELECT 4, 'ledger', 'last checkpoint',
       CASE sigmax._checkpoint_verifies() WHEN true THEN 'verifies' WHEN false THEN 'DOES NOT VERIFY' ELSE 'none' END,
       (SELECT max(c.id) FROM sigmax.audit_checkpoints c), NULL,
       (SELECT 'taken ' || round(extract(epoch FROM now() - max(c.created_at))::numeric) || ' s ago'
          FROM sigmax.audit_checkpoints c)
) s
ORDER BY sort, name;

COMMENT ON VIEW sigmax.status IS
'One psql screen: the database-wide state, each account (daily P&L against its limit, equity, exposure, open orders), price age per venue, unacknowledged alerts, and the latest checkpoint (whose signature is checked; sigmax.audit_verify checks every entry).';

/*
 * Metrics in the Prometheus text exposition format (version 0.0.4), for
 * postgres_exporter's custom queries or any scraper (docs/operations.md).
 */
CREATE FUNCTION sigmax.metrics()
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
'Counters and gauges in the Prometheus text exposition format: orders by outcome, check latency, rate-limit rejections, trading states, daily loss against its limit, equity, price age, venue errors, alerts, ledger entries, checkpoint age.';

SELECT sigmax._reset_shared_state();

/* ---------------------------------------------------------------------------
 * The exchange poller (docs/worker.md): venues, what to poll, the worker's status.
 * ------------------------------------------------------------------------- */

CREATE FUNCTION sigmax._poll_url_ok(url text)
RETURNS boolean
LANGUAGE c IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'sigmax_poll_url_ok';

COMMENT ON FUNCTION sigmax._poll_url_ok(text) IS
'Internal: true for a URL the worker may fetch (https, or http to loopback); raises 22023 with the reason otherwise.';

CREATE FUNCTION sigmax._venue_symbol(adapter text, symbol text)
RETURNS text
LANGUAGE c IMMUTABLE STRICT
AS 'MODULE_PATHNAME', 'sigmax_venue_symbol';

COMMENT ON FUNCTION sigmax._venue_symbol(text, text) IS
'Internal: how an adapter''s venue spells BASE/QUOTE (BTCUSDT, BTC-USDT, btcusdt, XBTUSDT).';

CREATE FUNCTION sigmax._ticker_url(adapter text, base_url text, symbol text, venue_symbol text, category text)
RETURNS text
LANGUAGE c IMMUTABLE
AS 'MODULE_PATHNAME', 'sigmax_ticker_url';

COMMENT ON FUNCTION sigmax._ticker_url(text, text, text, text, text) IS
'Internal: the ticker URL the worker fetches for a symbol (NULL when the venue has no base URL).';

CREATE TABLE sigmax.exchange_adapters (
	adapter             text PRIMARY KEY,
	description         text NOT NULL,
	default_base_url    text NOT NULL,
	default_testnet_url text
);

COMMENT ON TABLE sigmax.exchange_adapters IS
'The venue protocols the worker speaks, with their public production and testnet REST base URLs (read-only).';

INSERT INTO sigmax.exchange_adapters VALUES
	('binance', 'Binance spot, GET /api/v3/ticker/24hr', 'https://api.binance.com', 'https://testnet.binance.vision'),
	('coinbaseexchange', 'Coinbase Exchange, GET /products/{id}/ticker', 'https://api.exchange.coinbase.com',
	 'https://api-public.sandbox.exchange.coinbase.com'),
	('coinbase', 'Coinbase Advanced Trade public market data, GET /api/v3/brokerage/market/products/{id}/ticker',
	 'https://api.coinbase.com', NULL),
	('kraken', 'Kraken spot, GET /0/public/Ticker', 'https://api.kraken.com', NULL),
	('bybit', 'Bybit v5, GET /v5/market/tickers (category spot unless set)', 'https://api.bybit.com',
	 'https://api-testnet.bybit.com'),
	('okx', 'OKX v5, GET /api/v5/market/ticker', 'https://www.okx.com', NULL),
	('bitstamp', 'Bitstamp, GET /api/v2/ticker/{pair}/', 'https://www.bitstamp.net', NULL),
	('gemini', 'Gemini, GET /v1/pubticker/{symbol}', 'https://api.gemini.com', 'https://api.sandbox.gemini.com'),
	('kucoin', 'KuCoin spot, GET /api/v1/market/stats', 'https://api.kucoin.com', NULL);

CREATE TABLE sigmax.exchanges (
	name             text    PRIMARY KEY CHECK (name ~ '^[a-z0-9_]{1,32}$'),
	adapter          text    NOT NULL REFERENCES sigmax.exchange_adapters,
	base_url         text    NOT NULL CHECK (sigmax._poll_url_ok(base_url)),
	testnet_url      text    CHECK (sigmax._poll_url_ok(testnet_url)),
	enabled          boolean NOT NULL DEFAULT true,
	poll_interval_ms integer NOT NULL DEFAULT 1000 CHECK (poll_interval_ms BETWEEN 100 AND 3600000),
	category         text    CHECK (category ~ '^[a-z]{1,16}$')
);

COMMENT ON TABLE sigmax.exchanges IS
'Venues the worker polls: adapter, production and testnet base URLs, polling interval; category is Bybit''s product category.';

CREATE TABLE sigmax.price_feeds (
	exchange     text NOT NULL REFERENCES sigmax.exchanges ON UPDATE CASCADE ON DELETE CASCADE,
	symbol       text NOT NULL CHECK (symbol ~ '^[A-Z0-9]{2,10}/[A-Z0-9]{2,10}$'),
	venue_symbol text CHECK (venue_symbol ~ '^[A-Za-z0-9._-]{1,64}$'),
	PRIMARY KEY (exchange, symbol)
);

COMMENT ON TABLE sigmax.price_feeds IS
'Symbols polled on a venue besides the instruments judged against it (reference prices from other venues).';

ALTER TABLE sigmax.instruments ADD CONSTRAINT instruments_venue_symbol_check
	CHECK (venue_symbol ~ '^[A-Za-z0-9._-]{1,64}$');

SELECT pg_catalog.pg_extension_config_dump('sigmax.exchanges', '');
SELECT pg_catalog.pg_extension_config_dump('sigmax.price_feeds', '');

CREATE VIEW sigmax.poll_targets AS
SELECT e.name AS exchange, e.adapter, t.symbol,
       coalesce(t.venue_symbol, sigmax._venue_symbol(e.adapter, t.symbol)) AS venue_symbol,
       sigmax._ticker_url(e.adapter,
                          CASE WHEN pg_catalog.current_setting('sigmax.trading_mode') = 'testnet'
                               THEN e.testnet_url ELSE e.base_url END,
                          t.symbol, t.venue_symbol, e.category) AS url,
       e.poll_interval_ms, e.enabled
  FROM sigmax.exchanges e
  JOIN (SELECT i.exchange, i.symbol, i.venue_symbol FROM sigmax.instruments i
        UNION ALL
        SELECT f.exchange, f.symbol, f.venue_symbol FROM sigmax.price_feeds f
         WHERE NOT EXISTS (SELECT 1 FROM sigmax.instruments i WHERE i.exchange = f.exchange AND i.symbol = f.symbol)) t
    ON t.exchange = e.name;

COMMENT ON VIEW sigmax.poll_targets IS
'What the worker fetches: each instrument and price feed on a configured venue, with the URL for the current trading mode (NULL: not polled).';

CREATE FUNCTION sigmax._poller_config_changed()
RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'sigmax_poller_config_changed';

COMMENT ON FUNCTION sigmax._poller_config_changed() IS
'Internal trigger: at commit, tells the worker to reload what it polls.';

CREATE TRIGGER poller_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sigmax.exchanges
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax._poller_config_changed();
CREATE TRIGGER poller_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sigmax.price_feeds
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax._poller_config_changed();
CREATE TRIGGER poller_config_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sigmax.instruments
	FOR EACH STATEMENT EXECUTE FUNCTION sigmax._poller_config_changed();

CREATE FUNCTION sigmax._poller_reload()
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_poller_reload';

COMMENT ON FUNCTION sigmax._poller_reload() IS
'Internal: the worker looks at the extension and what it polls again when this transaction commits.';

-- a worker waiting for CREATE EXTENSION starts polling at its commit
SELECT sigmax._poller_reload();

CREATE FUNCTION sigmax.add_exchange(name text, adapter text DEFAULT NULL, base_url text DEFAULT NULL,
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
		RAISE EXCEPTION 'unknown exchange adapter "%"', coalesce(adapter, name) USING ERRCODE = '22023',
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

COMMENT ON FUNCTION sigmax.add_exchange(text, text, text, text, integer, boolean, text) IS
'Add or change a venue the worker polls; the adapter defaults to the name and the URLs to the adapter''s public endpoints.';

CREATE FUNCTION sigmax.enable_exchange(name text, enabled boolean)
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
		RAISE EXCEPTION 'exchange "%" does not exist', name USING ERRCODE = '22023',
			HINT = 'Add it with sigmax.add_exchange.';
	END IF;
	PERFORM sigmax._audit_write('system', CASE WHEN enabled THEN 'exchange.enabled' ELSE 'exchange.disabled' END,
		jsonb_build_object('name', name));
END
$$;

COMMENT ON FUNCTION sigmax.enable_exchange(text, boolean) IS
'Start or stop polling a venue (its prices then age into STALE_PRICE); ledgered.';

CREATE FUNCTION sigmax.add_price_feed(exchange text, symbol text, venue_symbol text DEFAULT NULL)
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
		RAISE EXCEPTION 'exchange "%" does not exist', exchange USING ERRCODE = '22023',
			HINT = 'Add it with sigmax.add_exchange.';
	END IF;
	INSERT INTO sigmax.price_feeds AS f (exchange, symbol, venue_symbol) VALUES (exchange, symbol, venue_symbol)
	ON CONFLICT ON CONSTRAINT price_feeds_pkey DO UPDATE SET venue_symbol = EXCLUDED.venue_symbol;
	PERFORM sigmax._audit_write('system', 'price_feed.set',
		jsonb_build_object('exchange', exchange, 'symbol', symbol, 'venue_symbol', venue_symbol));
END
$$;

COMMENT ON FUNCTION sigmax.add_price_feed(text, text, text) IS
'Poll a symbol on a venue besides the instruments judged against it; venue_symbol overrides the adapter''s spelling.';

CREATE FUNCTION sigmax.remove_price_feed(exchange text, symbol text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM sigmax.price_feeds f WHERE f.exchange = remove_price_feed.exchange AND f.symbol = remove_price_feed.symbol;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	PERFORM sigmax._audit_write('system', 'price_feed.removed', jsonb_build_object('exchange', exchange, 'symbol', symbol));
	RETURN true;
END
$$;

COMMENT ON FUNCTION sigmax.remove_price_feed(text, text) IS 'Stop polling a price feed; false when there was none.';

CREATE FUNCTION sigmax.parse_ticker(adapter text, body text, venue_symbol text,
	OUT status text, OUT detail text, OUT bid numeric, OUT ask numeric, OUT last numeric,
	OUT exchange_time timestamptz)
RETURNS record
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'sigmax_parse_ticker';

COMMENT ON FUNCTION sigmax.parse_ticker(text, text, text) IS
'Read a venue''s ticker answer exactly as the worker does: status ok with decimal prices, or the status (error_envelope, bad_ticker) and why.';

CREATE FUNCTION sigmax.worker_status(
	OUT exchange text, OUT last_status text, OUT last_success timestamptz, OUT last_error_at timestamptz,
	OUT last_error_status text, OUT last_error text, OUT consecutive_errors integer, OUT requests bigint,
	OUT errors bigint, OUT prices_written bigint, OUT latency_p50_ms float8, OUT latency_p99_ms float8,
	OUT commit_p99_ms float8, OUT backoff_until timestamptz)
RETURNS SETOF record
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_worker_status_fn';

COMMENT ON FUNCTION sigmax.worker_status() IS
'Per venue since the server started, from shared memory: last outcome, last success and error, requests, errors, prices written, request latency p50/p99 and response-to-commit p99 over the last 256.';

CREATE FUNCTION sigmax.worker_state(OUT state text, OUT pid integer, OUT started_at timestamptz, OUT cycles bigint,
	OUT memory_bytes bigint)
RETURNS record
LANGUAGE c VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'sigmax_worker_state';

COMMENT ON FUNCTION sigmax.worker_state() IS
'What the worker is doing (polling, waiting for the extension, idle on a version mismatch, disabled, not running, standby), its pid, polling cycles and the memory its contexts hold between passes.';

/* ---------------------------------------------------------------------------
 * Privileges: nothing for PUBLIC; each sigmax role gets what its job needs.
 * This section stays last so that it covers every object created above.
 * ------------------------------------------------------------------------- */

REVOKE ALL ON SCHEMA sigmax FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA sigmax FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA sigmax FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA sigmax FROM PUBLIC;

GRANT USAGE ON SCHEMA sigmax TO sigmax_admin, sigmax_trader, sigmax_auditor;
GRANT EXECUTE ON FUNCTION sigmax.version() TO sigmax_admin, sigmax_trader, sigmax_auditor;

-- The ledger: nobody, not even its owner, holds UPDATE, DELETE or TRUNCATE;
-- rows arrive only through sigmax's functions (the triggers enforce it).
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
	ON sigmax.audit_log, sigmax.audit_checkpoints, sigmax.audit_checkpoint_streams
	FROM CURRENT_USER;
GRANT SELECT ON sigmax.audit_log, sigmax.audit_checkpoints, sigmax.audit_checkpoint_streams
	TO sigmax_auditor, sigmax_admin;
GRANT EXECUTE ON FUNCTION sigmax.audit_append(text, jsonb, text) TO sigmax_admin, sigmax_trader;
GRANT EXECUTE ON FUNCTION sigmax.audit_verify(text) TO sigmax_admin, sigmax_auditor;
GRANT EXECUTE ON FUNCTION sigmax.audit_checkpoint() TO sigmax_admin;
GRANT EXECUTE ON FUNCTION sigmax.audit_public_key() TO sigmax_admin, sigmax_auditor;
GRANT EXECUTE ON FUNCTION sigmax.audit_checkpoint_export(bigint) TO sigmax_admin, sigmax_auditor;
GRANT EXECUTE ON FUNCTION sigmax.audit_proof(text, bigint) TO sigmax_admin, sigmax_auditor;

-- The risk engine: traders place and cancel orders and read them; admins run the desk.
GRANT EXECUTE ON FUNCTION
	sigmax.submit_order(bigint, text, text, numeric, text, numeric, text),
	sigmax.check_order(bigint, text, text, numeric, text, numeric, text),
	sigmax.cancel_order(bigint),
	sigmax.trading_state(bigint)
	TO sigmax_trader, sigmax_admin;
GRANT EXECUTE ON FUNCTION
	sigmax.create_account(text, numeric, text),
	sigmax.add_instrument(text, text, numeric, numeric, numeric, numeric, numeric, text, boolean, numeric),
	sigmax.set_limits(bigint, jsonb),
	sigmax.pause(bigint, text),
	sigmax.resume(bigint),
	sigmax.set_reduce_only(bigint, boolean),
	sigmax.kill_switch(text),
	sigmax.record_price(text, text, numeric, numeric, numeric, timestamptz, timestamptz),
	sigmax.order_counters(),
	sigmax.acknowledge_alert(bigint),
	sigmax.record_venue_error(text, text),
	sigmax.check_latency(),
	sigmax.metrics(),
	sigmax.add_exchange(text, text, text, text, integer, boolean, text),
	sigmax.enable_exchange(text, boolean),
	sigmax.add_price_feed(text, text, text),
	sigmax.remove_price_feed(text, text),
	sigmax.parse_ticker(text, text, text),
	sigmax.worker_status(),
	sigmax.worker_state()
	TO sigmax_admin;
GRANT SELECT ON sigmax.exchange_adapters, sigmax.exchanges, sigmax.price_feeds, sigmax.poll_targets
	TO sigmax_admin;
GRANT SELECT ON sigmax.orders, sigmax.fills, sigmax.positions, sigmax.account_summary,
	sigmax.instruments, sigmax.market_prices, sigmax.limits
	TO sigmax_trader, sigmax_admin;
GRANT SELECT ON sigmax.accounts, sigmax.global_state, sigmax.risk_limits, sigmax.builtin_limits,
	sigmax.alerts, sigmax.account_pnl, sigmax.stops, sigmax.venue_state, sigmax.venue_errors,
	sigmax.status
	TO sigmax_admin;
GRANT SELECT ON sigmax.account_pnl, sigmax.stops TO sigmax_trader;
