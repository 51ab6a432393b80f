# The harness can start the loopback mock exchange and fetch a recorded response from it.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/..";
use PostgreSQL::Test::Utils;
use Test::More;
use SigmaxTest;

my $mock = start_mock_exchange();
like($mock->{port}, qr/^\d+$/, 'mock exchange listens on a loopback port');

my ($status, $body) = mock_get($mock, '/api/v3/ticker/24hr?symbol=BTCUSDT');
is($status, 200, 'binance ticker answers 200');
is($body, slurp_file(fixture_path('binance/ticker_24hr_BTCUSDT.json')),
	'the body is the recorded fixture, byte for byte');

($status, $body) = mock_get($mock, '/okx/api/v5/market/ticker?instId=BTC-USDT');
is($status, 200, 'a venue prefix reaches the same routes');
like($body, qr/"last": "73384.8"/, 'okx fixture served under its prefix');

my $log = mock_control($mock, 'GET', 'requests');
like($log, qr{/api/v3/ticker/24hr}, 'the request log names the binance request');
like($log, qr{/api/v5/market/ticker}, 'the request log names the okx request');

mock_control($mock, 'POST', 'fault', '{"venue": null, "mode": "http_500", "count": 1}');
($status) = mock_get($mock, '/api/v3/ticker/24hr?symbol=BTCUSDT');
is($status, 500, 'a selected fault is served');
($status) = mock_get($mock, '/api/v3/ticker/24hr?symbol=BTCUSDT');
is($status, 200, 'and expires after its count');

stop_mock_exchange($mock);

my $tls = start_mock_exchange(tls => 1);
($status, $body) = mock_get($tls, '/api/v2/ticker/btcusdt/');
is($status, 200, 'TLS with the self-signed CA verifies');
like($body, qr/"last": "73285"/, 'bitstamp fixture over TLS');
my (undef, undef, $err) = do {
	local $tls->{ca} = undef;
	mock_get($tls, '/api/v2/ticker/btcusdt/');
};
like($err, qr/certificate/i, 'without the CA the certificate is refused');
stop_mock_exchange($tls);

done_testing();
