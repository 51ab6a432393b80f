# Instruments, venue states and limits are cached in each backend (src/instrument_cache.c,
# src/limits.c):
# a change committed by another session is seen by this session's next order, even
# in the middle of its transaction, whether it came through a sigmax function or a
# direct write.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $node = sigmax_node('cached_rows');
$node->safe_psql('sigmax', q{
	SELECT sigmax.create_account('desk', 100000);
	SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001);
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
});
sub other { return $node->safe_psql('sigmax', $_[0]); }

my $trader = $node->background_psql('sigmax');
sub check
{
	return $trader->query_safe(
		q{SELECT status || ' ' || coalesce(reason_code, '-') FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01)});
}

is(check(), 'filled -', 'an order passes, and its instrument and venue are now cached');

other(q{SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001, enabled => false)});
is(check(), 'rejected UNKNOWN_INSTRUMENT', 'another session disables the instrument: the next order sees it');

other(q{UPDATE sigmax.instruments SET enabled = true, lot_size = 0.1 WHERE symbol = 'BTC/USDT'});
is(check(), 'rejected LOT_SIZE', 'a direct write to sigmax.instruments is seen too');
other(q{UPDATE sigmax.instruments SET lot_size = 0.0001 WHERE symbol = 'BTC/USDT'});
is(check(), 'filled -', 'and its undoing');

other(q{SELECT sigmax.record_venue_error('binance', 'HTTP 500') FROM generate_series(1, 6)});
is(other(q{SELECT state FROM sigmax.venue_state WHERE exchange = 'binance'}), 'reducing', 'the venue turns reducing');
is(check(), 'rejected REDUCE_ONLY', 'the next order sees the venue reducing');
other(q{DELETE FROM sigmax.venue_errors; SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000)});
is(other(q{SELECT state FROM sigmax.venue_state WHERE exchange = 'binance'}), 'active', 'the venue answers again');
is(check(), 'filled -', 'and the next order sees it active');

# in the middle of a transaction, as a read with the latest snapshot would
$trader->query_safe('BEGIN');
is(check(), 'filled -', 'inside a transaction: the order passes');
other(q{UPDATE sigmax.instruments SET enabled = false WHERE symbol = 'BTC/USDT'});
is(check(), 'rejected UNKNOWN_INSTRUMENT', 'the same transaction sees the instrument disabled by a commit since');
other(q{SELECT sigmax.record_venue_error('binance', 'HTTP 500') FROM generate_series(1, 6);
	UPDATE sigmax.instruments SET enabled = true WHERE symbol = 'BTC/USDT'});
is(check(), 'rejected REDUCE_ONLY', 'and the venue turned reducing since');
$trader->query_safe('COMMIT');

# a venue's error bookkeeping that leaves its state alone does not drop the caches:
# this transaction's index scans of the two tables show when they are read again
other(q{DELETE FROM sigmax.venue_errors; SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000)});
my $scans = q{SELECT pg_stat_get_xact_numscans('sigmax.venue_state_pkey'::regclass)
	+ pg_stat_get_xact_numscans('sigmax.instruments_pkey'::regclass)};
$trader->query_safe('BEGIN');
is(check(), 'filled -', 'the venue is active again');
my $before = $trader->query_safe($scans);
is(check(), 'filled -', 'another order');
is($trader->query_safe($scans), $before, 'reads neither table: both come from the cache');
other(q{SELECT sigmax.record_venue_error('binance', 'HTTP 500')});
is(other(q{SELECT state FROM sigmax.venue_state WHERE exchange = 'binance'}), 'active', 'one venue error: still active');
is(check(), 'filled -', 'the next order passes');
is($trader->query_safe($scans), $before, 'and the caches were kept');
other(q{UPDATE sigmax.venue_state SET state = 'reducing' WHERE exchange = 'binance'});
is(check(), 'rejected REDUCE_ONLY', 'a change of state is seen');
cmp_ok($trader->query_safe($scans), '>', $before, 'by reading the venue again');
$trader->query_safe('COMMIT');
other(q{UPDATE sigmax.venue_state SET state = 'active' WHERE exchange = 'binance'});

# the triggers fire also under session_replication_role = replica (logical replication, bulk loads)
is(check(), 'filled -', 'an order passes');
other(q{SET session_replication_role = replica;
	UPDATE sigmax.instruments SET enabled = false WHERE symbol = 'BTC/USDT'});
is(check(), 'rejected UNKNOWN_INSTRUMENT', 'a write under session_replication_role = replica is seen');
other(q{SET session_replication_role = replica;
	UPDATE sigmax.venue_state SET state = 'reducing' WHERE exchange = 'binance';
	UPDATE sigmax.instruments SET enabled = true WHERE symbol = 'BTC/USDT'});
is(check(), 'rejected REDUCE_ONLY', 'for venue states too');

# limits are cached the same way (src/limits.c); a direct write to them is seen too
other(q{UPDATE sigmax.venue_state SET state = 'active' WHERE exchange = 'binance'});
is(check(), 'filled -', 'the venue active again, an order passes');
other(q{UPDATE sigmax.risk_limits SET max_order_qty = 0.001 WHERE account_id IS NULL});
is(check(), 'rejected MAX_ORDER_QTY', 'a direct write to sigmax.risk_limits is seen by the next order');
other(q{UPDATE sigmax.risk_limits SET max_order_qty = NULL WHERE account_id IS NULL});
is(check(), 'filled -', 'and its undoing');

$trader->quit;
is(other('SELECT count(*) FROM sigmax.audit_verify()'), '0', 'the ledger verifies');
$node->stop;
done_testing();
