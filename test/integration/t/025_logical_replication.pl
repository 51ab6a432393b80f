# sigmax's configuration replicated logically into another cluster running sigmax. The
# apply worker runs under session_replication_role = replica and fires row triggers only
# (statement triggers only for TRUNCATE): the subscriber's cached instruments and limits
# and its poller must hear of every replicated change, and the publisher must be able to
# update a published table that has no primary key (sigmax.risk_limits, its default row
# published, as docs/operations.md advises).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $publisher = sigmax_node('lr_publisher', init => { allows_streaming => 'logical' });
my $subscriber = sigmax_node('lr_subscriber', worker => 1);
sub on_publisher { return $publisher->safe_psql('sigmax', $_[0]); }
sub on_subscriber { return $subscriber->safe_psql('sigmax', $_[0]); }
sub replicated { $publisher->wait_for_catchup('sigmax_config'); }

# a loopback port nothing listens on: the subscriber's poller fails fast and contacts nothing else
my $closed_port = PostgreSQL::Test::Cluster::get_free_port();

on_publisher(q{CREATE PUBLICATION sigmax_config
	FOR TABLE sigmax.exchanges, sigmax.price_feeds, sigmax.instruments,
	          sigmax.risk_limits WHERE (account_id IS NULL)});
my $connstr = $publisher->connstr . ' dbname=sigmax';
on_subscriber(qq{CREATE SUBSCRIPTION sigmax_config CONNECTION '$connstr' PUBLICATION sigmax_config
	WITH (copy_data = false)});
$subscriber->poll_query_until('sigmax',
	q{SELECT count(*) = 1 FROM pg_stat_subscription WHERE subname = 'sigmax_config' AND pid IS NOT NULL})
  or die 'the subscription did not start';

on_publisher(qq{
	SELECT sigmax.add_exchange('binance', base_url => 'http://127.0.0.1:$closed_port/binance');
	SELECT sigmax.add_instrument('BTC/USDT', 'binance', tick_size => 0.01, lot_size => 0.0001);
	SELECT sigmax.set_limits(NULL, '{"stale_price_ms": 2000000000}');
});
replicated();
is(on_subscriber(q{SELECT lot_size FROM sigmax.instruments WHERE symbol = 'BTC/USDT'}), '0.0001',
	'the instrument reaches the subscriber');

on_subscriber(q{
	SELECT sigmax.create_account('desk', 100000);
	SELECT sigmax.record_price('binance', 'BTC/USDT', 49999, 50001, 50000);
});
my $trader = $subscriber->background_psql('sigmax');
sub check
{
	return $trader->query_safe(
		q{SELECT status || ' ' || coalesce(reason_code, '-') FROM sigmax.check_order(1, 'BTC/USDT', 'buy', 0.01)});
}
is(check(), 'filled -', 'an order passes on the subscriber, its instrument and limits now cached');

on_publisher(q{UPDATE sigmax.instruments SET lot_size = 0.1 WHERE symbol = 'BTC/USDT'});
replicated();
is(check(), 'rejected LOT_SIZE', 'a replicated instrument change reaches the cached instrument');
on_publisher(q{UPDATE sigmax.instruments SET lot_size = 0.0001 WHERE symbol = 'BTC/USDT'});
replicated();
is(check(), 'filled -', 'and its undoing');

on_publisher(q{SELECT sigmax.set_limits(NULL, '{"max_order_qty": 0.001}')});
replicated();
is(check(), 'rejected MAX_ORDER_QTY',
	'the publisher updates the published risk_limits, and the change reaches the cached limits');
on_publisher(q{SELECT sigmax.set_limits(NULL, '{"max_order_qty": null}')});
replicated();
is(check(), 'filled -', 'and its undoing');
on_publisher(q{SELECT sigmax.create_account('publisher desk', 100000);
	SELECT sigmax.set_limits(1, '{"max_order_qty": 0.001}')});
replicated();
is(check(), 'filled -', "the publisher's limits of its account 1 do not reach the subscriber's account 1");
$trader->quit;

ok($subscriber->poll_query_until('sigmax',
		q{SELECT state LIKE 'polling 1 symbol on 1 venue %' FROM sigmax.worker_state()}),
	"the subscriber's poller polls the replicated venue and instrument");
on_publisher(q{SELECT sigmax.add_price_feed('binance', 'ETH/USDT')});
replicated();
ok($subscriber->poll_query_until('sigmax',
		q{SELECT state LIKE 'polling 2 symbols on 1 venue %' FROM sigmax.worker_state()}),
	'a replicated price feed: it reloads and polls it');
on_publisher(q{TRUNCATE sigmax.price_feeds});
replicated();
ok($subscriber->poll_query_until('sigmax',
		q{SELECT state LIKE 'polling 1 symbol on 1 venue %' FROM sigmax.worker_state()}),
	'a replicated TRUNCATE: it reloads and drops it');

is(on_subscriber(q{SELECT count(*) FROM sigmax.audit_verify()}), '0', "the subscriber's ledger verifies");
is(on_publisher(q{SELECT count(*) FROM sigmax.audit_verify()}), '0', "the publisher's ledger verifies");
$subscriber->stop;
$publisher->stop;
done_testing();
