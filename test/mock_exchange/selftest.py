#!/usr/bin/python3
"""Self-test of the mock exchange (stdlib unittest; run: /usr/bin/python3 selftest.py).

Starts mock_exchange.py as a subprocess on a free loopback port (plain HTTP and with
--tls), then checks the routes, the control API and every fault mode.  Only loopback
addresses are ever contacted: every connection goes through loopback_connect(), which
refuses anything else.
"""

import decimal
import http.client
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "mock_exchange.py")
FIXTURES = os.path.join(HERE, "fixtures")
PYTHON = sys.executable or "/usr/bin/python3"

with open(os.path.join(HERE, "routes.json"), "rb") as _f:
    ROUTES = json.load(_f)["routes"]
TICKERS = [r for r in ROUTES if r["kind"] == "ticker"]
SERVED = [r for r in ROUTES if r["kind"] in ("ticker", "unknown_symbol")]


def fixture_bytes(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def route(venue, kind="ticker", index=0):
    return [r for r in ROUTES if r["venue"] == venue and r["kind"] == kind][index]


def target(r, prefix=False, reverse_query=False):
    """The request target (path?query) of a route, optionally /<venue>-prefixed."""
    items = list(r["query"].items())
    if reverse_query:
        items.reverse()
    path = ("/" + r["venue"] if prefix else "") + r["path"]
    return path + ("?" + urllib.parse.urlencode(items) if items else "")


def assert_loopback(host):
    if not ipaddress.ip_address(host).is_loopback:
        raise AssertionError("selftest must only contact loopback, not %r" % host)


def loopback_connect(host, port, timeout):
    assert_loopback(host)
    return socket.create_connection((host, port), timeout=timeout)


class MockProcess:
    """mock_exchange.py running as a subprocess; its port is read from --port-file."""

    def __init__(self, *extra, tls=False, cert_dir=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="mockx-")
        self.port_file = os.path.join(self.tmp.name, "port")
        self.cert_dir = cert_dir or os.path.join(self.tmp.name, "certs")
        self.stderr_path = os.path.join(self.tmp.name, "stderr")
        self.final_stderr = None
        cmd = [PYTHON, SCRIPT, "--port", "0", "--port-file", self.port_file,
               "--log-level", "WARNING"] + list(extra)
        self.tls = tls
        if tls:
            cmd += ["--tls", "--cert-dir", self.cert_dir]
        self.host = "127.0.0.1"
        if "--host" in extra:
            self.host = extra[extra.index("--host") + 1]
            if self.host == "localhost":
                self.host = "127.0.0.1"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + 15
        while not os.path.exists(self.port_file):
            if self.proc.poll() is not None:
                raise RuntimeError("mock exited with %s: %s" % (self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mock did not write its port file")
            time.sleep(0.02)
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.context = None
        if tls:
            self.context = ssl.create_default_context(cafile=os.path.join(self.cert_dir, "ca.pem"))

    def stderr(self):
        if self.final_stderr is not None:  # after stop(): the temp dir is gone
            return self.final_stderr
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.final_stderr is None:
            self.final_stderr = self.stderr()
            self.tmp.cleanup()
        return self.proc.returncode

    # ---- clients --------------------------------------------------------------------

    def connection(self, timeout=5):
        assert_loopback(self.host)
        if self.tls:
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                               context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method, path, body=None, timeout=5):
        """(status, headers, body) of one request on a fresh connection."""
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body,
                         headers={"Content-Type": "application/json"} if body else {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def get(self, path, timeout=5):
        return self.request("GET", path, timeout=timeout)

    def control(self, method, name, obj=None):
        body = json.dumps(obj).encode() if obj is not None else None
        status, headers, data = self.request(method, "/__mock/" + name, body)
        return status, json.loads(data)

    def fault(self, **spec):
        status, reply = self.control("POST", "fault", spec)
        assert status == 200, reply
        return reply

    def raw_socket(self, timeout=5):
        """A connected socket (TLS-wrapped with verification when --tls)."""
        sock = loopback_connect(self.host, self.port, timeout)
        if self.tls:
            sock = self.context.wrap_socket(sock, server_hostname=self.host)
        return sock

    def wait_logged(self, predicate, timeout=3):
        """Poll the request log until an entry satisfies predicate; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, log = self.control("GET", "requests")
            for entry in log["requests"]:
                if predicate(entry):
                    return entry
            time.sleep(0.02)
        raise AssertionError("request never showed up in the request log")


def raw_get(path, host="127.0.0.1"):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, host)).encode()


class MockCase(unittest.TestCase):
    """Starts one server per test class; every test starts from a reset state."""

    TLS = False
    mock = None

    @classmethod
    def setUpClass(cls):
        cls.mock = MockProcess(tls=cls.TLS)

    @classmethod
    def tearDownClass(cls):
        rc = cls.mock.stop()
        assert rc == 0, "mock exited with %s: %s" % (rc, cls.mock.stderr())
        # Faults, resets and client timeouts must never show up as server-side errors
        # (the mock runs at --log-level WARNING, so a clean run prints nothing).
        assert cls.mock.stderr().strip() == "", cls.mock.stderr()

    def setUp(self):
        status, _ = self.mock.control("POST", "reset")
        self.assertEqual(status, 200)

    def assert_fixture_response(self, r, status, headers, body):
        self.assertEqual(status, r["status"], r["fixture"])
        self.assertEqual(body, fixture_bytes(r["fixture"]), r["fixture"])
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(int(headers["Content-Length"]), len(body))


class RouteTests:
    """Route behaviour, run against both the plain and the TLS server (mixin)."""

    def test_every_route_serves_its_fixture_byte_for_byte(self):
        for r in SERVED:
            with self.subTest(fixture=r["fixture"]):
                self.assert_fixture_response(r, *self.mock.get(target(r)))

    def test_venue_prefix(self):
        for r in SERVED:
            with self.subTest(fixture=r["fixture"]):
                self.assert_fixture_response(r, *self.mock.get(target(r, prefix=True)))
        # A prefix restricts matching to that venue's routes.
        binance = route("binance")
        status, _, body = self.mock.get("/kraken" + target(binance))
        self.assertEqual(status, 404)
        self.assertEqual(json.loads(body)["error"], "not found")

    def test_also_path_serves_the_same_body(self):
        twins = [r for r in SERVED if r.get("also_path")]
        self.assertTrue(twins)
        for r in twins:
            with self.subTest(fixture=r["fixture"]):
                query = "&".join("%s=%s" % kv for kv in r["query"].items())
                path = r["also_path"] + ("?" + query if query else "")
                self.assert_fixture_response(r, *self.mock.get(path))
                self.assert_fixture_response(r, *self.mock.get("/" + r["venue"] + path))

    def test_query_order_does_not_matter(self):
        for r in SERVED:
            if len(r["query"]) > 1:
                with self.subTest(fixture=r["fixture"]):
                    self.assert_fixture_response(r, *self.mock.get(target(r, reverse_query=True)))

    def test_keep_alive(self):
        conn = self.mock.connection()
        try:
            for r in TICKERS[:3]:
                conn.request("GET", target(r))
                resp = conn.getresponse()
                self.assertEqual(resp.read(), fixture_bytes(r["fixture"]))
        finally:
            conn.close()


class PlainRoutes(RouteTests, MockCase):
    """Routes, unknown symbols and the control API over plain HTTP."""

    def test_health(self):
        status, health = self.mock.control("GET", "health")
        self.assertEqual(status, 200)
        self.assertEqual(health["status"], "ok")
        self.assertEqual(health["port"], self.mock.port)
        self.assertFalse(health["tls"])
        self.assertEqual(health["routes"], len(ROUTES))

    def test_every_fixture_file_has_exactly_one_route(self):
        on_disk = set()
        for root, _, files in os.walk(FIXTURES):
            for name in files:
                if name.endswith(".json"):
                    on_disk.add(os.path.relpath(os.path.join(root, name), FIXTURES))
        referenced = [r["fixture"] for r in ROUTES if r["kind"] != "ticker_list"]
        self.assertEqual(sorted(referenced), sorted(set(referenced)))
        self.assertEqual(set(referenced), on_disk)
        self.assertTrue(os.path.exists(os.path.join(FIXTURES, "README.md")))

    def test_expected_prices_are_in_the_bodies(self):
        for r in TICKERS:
            body = fixture_bytes(r["fixture"])
            doc = json.loads(body)
            for name in ("last", "bid", "ask"):
                with self.subTest(fixture=r["fixture"], field=name):
                    expected = r["expected"][name]
                    self.assertIsInstance(expected, str)
                    self.assertIn(expected.encode(), body)
                    value = doc
                    for key in r["fields"][name]:
                        value = value[key]
                    self.assertEqual(decimal.Decimal(value), decimal.Decimal(expected))

    def test_unknown_symbols_get_the_venue_error(self):
        cases = [  # (venue, query) -> the venue's unknown_symbol route
            ("binance", {"symbol": "DOGEFOO"}),
            ("kraken", {"pair": "XBTFOO"}),
            ("okx", {"instId": "FOO-BAR"}),
            ("bybit", {"symbol": "FOOUSDT", "category": "linear"}),
        ]
        for venue, query in cases:
            err = route(venue, "unknown_symbol")
            for prefix in ("", "/" + venue):
                with self.subTest(venue=venue, prefix=prefix):
                    path = prefix + err["path"] + "?" + urllib.parse.urlencode(query)
                    self.assert_fixture_response(err, *self.mock.get(path))
        self.assertEqual(route("binance", "unknown_symbol")["status"], 400)
        for venue in ("kraken", "okx", "bybit"):
            self.assertEqual(route(venue, "unknown_symbol")["status"], 200)

    def test_ticker_list(self):
        """Binance's symbols=[...]: the recorded bodies in an array, in the order asked."""
        btc, bnb = fixture_bytes(route("binance", index=0)["fixture"]), fixture_bytes(route("binance", index=1)["fixture"])
        query = urllib.parse.urlencode({"symbols": '["BNBBTC","BTCUSDT"]'})
        for prefix in ("", "/binance"):
            with self.subTest(prefix=prefix):
                status, _, body = self.mock.get(prefix + "/api/v3/ticker/24hr?" + query)
                self.assertEqual(status, 200)
                self.assertEqual(body, b"[" + bnb.strip() + b"," + btc.strip() + b"]")
                self.assertEqual([t["symbol"] for t in json.loads(body)], ["BNBBTC", "BTCUSDT"])
        unknown = fixture_bytes(route("binance", "unknown_symbol")["fixture"])
        for names in ('["BTCUSDT","NOSUCH"]', "[]", "BTCUSDT", '[1]'):
            with self.subTest(names=names):
                status, _, body = self.mock.get("/api/v3/ticker/24hr?" + urllib.parse.urlencode({"symbols": names}))
                self.assertEqual(status, 400)
                self.assertEqual(body, unknown)

    def test_anything_else_is_a_json_404(self):
        for path in ["/nope", "/api/v1/market/stats?symbol=FOO-BAR",
                     "/v5/market/tickers?category=linear&symbol=BTCUSDT&extra=1",
                     "/api/v3/ticker/24hr", "/v1/pubticker/ethusd", "/binance"]:
            with self.subTest(path=path):
                status, headers, body = self.mock.get(path)
                self.assertEqual(status, 404)
                self.assertEqual(headers["Content-Type"], "application/json")
                self.assertEqual(json.loads(body)["error"], "not found")
        status, _, body = self.mock.request("POST", target(route("okx")), b"{}")
        self.assertEqual(status, 404)

    def test_binance_weight_header(self):
        r = route("binance")
        _, h1, _ = self.mock.get(target(r))
        _, h2, _ = self.mock.get(target(r))
        self.assertEqual(int(h2["X-MBX-USED-WEIGHT-1M"]), int(h1["X-MBX-USED-WEIGHT-1M"]) + 1)

    def test_request_log(self):
        okx, kraken = route("okx"), route("kraken")
        self.mock.get(target(okx))
        self.mock.control("GET", "health")  # control requests are not logged
        self.mock.get(target(kraken, prefix=True))
        self.mock.get("/nope?x=1")
        _, log = self.mock.control("GET", "requests")
        entries = log["requests"]
        self.assertEqual(log["count"], 3)
        self.assertEqual([e["method"] for e in entries], ["GET"] * 3)
        self.assertEqual([e["path"] for e in entries],
                         [okx["path"], "/kraken" + kraken["path"], "/nope"])
        self.assertEqual([e["query"] for e in entries], ["instId=BTC-USDT", "pair=XBTUSDT", "x=1"])
        self.assertEqual([e["venue_prefix"] for e in entries], [None, "kraken", None])
        self.assertEqual([e["venue"] for e in entries], ["okx", "kraken", None])
        self.assertEqual([e["status"] for e in entries], [200, 200, 404])
        self.assertEqual([e["fault"] for e in entries], [None, None, None])
        times = [e["monotonic"] for e in entries]
        self.assertEqual(times, sorted(times))
        self.assertEqual(entries[0]["headers"]["host"], "127.0.0.1:%d" % self.mock.port)
        # Reset clears the log (and faults).
        self.mock.fault(mode="http_500")
        self.mock.control("POST", "reset")
        _, log = self.mock.control("GET", "requests")
        self.assertEqual(log["count"], 0)
        _, faults = self.mock.control("GET", "fault")
        self.assertEqual(faults["faults"], [])

    def test_control_api_errors(self):
        bad = [{"mode": "bogus"}, {"mode": "http_500", "colour": "red"},
               {"mode": "http_500", "venue": "nasdaq"}, {"mode": "http_500", "count": 0},
               {"mode": "delay", "delay_ms": "fast"}, {"mode": "http_500", "path": "no-slash"},
               {"mode": "error_envelope", "venue": "gemini"}]
        for spec in bad:
            with self.subTest(spec=spec):
                status, reply = self.mock.control("POST", "fault", spec)
                self.assertEqual(status, 400)
                self.assertFalse(reply["ok"])
        status, _, _ = self.mock.request("POST", "/__mock/fault", b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(self.mock.control("GET", "nope")[0], 404)
        self.assertEqual(self.mock.control("GET", "reset")[0], 405)
        _, log = self.mock.control("GET", "requests")
        self.assertEqual(log["count"], 0)


class PlainFaults(MockCase):
    """Each fault mode, over plain HTTP."""

    def setUp(self):
        super().setUp()
        self.gemini = route("gemini")
        self.url = target(self.gemini)
        self.body = fixture_bytes(self.gemini["fixture"])

    def last_logged(self):
        _, log = self.mock.control("GET", "requests")
        return log["requests"][-1]

    def test_http_500(self):
        self.mock.fault(mode="http_500")
        status, headers, body = self.mock.get(self.url)
        self.assertEqual(status, 500)
        self.assertEqual(headers["Content-Type"], "application/json")
        json.loads(body)
        entry = self.last_logged()
        self.assertEqual((entry["status"], entry["fault"]), (500, "http_500"))

    def test_http_403(self):
        self.mock.fault(mode="http_403", count=1)
        status, _, body = self.mock.get(self.url)
        self.assertEqual((status, json.loads(body)["mock_fault"]), (403, "http_403"))
        self.assertEqual((self.last_logged()["status"], self.last_logged()["fault"]), (403, "http_403"))
        status, _, _ = self.mock.get(self.url)
        self.assertEqual(status, 200)

    def test_http_429_and_418_with_retry_after(self):
        self.mock.fault(mode="http_429", retry_after=7)
        status, headers, body = self.mock.get(self.url)
        self.assertEqual((status, headers["Retry-After"]), (429, "7"))
        json.loads(body)
        self.mock.fault(mode="http_418", venue="binance", retry_after=120)
        status, headers, body = self.mock.get(target(route("binance")))
        self.assertEqual((status, headers["Retry-After"]), (418, "120"))
        self.assertEqual(body, fixture_bytes("binance/error_418_-1003_ip_banned.json"))
        self.assertEqual(json.loads(body)["code"], -1003)

    def test_delay(self):
        self.mock.fault(mode="delay", delay_ms=300)
        t0 = time.monotonic()
        status, _, body = self.mock.get(self.url)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        self.assertEqual((status, body), (200, self.body))

    def test_hang_does_not_block_other_requests(self):
        self.mock.fault(mode="hang", count=1)
        hung = self.mock.raw_socket()
        try:
            hung.sendall(raw_get(self.url))
            self.mock.wait_logged(lambda e: e["fault"] == "hang")
            # The count is used up: a second request is served normally meanwhile.
            self.assertEqual(self.mock.get(self.url)[2], self.body)
            hung.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                hung.recv(1)
        finally:
            hung.close()
        # An http.client caller sees its own timeout.
        self.mock.fault(mode="hang", count=1)
        with self.assertRaises(socket.timeout):
            self.mock.get(self.url, timeout=0.4)

    def test_truncated(self):
        self.mock.fault(mode="truncated")
        conn = self.mock.connection()
        try:
            conn.request("GET", self.url)
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            self.assertEqual(int(resp.headers["Content-Length"]), len(self.body))
            with self.assertRaises(http.client.IncompleteRead) as ctx:
                resp.read()
            self.assertEqual(ctx.exception.partial, self.body[:len(self.body) // 2])
        finally:
            conn.close()

    def test_truncated_json(self):
        self.mock.fault(mode="truncated_json")
        status, headers, body = self.mock.get(self.url)
        self.assertEqual(status, 200)
        self.assertEqual(int(headers["Content-Length"]), len(body))
        self.assertEqual(body, self.body[:len(self.body) // 2])
        with self.assertRaises(ValueError):
            json.loads(body)

    def test_malformed_json(self):
        self.mock.fault(mode="malformed_json")
        for r in SERVED:
            with self.subTest(fixture=r["fixture"]):
                status, _, body = self.mock.get(target(r))
                self.assertEqual(status, r["status"])
                self.assertEqual(len(body), len(fixture_bytes(r["fixture"])))
                with self.assertRaises(ValueError):
                    json.loads(body)

    def test_oversized(self):
        kraken = route("kraken")
        self.mock.fault(mode="oversized", size=1000000, count=1)
        status, headers, body = self.mock.get(target(kraken))
        self.assertEqual((status, int(headers["Content-Length"]), len(body)),
                         (200, 1000000, 1000000))
        doc = json.loads(body)  # valid-looking: it is the ticker plus padding
        self.assertEqual(doc["result"]["XBTUSDT"]["c"][0], "73380.60000")
        self.mock.fault(mode="oversized", count=1)  # default size: 8 MiB
        status, headers, body = self.mock.get(self.url, timeout=20)
        self.assertEqual(len(body), 8 * 1024 * 1024)
        self.assertEqual(json.loads(body)["last"], "73268.24")
        self.mock.fault(mode="oversized", size=5, count=1)  # smaller than any JSON frame
        self.assertEqual(len(self.mock.get(self.url)[2]), 5)

    def test_reset(self):
        self.mock.fault(mode="reset", count=1)
        with self.assertRaises(ConnectionResetError):
            self.mock.get(self.url)
        entry = self.last_logged()
        self.assertEqual((entry["fault"], entry["status"]), ("reset", None))
        self.assertEqual(self.mock.get(self.url)[2], self.body)

    def test_error_envelope(self):
        for venue in ("kraken", "okx", "bybit", "binance"):
            with self.subTest(venue=venue):
                self.mock.fault(mode="error_envelope", venue=venue, count=1)
                err = route(venue, "unknown_symbol")
                self.assert_fixture_response(err, *self.mock.get(target(route(venue))))
        # venue null: venues with a recorded error get it, the others are served normally.
        self.mock.fault(mode="error_envelope")
        self.assertEqual(self.mock.get(target(route("okx")))[2],
                         fixture_bytes(route("okx", "unknown_symbol")["fixture"]))
        self.assertEqual(self.mock.get(self.url)[2], self.body)
        self.assertIsNone(self.last_logged()["fault"])

    def test_count_expiry(self):
        self.mock.fault(mode="http_500", count=2)
        statuses = [self.mock.get(self.url)[0] for _ in range(3)]
        self.assertEqual(statuses, [500, 500, 200])
        _, faults = self.mock.control("GET", "fault")
        self.assertEqual(faults["faults"], [])
        _, log = self.mock.control("GET", "requests")
        self.assertEqual([e["fault"] for e in log["requests"]], ["http_500", "http_500", None])

    def test_venue_and_path_filters(self):
        okx, binance = route("okx"), route("binance")
        self.mock.fault(mode="http_500")                       # everything
        self.mock.fault(mode="http_429", venue="okx")          # okx: more specific
        self.mock.fault(mode="http_418", path=binance["path"])  # binance's path
        self.assertEqual(self.mock.get(target(okx))[0], 429)
        self.assertEqual(self.mock.get(target(okx, prefix=True))[0], 429)
        self.assertEqual(self.mock.get(target(binance, prefix=True))[0], 418)
        self.assertEqual(self.mock.get(self.url)[0], 500)
        # mode "none" clears one (venue, path) key, or everything without venue/path.
        status, reply = self.mock.control("POST", "fault", {"mode": "none", "venue": "okx"})
        self.assertEqual(reply["cleared"], 1)
        self.assertEqual(self.mock.get(target(okx))[0], 500)
        status, reply = self.mock.control("POST", "fault", {"mode": "none"})
        self.assertEqual(reply["cleared"], 2)
        self.assertEqual(self.mock.get(target(okx))[0], 200)
        self.mock.fault(mode="http_500", venue="okx", path=okx["path"])
        self.assertEqual(self.mock.get(target(okx))[0], 500)
        self.assertEqual(self.mock.get(target(binance))[0], 200)
        status, reply = self.mock.control("DELETE", "fault")
        self.assertEqual((status, reply["cleared"]), (200, 1))
        self.assertEqual(self.mock.get(target(okx))[0], 200)


class TlsServer(RouteTests, MockCase):
    """The same routes over HTTPS, verified against the generated ca.pem."""

    TLS = True

    def test_ca_and_hostnames(self):
        ca = os.path.join(self.mock.cert_dir, "ca.pem")
        self.assertTrue(os.path.exists(ca))
        status, health = self.mock.control("GET", "health")
        self.assertTrue(health["tls"])
        ctx = ssl.create_default_context(cafile=ca)
        for name in ("localhost", "127.0.0.1", "::1"):  # SAN entries
            with self.subTest(name=name):
                sock = ctx.wrap_socket(loopback_connect("127.0.0.1", self.mock.port, 5),
                                       server_hostname=name)
                sock.close()
        with self.assertRaises(ssl.SSLCertVerificationError):  # not in the SAN list
            ctx.wrap_socket(loopback_connect("127.0.0.1", self.mock.port, 5),
                            server_hostname="api.binance.com")
        with self.assertRaises(ssl.SSLCertVerificationError):  # not a public CA
            ssl.create_default_context().wrap_socket(
                loopback_connect("127.0.0.1", self.mock.port, 5), server_hostname="localhost")

    def test_certificates_are_reused(self):
        ca = os.path.join(self.mock.cert_dir, "ca.pem")
        with open(ca, "rb") as f:
            before = f.read()
        second = MockProcess(tls=True, cert_dir=self.mock.cert_dir)
        try:
            fixture = route("bitstamp")
            self.assertEqual(second.get(target(fixture))[2], fixture_bytes(fixture["fixture"]))
        finally:
            self.assertEqual(second.stop(), 0)
        with open(ca, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_faults_over_tls(self):
        r = route("kucoin")
        body = fixture_bytes(r["fixture"])
        self.mock.fault(mode="reset", count=1)
        with self.assertRaises((ConnectionResetError, ssl.SSLError)):
            self.mock.get(target(r))
        self.mock.fault(mode="hang", count=1)
        hung = self.mock.raw_socket()
        try:
            hung.sendall(raw_get(target(r)))
            self.mock.wait_logged(lambda e: e["fault"] == "hang")
            self.assertEqual(self.mock.get(target(r))[2], body)
            hung.settimeout(0.4)
            with self.assertRaises(socket.timeout):
                hung.recv(1)
        finally:
            hung.close()
        self.mock.fault(mode="truncated", count=1)
        with self.assertRaises(http.client.IncompleteRead):
            self.mock.get(target(r))
        self.mock.fault(mode="oversized", size=200000, count=1)
        self.assertEqual(len(self.mock.get(target(r))[2]), 200000)
        self.assertEqual(self.mock.get(target(r))[2], body)


class ProcessTests(unittest.TestCase):
    """Startup refusals, bind addresses and signal handling."""

    def run_refused(self, *args):
        with tempfile.TemporaryDirectory(prefix="mockx-") as tmp:
            port_file = os.path.join(tmp, "port")
            proc = subprocess.run([PYTHON, SCRIPT, "--port-file", port_file] + list(args),
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=15)
            self.assertFalse(os.path.exists(port_file))
        lines = proc.stderr.decode().strip().splitlines()
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual(len(lines), 1, proc.stderr)
        return lines[0]

    def test_refuses_non_loopback(self):
        for host in ("0.0.0.0", "10.0.0.1", "::", "192.168.1.1", "example.com"):
            with self.subTest(host=host):
                line = self.run_refused("--host", host)
                self.assertIn("refusing to bind", line)

    def test_port_in_use(self):
        busy = socket.socket()
        try:
            busy.bind(("127.0.0.1", 0))
            busy.listen(1)
            line = self.run_refused("--port", str(busy.getsockname()[1]))
            self.assertIn("already in use", line)
        finally:
            busy.close()

    def test_tls_needs_cert_dir(self):
        proc = subprocess.run([PYTHON, SCRIPT, "--tls"], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=15)
        self.assertEqual(proc.returncode, 2)

    def test_loopback_hosts(self):
        hosts = ["localhost", "127.0.0.2"]
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::1", 0))
            probe.close()
            hosts.append("::1")
        except OSError:
            pass  # no IPv6 loopback here
        for host in hosts:
            with self.subTest(host=host):
                mock = MockProcess("--host", host)
                try:
                    status, health = mock.control("GET", "health")
                    self.assertEqual(status, 200)
                    self.assertEqual(health["host"], {"localhost": "127.0.0.1"}.get(host, host))
                finally:
                    self.assertEqual(mock.stop(), 0)

    def test_sigterm_during_hang(self):
        mock = MockProcess()
        try:
            mock.fault(mode="hang")
            hung = mock.raw_socket()
            hung.sendall(raw_get(target(route("okx"))))
            mock.wait_logged(lambda e: e["fault"] == "hang")
            t0 = time.monotonic()
            mock.proc.send_signal(signal.SIGTERM)
            rc = mock.proc.wait(timeout=2)
            self.assertLess(time.monotonic() - t0, 2)
            self.assertEqual(rc, 0, mock.stderr())
            hung.settimeout(2)
            try:
                self.assertEqual(hung.recv(1), b"")  # closed, nothing sent
            except ConnectionResetError:
                pass
            hung.close()
        finally:
            mock.stop()

    def test_sigint_exits_cleanly(self):
        mock = MockProcess()
        self.assertEqual(mock.stop(signal.SIGINT), 0, mock.stderr())


if __name__ == "__main__":
    t0 = time.monotonic()
    result = unittest.main(verbosity=2, exit=False).result
    print("selftest: %d tests in %.1f s" % (result.testsRun, time.monotonic() - t0),
          file=sys.stderr)
    sys.exit(0 if result.wasSuccessful() else 1)
