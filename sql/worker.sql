-- worker: the venue adapters on every recorded response, URLs and venue symbols, venue configuration.
-- (The worker itself, against the mock exchange, is tested in test/integration/t/030_worker.pl.)
CREATE EXTENSION sigmax;

\set binance_btc `cat test/mock_exchange/fixtures/binance/ticker_24hr_BTCUSDT.json`
\set binance_bnb `cat test/mock_exchange/fixtures/binance/ticker_24hr_BNBBTC.doc-example.json`
\set binance_err `cat test/mock_exchange/fixtures/binance/error_-1121_invalid_symbol.doc-example.json`
\set binance_418 `cat test/mock_exchange/fixtures/binance/error_418_-1003_ip_banned.json`
\set cbx_btc `cat test/mock_exchange/fixtures/coinbaseexchange/products_BTC-USDT_ticker.json`
\set cb_usdc `cat test/mock_exchange/fixtures/coinbase/brokerage_products_BTC-USDC_ticker.json`
\set cb_usd `cat test/mock_exchange/fixtures/coinbase/brokerage_products_BTC-USD_ticker.nautilus.json`
\set kraken_btc `cat test/mock_exchange/fixtures/kraken/ticker_XBTUSDT.json`
\set kraken_err `cat test/mock_exchange/fixtures/kraken/error_unknown_asset_pair.json`
\set bybit_btc `cat test/mock_exchange/fixtures/bybit/v5_market_tickers_linear_BTCUSDT.json`
\set bybit_opt `cat test/mock_exchange/fixtures/bybit/v5_market_tickers_option_BTC.json`
\set bybit_err `cat test/mock_exchange/fixtures/bybit/error_10001_symbol_invalid.reconstructed.json`
\set okx_btc `cat test/mock_exchange/fixtures/okx/market_ticker_BTC-USDT.json`
\set okx_err `cat test/mock_exchange/fixtures/okx/error_51001_instrument_not_exist.json`
\set bitstamp_btc `cat test/mock_exchange/fixtures/bitstamp/ticker_btcusdt.json`
\set gemini_btc `cat test/mock_exchange/fixtures/gemini/pubticker_btcusdt.json`
\set gemini_usdc `cat test/mock_exchange/fixtures/gemini/pubticker_usdcusd.json`
\set gemini_perp `cat test/mock_exchange/fixtures/gemini/pubticker_btcgusdperp.json`
\set kucoin_btc `cat test/mock_exchange/fixtures/kucoin/market_stats_BTC-USDT.json`

-- every recorded ticker: the prices of fixtures/README.md, as decimals, with the venue's time
SELECT fixture, t.status, t.last, t.bid, t.ask, t.exchange_time AT TIME ZONE 'UTC' AS exchange_time_utc
  FROM (VALUES
	('binance BTCUSDT', 'binance', :'binance_btc', 'BTCUSDT'),
	('binance BNBBTC (numbers as numbers)', 'binance', :'binance_bnb', 'BNBBTC'),
	('coinbaseexchange BTC-USDT', 'coinbaseexchange', :'cbx_btc', 'BTC-USDT'),
	('coinbase BTC-USDC', 'coinbase', :'cb_usdc', 'BTC-USDC'),
	('coinbase BTC-USD (3 trades)', 'coinbase', :'cb_usd', 'BTC-USD'),
	('kraken XBTUSDT', 'kraken', :'kraken_btc', 'XBTUSDT'),
	('bybit linear BTCUSDT (retCode as string)', 'bybit', :'bybit_btc', 'BTCUSDT'),
	('bybit option, one of three', 'bybit', :'bybit_opt', 'BTC-30MAY25-70000-C-USDT'),
	('okx BTC-USDT', 'okx', :'okx_btc', 'BTC-USDT'),
	('bitstamp btcusdt', 'bitstamp', :'bitstamp_btc', 'btcusdt'),
	('gemini btcusdt', 'gemini', :'gemini_btc', 'btcusdt'),
	('gemini usdcusd', 'gemini', :'gemini_usdc', 'usdcusd'),
	('gemini btcgusdperp', 'gemini', :'gemini_perp', 'btcgusdperp'),
	('kucoin BTC-USDT', 'kucoin', :'kucoin_btc', 'BTC-USDT')
  ) AS x(fixture, adapter, body, venue_symbol), LATERAL sigmax.parse_ticker(x.adapter, x.body, x.venue_symbol) t;

-- Binance answers symbols=["A","B"] with an array of the same objects: each symbol is read
-- from its own element, whatever the order; one the answer lacks is bad_ticker
SELECT venue_symbol, t.status, t.detail, t.last, t.bid, t.ask
  FROM unnest(ARRAY['BTCUSDT', 'BNBBTC', 'ETHUSDT']) venue_symbol,
       LATERAL sigmax.parse_ticker('binance', '[' || :'binance_bnb' || ',' || :'binance_btc' || ']', venue_symbol) t;
SELECT * FROM sigmax.parse_ticker('binance', '[{"symbol": "A", "lastPrice": "1"}, 7, {"symbol": "B", "lastPrice": "x"}]', 'B');
SELECT * FROM sigmax.parse_ticker('binance', '[{"symbol": "A", "lastPrice": "1"}, 7, {"symbol": "B", "lastPrice": "x"}]', 'A');

-- the errors venues return, several inside HTTP 200: an error envelope, never a price
SELECT fixture, t.status, t.detail, t.last
  FROM (VALUES
	('binance -1121', 'binance', :'binance_err', 'NOSUCH'),
	('binance 418 ban', 'binance', :'binance_418', 'BTCUSDT'),
	('kraken unknown pair', 'kraken', :'kraken_err', 'NOSUCH'),
	('bybit 10001', 'bybit', :'bybit_err', 'NOSUCH'),
	('okx 51001', 'okx', :'okx_err', 'NOSUCH'),
	('kucoin 400100', 'kucoin', '{"code":"400100","msg":"This pair is not provided at present"}', 'X-Y'),
	('gemini error', 'gemini', '{"result":"error","reason":"InvalidSymbol","message":"Supplied value ''x'' is not a valid symbol"}', 'x'),
	('coinbaseexchange error', 'coinbaseexchange', '{"message":"NotFound"}', 'X-Y'),
	('bitstamp error', 'bitstamp', '{"status":"error","reason":"Invalid pair"}', 'xy')
  ) AS x(fixture, adapter, body, venue_symbol), LATERAL sigmax.parse_ticker(x.adapter, x.body, x.venue_symbol) t;

-- well-formed JSON without a usable price is bad_ticker, with the reason
SELECT fixture, t.status, t.detail, t.bid, t.ask, t.last
  FROM (VALUES
	('numbers as JSON numbers', 'binance', '{"lastPrice": 1.5, "bidPrice": 1.4, "askPrice": 1.6}', 'X'),
	('no last price', 'binance', '{"bidPrice": "1.4"}', 'X'),
	('empty bid is no bid', 'binance', '{"lastPrice": "1.5", "bidPrice": ""}', 'X'),
	('null ask is no ask', 'binance', '{"lastPrice": "1.5", "askPrice": null}', 'X'),
	('price not a number', 'binance', '{"lastPrice": "abc"}', 'X'),
	('price NaN', 'binance', '{"lastPrice": "NaN"}', 'X'),
	('price Infinity', 'binance', '{"lastPrice": "Infinity"}', 'X'),
	('price huge exponent', 'binance', '{"lastPrice": "1e100000"}', 'X'),
	('price an object', 'binance', '{"lastPrice": {"v": 1}}', 'X'),
	('price zero', 'binance', '{"lastPrice": "0"}', 'X'),
	('price negative', 'binance', '{"lastPrice": "-1"}', 'X'),
	('crossed book', 'binance', '{"lastPrice": "2", "bidPrice": "2.1", "askPrice": "2.0"}', 'X'),
	('a JSON scalar', 'binance', '42', 'X'),
	('an array', 'binance', '[]', 'X'),
	('kraken two pairs', 'kraken', '{"error":[],"result":{"A":{},"B":{}}}', 'A'),
	('bybit symbol not listed', 'bybit', :'bybit_opt', 'BTC-30MAY25-99000-C-USDT'),
	('okx no data', 'okx', '{"code":"0","data":[]}', 'BTC-USDT'),
	('unknown keys and order ignored', 'kucoin', '{"zzz":[1,{"a":null}],"data":{"sell":"2","last":"1.5","buy":"1"},"code":"200000"}', 'X-Y')
  ) AS x(fixture, adapter, body, venue_symbol), LATERAL sigmax.parse_ticker(x.adapter, x.body, x.venue_symbol) t;

-- malformed JSON is PostgreSQL's own JSON error (the worker records it as bad_json)
SELECT * FROM sigmax.parse_ticker('binance', '{"lastPrice": "1.5"', 'X');
SELECT * FROM sigmax.parse_ticker('binance', '', 'X');
SELECT * FROM sigmax.parse_ticker('binance', '{"lastPrice": "1.5", "x": "\u0000"}', 'X');
SELECT * FROM sigmax.parse_ticker('nosuch', '{}', 'X');
SELECT * FROM sigmax.parse_ticker('binance', NULL, 'X');

-- how each venue spells BASE/QUOTE
SELECT adapter, sigmax._venue_symbol(adapter, 'BTC/USDT') AS btc_usdt, sigmax._venue_symbol(adapter, 'DOGE/USD') AS doge_usd
  FROM sigmax.exchange_adapters ORDER BY adapter;

-- what the worker may fetch: https anywhere, plain http only to loopback, no credentials
SELECT url, sigmax._poll_url_ok(url) AS ok
  FROM unnest(ARRAY['https://api.binance.com', 'https://www.bitstamp.net/', 'http://127.0.0.1:8080/binance',
                    'http://localhost:9000', 'http://[::1]:9000/x', 'http://127.1']) url;
SELECT sigmax._poll_url_ok('http://api.binance.com');
SELECT sigmax._poll_url_ok('http://127.0.0.1.evil.example');
SELECT sigmax._poll_url_ok('http://127.0.0.1@evil.example');
SELECT sigmax._poll_url_ok('https://user:secret@api.binance.com');
SELECT sigmax._poll_url_ok('ftp://127.0.0.1');
SELECT sigmax._poll_url_ok('https://api.binance.com/?x=1');
SELECT sigmax._poll_url_ok(E'https://api.binance.com/\n');
SELECT sigmax._poll_url_ok('https://');

-- venues and what they poll
SELECT sigmax.add_exchange('binance');
SELECT sigmax.add_exchange('kraken', poll_interval_ms => 2000);
SELECT sigmax.add_exchange('bybit_perp', 'bybit', category => 'linear');
SELECT sigmax.add_exchange('mock', 'okx', base_url => 'http://127.0.0.1:9/okx', enabled => false);
SELECT name, adapter, base_url, testnet_url, enabled, poll_interval_ms, category FROM sigmax.exchanges ORDER BY name;
SELECT sigmax.add_instrument('BTC/USDT', 'binance');
SELECT sigmax.add_instrument('ETH/USDT', 'kraken', venue_symbol => 'XETHZUSD');
SELECT sigmax.add_price_feed('kraken', 'BTC/USDT');
SELECT sigmax.add_price_feed('bybit_perp', 'BTC/USDT');
SELECT sigmax.add_price_feed('binance', 'BTC/USDT');   -- already an instrument there: polled once
SELECT sigmax.add_price_feed('mock', 'BTC/USDT');
SELECT exchange, adapter, symbol, venue_symbol, url, poll_interval_ms, enabled FROM sigmax.poll_targets ORDER BY 1, 3;
SELECT sigmax.remove_price_feed('kraken', 'BTC/USDT'), sigmax.remove_price_feed('kraken', 'BTC/USDT');
SELECT sigmax.enable_exchange('kraken', false);
SELECT exchange, symbol, enabled FROM sigmax.poll_targets WHERE exchange = 'kraken';
SELECT sigmax.enable_exchange('kraken', true);
SELECT action, payload->>'name' AS name, payload->>'symbol' AS symbol
  FROM sigmax.audit_log WHERE action LIKE 'exchange.%' OR action LIKE 'price_feed.%' ORDER BY seq;

-- refused configuration
SELECT sigmax.add_exchange('nosuch');
SELECT sigmax.add_exchange('Binance');
SELECT sigmax.add_exchange('binance', base_url => 'http://api.binance.com');
SELECT sigmax.add_exchange('binance', poll_interval_ms => 10);
SELECT sigmax.add_exchange('binance', category => 'Spot!');
SELECT sigmax.add_price_feed('nosuch', 'BTC/USDT');
SELECT sigmax.enable_exchange('nosuch', true);
SELECT sigmax.enable_exchange('kraken', NULL);
SELECT sigmax.add_price_feed('binance', 'btc/usdt');
SELECT sigmax.add_price_feed('binance', 'ETH/USDT', 'ETH USDT');
SELECT sigmax.add_instrument('SOL/USDT', 'binance', venue_symbol => 'SOL/USDT?x=1');
INSERT INTO sigmax.exchanges (name, adapter, base_url) VALUES ('x', 'binance', 'http://10.0.0.1');

-- the worker's status is readable (its content depends on what the cluster polls)
SELECT pg_typeof(state) AS state, pg_typeof(cycles) AS cycles FROM sigmax.worker_state();
SELECT count(*) >= 0 AS readable FROM sigmax.worker_status();

DROP EXTENSION sigmax;
DROP SCHEMA sigmax;
