#!/usr/bin/python3
"""Loopback-only mock crypto exchange for sigmax tests.

Serves the recorded exchange ticker responses in fixtures/ at their real REST paths
(routes.json), optionally over TLS with a throwaway CA, and lets a test inject faults
(HTTP errors, delays, hangs, truncated or oversized bodies, TCP resets) through a small
JSON control API under /__mock/.  Python 3 standard library only; certificates are made
with the openssl command line tool.

See README.md beside this file for the CLI, the routes, the control API and examples.
Exit status: 0 after SIGTERM/SIGINT, 2 for a refused or failed start (non-loopback
address, port in use, bad routes file, certificate generation failure).
"""

import argparse
import errno
import http.server
import ipaddress
import json
import logging
import os
import select
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import deque

LOG = logging.getLogger("mock_exchange")

HERE = os.path.dirname(os.path.abspath(__file__))
CONTROL_PREFIX = "/__mock"

# Every fault mode the control API accepts ("none" clears instead of setting).
FAULT_MODES = (
    "http_500", "http_403", "http_429", "http_418", "delay", "hang", "truncated",
    "truncated_json", "malformed_json", "oversized", "reset", "error_envelope",
)
FAULT_KEYS = {"venue", "path", "mode", "count", "retry_after", "delay_ms", "size"}
DEFAULT_RETRY_AFTER = 1                  # seconds, for http_429 / http_418
DEFAULT_DELAY_MS = 1000                  # for mode "delay" when delay_ms is not given
DEFAULT_OVERSIZE = 8 * 1024 * 1024       # bytes, for mode "oversized"
STREAM_CHUNK = 64 * 1024                 # write size when streaming oversized bodies
IDLE_TIMEOUT = 120                       # seconds a keep-alive connection may sit idle
TLS_HANDSHAKE_TIMEOUT = 10               # seconds


class StartupError(Exception):
    """A refused or failed start: printed as one line on stderr, exit status 2."""


def json_bytes(obj):
    """Compact JSON plus a newline, as bytes (used for every body the mock makes up)."""
    return (json.dumps(obj, separators=(",", ":"), sort_keys=False) + "\n").encode()


# --------------------------------------------------------------------------------------
# Loopback check
# --------------------------------------------------------------------------------------

def loopback_bind_address(host):
    """Map --host to (address, family), or raise StartupError if it is not loopback.

    Accepted: "localhost" (bound as 127.0.0.1, the resolver is not consulted), any
    address in 127.0.0.0/8, and ::1 (optionally in brackets).  Host names other than
    "localhost" are refused without being resolved.
    """
    h = host.strip()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if h.lower() == "localhost":
        return "127.0.0.1", socket.AF_INET
    refusal = ("refusing to bind to %r: only loopback addresses are allowed "
               "(127.0.0.0/8, ::1, localhost)" % host)
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        raise StartupError(refusal) from None
    if ip.version == 4 and ip in ipaddress.ip_network("127.0.0.0/8"):
        return str(ip), socket.AF_INET
    if ip.version == 6 and ip == ipaddress.IPv6Address("::1"):
        return "::1", socket.AF_INET6
    raise StartupError(refusal)


# --------------------------------------------------------------------------------------
# Route table
# --------------------------------------------------------------------------------------

class Route:
    """One entry of routes.json plus the fixture body it serves."""

    KINDS = ("ticker", "unknown_symbol", "fault_body")

    def __init__(self, entry, fixtures_dir, index):
        where = "routes.json entry %d" % index
        try:
            self.venue = entry["venue"]
            self.kind = entry.get("kind", "ticker")
            self.method = entry.get("method", "GET").upper()
            self.path = entry["path"]
            self.query = dict(entry.get("query") or {})
            self.status = int(entry["status"])
            self.fixture = entry["fixture"]
        except (KeyError, TypeError, ValueError) as exc:
            raise StartupError("%s: missing or bad field (%s)" % (where, exc)) from None
        self.any_value = list(entry.get("any_value") or [])
        # Another path serving the same recorded body (a venue's public twin of an endpoint).
        self.also_path = entry.get("also_path")
        if self.also_path is not None and not (isinstance(self.also_path, str)
                                               and self.also_path.startswith("/")):
            raise StartupError("%s: also_path must be a path starting with '/'" % where)
        self.fault = entry.get("fault")
        self.entry = entry  # the raw entry, returned by GET /__mock/routes
        if self.kind not in self.KINDS:
            raise StartupError("%s: unknown kind %r" % (where, self.kind))
        if not self.path.startswith("/"):
            raise StartupError("%s: path must start with '/'" % where)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.query.items()):
            raise StartupError("%s: query must map strings to strings" % where)
        if not set(self.any_value) <= set(self.query):
            raise StartupError("%s: any_value names a key that is not in query" % where)
        if self.kind == "fault_body" and self.fault not in FAULT_MODES:
            raise StartupError("%s: fault_body needs a valid 'fault'" % where)
        path = os.path.join(fixtures_dir, self.fixture)
        try:
            with open(path, "rb") as f:
                self.body = f.read()  # served byte for byte
        except OSError as exc:
            raise StartupError("%s: cannot read fixture %s: %s"
                               % (where, path, exc.strerror)) from None
        # The query as an order-insensitive value: a sorted list of pairs.
        self.query_pairs = sorted(self.query.items())

    def matches_exactly(self, method, path, pairs):
        return (self.method == method and path in (self.path, self.also_path)
                and self.query_pairs == pairs)

    def matches_unknown_symbol(self, method, path, pairs):
        """Same path and key set; keys outside any_value must have the recorded value."""
        if self.method != method or self.path != path:
            return False
        got = dict(pairs)
        if len(got) != len(pairs) or set(got) != set(self.query):
            return False  # duplicate keys or a different key set
        return all(got[k] == v for k, v in self.query.items() if k not in self.any_value)


class ListRoute:
    """A ticker_list entry: a venue's answer for several symbols at once (Binance's
    symbols=["A","B"]), built from the recorded single-symbol bodies: a JSON array of them,
    in the order asked, each element byte for byte as recorded. A symbol without a
    recorded ticker fails the whole request with the venue's unknown-symbol answer, as
    Binance does."""

    def __init__(self, entry, index):
        where = "routes.json entry %d" % index
        try:
            self.venue = entry["venue"]
            self.method = entry.get("method", "GET").upper()
            self.path = entry["path"]
            self.list_key = entry["list_key"]
            self.item_key = entry["item_key"]
        except (KeyError, TypeError) as exc:
            raise StartupError("%s: missing or bad field (%s)" % (where, exc)) from None
        self.kind = "ticker_list"
        self.entry = entry

    def answer(self, table, method, path, pairs, allowed):
        """A _ListAnswer for this request, or None when the route does not apply."""
        if self.method != method or self.path != path or not allowed(self):
            return None
        if len(pairs) != 1 or pairs[0][0] != self.list_key:
            return None
        try:
            names = json.loads(pairs[0][1])
        except ValueError:
            names = None
        unknown = table.error_envelope(self.venue)
        if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
            return unknown
        bodies = []
        for name in names:
            hit = [r for r in table.tickers if r.venue == self.venue and r.method == method
                   and path in (r.path, r.also_path) and r.query_pairs == [(self.item_key, name)]]
            if not hit:
                return unknown
            bodies.append(hit[0].body.strip())
        return _ListAnswer(self.venue, b"[" + b",".join(bodies) + b"]")


class _ListAnswer:
    """What a ListRoute serves: quacks like a Route for the request handler."""

    def __init__(self, venue, body):
        self.venue, self.body, self.status, self.kind = venue, body, 200, "ticker_list"
        self.fixture = "(list of recorded tickers)"


class RouteTable:
    """All routes of routes.json, and the lookups the request handler needs."""

    def __init__(self, routes_file, fixtures_dir):
        try:
            with open(routes_file, "rb") as f:
                doc = json.load(f)
        except OSError as exc:
            raise StartupError("cannot read routes file %s: %s"
                               % (routes_file, exc.strerror)) from None
        except ValueError as exc:
            raise StartupError("routes file %s is not valid JSON: %s"
                               % (routes_file, exc)) from None
        entries = doc.get("routes") if isinstance(doc, dict) else None
        if not isinstance(entries, list) or not entries:
            raise StartupError("routes file %s has no 'routes' list" % routes_file)
        self.lists = [ListRoute(e, i) for i, e in enumerate(entries)
                      if isinstance(e, dict) and e.get("kind") == "ticker_list"]
        self.routes = [Route(e, fixtures_dir, i) for i, e in enumerate(entries)
                       if not (isinstance(e, dict) and e.get("kind") == "ticker_list")]
        self.venues = sorted({r.venue for r in self.routes})
        self.tickers = [r for r in self.routes if r.kind == "ticker"]
        self.unknown_symbol = [r for r in self.routes if r.kind == "unknown_symbol"]
        seen = set()
        for r in self.tickers:
            for path in filter(None, (r.path, r.also_path)):
                key = (r.method, path, tuple(r.query_pairs))
                if key in seen:
                    raise StartupError("routes file %s: duplicate ticker route %s %s"
                                       % (routes_file, r.method, path))
                seen.add(key)

    def resolve(self, method, path, pairs, venue_prefix):
        """The route serving this request, or None (-> 404).

        pairs must be sorted.  With a venue prefix only that venue's routes qualify.
        """
        def allowed(r):
            return venue_prefix is None or r.venue == venue_prefix
        for r in self.tickers:
            if allowed(r) and r.matches_exactly(method, path, pairs):
                return r
        for r in self.lists:
            answer = r.answer(self, method, path, pairs, allowed)
            if answer is not None:
                return answer
        for r in self.unknown_symbol:
            if allowed(r) and r.matches_unknown_symbol(method, path, pairs):
                return r
        return None

    def venue_for_path(self, path):
        """The venue owning this path (used to attribute unmatched requests to a venue)."""
        for r in self.routes:
            if r.kind != "fault_body" and path in (r.path, r.also_path):
                return r.venue
        return None

    def error_envelope(self, venue):
        """The venue's recorded error response (its unknown-symbol answer), or None."""
        for r in self.unknown_symbol:
            if r.venue == venue:
                return r
        return None

    def fault_body(self, mode):
        """A recorded body that belongs to a fault mode (binance's 418), or None."""
        for r in self.routes:
            if r.kind == "fault_body" and r.fault == mode:
                return r
        return None


# --------------------------------------------------------------------------------------
# Shared state: request log and active faults
# --------------------------------------------------------------------------------------

class Fault:
    """An active fault; applies to requests of `venue` (None = any) on `path` (None = any)."""

    def __init__(self, mode, venue=None, path=None, count=None,
                 retry_after=DEFAULT_RETRY_AFTER, delay_ms=None, size=DEFAULT_OVERSIZE):
        self.mode = mode
        self.venue = venue
        self.path = path
        self.count = count            # None = until cleared
        self.retry_after = retry_after
        self.delay_ms = delay_ms
        self.size = size

    @property
    def key(self):
        return (self.venue, self.path)

    @property
    def specificity(self):
        # A fault for one venue and path beats one for a venue, which beats one for a
        # path, which beats a global one.
        return (2 if self.venue is not None else 0) + (1 if self.path is not None else 0)

    def as_dict(self):
        return {"mode": self.mode, "venue": self.venue, "path": self.path,
                "count": self.count, "retry_after": self.retry_after,
                "delay_ms": self.delay_ms, "size": self.size}


class MockState:
    """Request log and faults, shared by all handler threads (guarded by one lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.faults = {}              # (venue, path) -> Fault
        self.seq = 0
        self.binance_times = deque()  # for the X-MBX-USED-WEIGHT-1M header

    def log_request(self, fields):
        """Append a log entry (numbered from 1) and return it, for later updates."""
        with self.lock:
            self.seq += 1
            entry = {"seq": self.seq}
            entry.update(fields)
            self.requests.append(entry)
        return entry

    def update(self, entry, **fields):
        with self.lock:
            entry.update(fields)

    def snapshot_requests(self):
        with self.lock:
            return [dict(e) for e in self.requests]

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.binance_times.clear()

    def set_fault(self, fault):
        with self.lock:
            self.faults[fault.key] = fault

    def clear_faults(self, key=None):
        """Clear all faults, or the one set for key=(venue, path). Returns how many."""
        with self.lock:
            if key is None:
                n = len(self.faults)
                self.faults.clear()
                return n
            return 1 if self.faults.pop(key, None) is not None else 0

    def list_faults(self):
        with self.lock:
            return [f.as_dict() for f in self.faults.values()]

    def take_fault(self, venue, paths, applicable):
        """Pick the most specific fault matching this request and consume one use of it.

        paths: the request path as routed (venue prefix stripped) and as received.
        applicable(fault) can veto a fault that cannot apply (error_envelope on a venue
        without a recorded error); a vetoed fault is not consumed.
        """
        with self.lock:
            best = None
            for f in self.faults.values():
                if f.venue is not None and f.venue != venue:
                    continue
                if f.path is not None and f.path not in paths:
                    continue
                if not applicable(f):
                    continue
                if best is None or f.specificity > best.specificity:
                    best = f
            if best is not None and best.count is not None:
                best.count -= 1
                if best.count <= 0:
                    del self.faults[best.key]
            return best

    def binance_weight(self):
        """Requests to binance in the trailing minute, this one included."""
        now = time.monotonic()
        with self.lock:
            self.binance_times.append(now)
            while self.binance_times and self.binance_times[0] < now - 60:
                self.binance_times.popleft()
            return len(self.binance_times)


def parse_fault(body, venues, table):
    """Validate a POST /__mock/fault body. Returns a Fault, or None for mode "none"."""
    if not isinstance(body, dict):
        raise ValueError("fault must be a JSON object")
    unknown = set(body) - FAULT_KEYS
    if unknown:
        raise ValueError("unknown key(s): %s" % ", ".join(sorted(unknown)))
    mode = body.get("mode")
    if mode != "none" and mode not in FAULT_MODES:
        raise ValueError("mode must be one of: none, %s" % ", ".join(FAULT_MODES))
    venue = body.get("venue")
    if venue is not None and venue not in venues:
        raise ValueError("unknown venue %r (known: %s)" % (venue, ", ".join(venues)))
    path = body.get("path")
    if path is not None and (not isinstance(path, str) or not path.startswith("/")):
        raise ValueError("path must be a string starting with '/'")

    def number(name, default, minimum):
        value = body.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError("%s must be an integer >= %d" % (name, minimum))
        return value

    count = number("count", None, 1)
    retry_after = number("retry_after", DEFAULT_RETRY_AFTER, 0)
    delay_ms = number("delay_ms", None, 0)
    size = number("size", DEFAULT_OVERSIZE, 1)
    if mode == "none":
        return None
    if mode == "delay" and delay_ms is None:
        delay_ms = DEFAULT_DELAY_MS
    if mode == "error_envelope" and venue is not None and table.error_envelope(venue) is None:
        with_errors = [v for v in venues if table.error_envelope(v) is not None]
        raise ValueError("venue %r has no recorded error response (venues with one: %s)"
                         % (venue, ", ".join(with_errors)))
    return Fault(mode, venue, path, count, retry_after, delay_ms, size)


# --------------------------------------------------------------------------------------
# HTTP server and request handler
# --------------------------------------------------------------------------------------

class MockServer(http.server.ThreadingHTTPServer):
    """One thread per connection; threads are daemons so a hang never blocks exit."""

    daemon_threads = True
    allow_reuse_address = True   # TIME_WAIT only; a live listener still gives EADDRINUSE
    request_queue_size = 64

    def __init__(self, address, family, table, ssl_context):
        self.address_family = family
        self.table = table
        self.state = MockState()
        self.ssl_context = ssl_context
        self.stopping = threading.Event()  # set at shutdown: releases hangs and delays
        self.started = time.monotonic()
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind would call socket.getfqdn(), a reverse DNS lookup.
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, socket.timeout, OSError)):
            LOG.debug("connection from %s ended: %s", client_address, exc)
        else:
            LOG.exception("error while handling a request from %s", client_address)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, as libcurl expects from a real API
    server_version = "sigmax-mock-exchange/1.0"
    sys_version = ""
    timeout = IDLE_TIMEOUT

    # ---- connection setup / teardown -------------------------------------------------

    def setup(self):
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
        # algorithm holds the body until the client's delayed ACK (40 ms a response).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ctx = self.server.ssl_context
        if ctx is not None:
            # The TLS handshake runs here, in the connection's own thread, so a client
            # that never completes it cannot stall the accept loop.
            self.request.settimeout(TLS_HANDSHAKE_TIMEOUT)
            self.request = ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self):
        try:
            super().finish()
        except OSError:
            pass
        if self.server.ssl_context is not None:
            # The server only closes the original (now detached) plain socket.
            try:
                self.connection.close()
            except OSError:
                pass

    def version_string(self):
        return self.server_version  # no trailing Python version in the Server header

    def log_message(self, fmt, *args):
        LOG.debug("%s %s", self.address_string(), fmt % args)

    def send_error(self, code, message=None, explain=None):
        """Like the base class, but with a JSON body instead of HTML."""
        short = self.responses.get(code, ("error", ""))[0]
        self.log_error("code %d, message %s", code, message)
        body = json_bytes({"error": message or short, "status": code})
        self.send_response(code, message)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # Every method goes through one dispatcher: unknown ones get a JSON 404/405.
    def do_GET(self):
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_GET

    # ---- helpers -----------------------------------------------------------------------

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            return b""
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, extra_headers=()):
        """A complete response with Content-Type application/json and Content-Length."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _dispatch(self):
        try:
            target = urllib.parse.urlsplit(self.path)
            raw_path = target.path or "/"
            if raw_path == CONTROL_PREFIX or raw_path.startswith(CONTROL_PREFIX + "/"):
                self._control(raw_path, target.query)
            else:
                self._exchange(raw_path, target.query)
        except (ConnectionError, ssl.SSLError, socket.timeout) as exc:
            # The client went away mid-response (expected with faults and timeouts).
            LOG.debug("client %s gone: %s", self.address_string(), exc)
            self.close_connection = True

    # ---- control API ------------------------------------------------------------------

    def _control(self, path, query):
        state, table = self.server.state, self.server.table
        raw = self._read_body()
        method = self.command
        name = path[len(CONTROL_PREFIX):].rstrip("/") or "/"

        def reply(status, obj):
            self._send(status, json_bytes(obj))

        if name == "/health" and method == "GET":
            return reply(200, {
                "status": "ok", "pid": os.getpid(),
                "host": self.server.server_address[0], "port": self.server.server_address[1],
                "tls": self.server.ssl_context is not None,
                "venues": table.venues, "routes": len(table.routes) + len(table.lists),
                "uptime_s": round(time.monotonic() - self.server.started, 3)})
        if name == "/routes" and method == "GET":
            return reply(200, {"routes": [r.entry for r in table.routes + table.lists]})
        if name == "/requests" and method == "GET":
            entries = state.snapshot_requests()
            return reply(200, {"count": len(entries), "requests": entries})
        if name == "/requests" and method == "DELETE":
            with state.lock:
                state.requests.clear()
            return reply(200, {"ok": True})
        if name == "/reset" and method == "POST":
            state.reset()
            return reply(200, {"ok": True})
        if name == "/fault" and method == "GET":
            return reply(200, {"faults": state.list_faults()})
        if name == "/fault" and method == "DELETE":
            return reply(200, {"ok": True, "cleared": state.clear_faults()})
        if name == "/fault" and method == "POST":
            try:
                body = json.loads(raw.decode("utf-8") or "{}")
                fault = parse_fault(body, table.venues, table)
            except ValueError as exc:  # includes JSON and UTF-8 decoding errors
                return reply(400, {"ok": False, "error": str(exc)})
            if fault is None:  # mode "none"
                venue, fpath = body.get("venue"), body.get("path")
                key = None if venue is None and fpath is None else (venue, fpath)
                return reply(200, {"ok": True, "cleared": state.clear_faults(key)})
            state.set_fault(fault)
            LOG.info("fault set: %s", json.dumps(fault.as_dict()))
            return reply(200, {"ok": True, "fault": fault.as_dict()})
        known = {"/health", "/routes", "/requests", "/reset", "/fault"}
        if name in known:
            return reply(405, {"ok": False, "error": "method %s not allowed on %s" % (method, path)})
        return reply(404, {"ok": False, "error": "unknown control endpoint %s" % path})

    # ---- exchange routes --------------------------------------------------------------

    def _exchange(self, raw_path, query):
        server, table, state = self.server, self.server.table, self.server.state
        self._read_body()  # discard, keeps the connection usable

        # Strip an optional /<venue> prefix, so each venue can have its own base URL.
        path = urllib.parse.unquote(raw_path)
        venue_prefix = None
        parts = path.split("/", 2)  # "/binance/api/..." -> ["", "binance", "api/..."]
        if len(parts) >= 2 and parts[1] in table.venues:
            venue_prefix = parts[1]
            path = "/" + (parts[2] if len(parts) > 2 else "")

        pairs = sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
        route = table.resolve(self.command, path, pairs, venue_prefix)
        venue = venue_prefix or (route.venue if route else table.venue_for_path(path))

        entry = state.log_request({
            "monotonic": time.monotonic(),
            "method": self.command,
            "path": raw_path,
            "route_path": path,
            "query": query,
            "venue_prefix": venue_prefix,
            "venue": venue,
            "fixture": route.fixture if route else None,
            "status": None,
            "fault": None,
            "headers": {k.lower(): v for k, v in self.headers.items()},
        })

        def applicable(f):
            return f.mode != "error_envelope" or table.error_envelope(venue) is not None

        fault = state.take_fault(venue, (path, urllib.parse.unquote(raw_path)), applicable)

        # What would be served without a fault.
        if route is not None:
            status, body = route.status, route.body
        else:
            status, body = 404, json_bytes({
                "error": "not found", "mock": "sigmax mock exchange",
                "method": self.command, "path": raw_path, "query": query})
        headers = []
        if venue == "binance":
            headers.append(("X-MBX-USED-WEIGHT-1M", str(state.binance_weight())))

        if fault is None:
            state.update(entry, status=status)
            return self._send(status, body, headers)

        mode = fault.mode
        state.update(entry, fault=mode)
        LOG.debug("applying fault %s to %s %s", mode, self.command, self.path)
        if fault.delay_ms:
            # Interruptible sleep: shutdown does not wait for it.
            if server.stopping.wait(fault.delay_ms / 1000.0):
                self.close_connection = True
                return

        if mode == "delay":
            pass  # the normal response, late
        elif mode == "http_500":
            status, body = 500, json_bytes({
                "error": "Internal Server Error", "mock_fault": "http_500"})
        elif mode == "http_403":
            status, body = 403, json_bytes({
                "error": "Forbidden", "mock_fault": "http_403"})
        elif mode == "http_429":
            status, body = 429, json_bytes({
                "error": "Too Many Requests", "mock_fault": "http_429"})
            headers.append(("Retry-After", str(fault.retry_after)))
        elif mode == "http_418":
            recorded = table.fault_body("http_418")
            status = 418
            body = recorded.body if recorded else json_bytes({"error": "I'm a teapot"})
            headers.append(("Retry-After", str(fault.retry_after)))
        elif mode == "error_envelope":
            recorded = table.error_envelope(venue)
            status, body = recorded.status, recorded.body
        elif mode == "hang":
            return self._hang()
        elif mode == "reset":
            return self._reset()
        elif mode == "truncated":
            return self._truncated(entry, status, body, headers)
        elif mode == "truncated_json":
            body = body[:len(body) // 2]
        elif mode == "malformed_json":
            body = malformed(body)
        elif mode == "oversized":
            return self._oversized(entry, status, body, headers, fault.size)

        state.update(entry, status=status)
        self._send(status, body, headers)

    # ---- fault implementations --------------------------------------------------------

    def _hang(self):
        """Send nothing until the client closes the connection or the server stops."""
        self.close_connection = True
        sock = self.connection
        while not self.server.stopping.is_set():
            try:
                readable, _, _ = select.select([sock], [], [], 0.1)
                if not readable:
                    continue
                if not sock.recv(4096):
                    return  # the client gave up and closed
            except ssl.SSLWantReadError:
                continue  # part of a TLS record; keep waiting
            except (OSError, ValueError):
                return

    def _reset(self):
        """Abort the connection with a TCP RST before any byte of a response."""
        self.close_connection = True
        sock = self.connection
        # SO_LINGER on with a zero timeout makes close() send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # rfile (a makefile() of the socket) holds a reference; drop it so that close()
        # really closes the descriptor now and no FIN is sent first by a shutdown().
        self.rfile.close()
        sock.close()

    def _truncated(self, entry, status, body, headers):
        """Announce the full Content-Length, send half the body, close the connection."""
        self.server.state.update(entry, status=status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body[:len(body) // 2])
        self.close_connection = True

    def _oversized(self, entry, status, body, headers, size):
        """A body of exactly `size` bytes that looks like (and is) valid JSON, streamed."""
        head, tail = oversized_frame(body, size)
        pad = size - len(head) - len(tail)
        self.server.state.update(entry, status=status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(head)
        chunk = b"x" * STREAM_CHUNK  # one chunk, reused: memory use stays constant
        while pad > 0:
            if self.server.stopping.is_set():
                self.close_connection = True
                return
            n = min(pad, STREAM_CHUNK)
            self.wfile.write(chunk if n == STREAM_CHUNK else chunk[:n])
            pad -= n
        self.wfile.write(tail)


def malformed(body):
    """The body with its first ':' replaced by ';' - same size, no longer JSON."""
    i = body.find(b":")
    if i < 0:
        return b"{" + body
    return body[:i] + b";" + body[i + 1:]


def oversized_frame(body, size):
    """(head, tail) so that head + 'x' * (size - len(head) - len(tail)) + tail is JSON.

    The recorded body is kept and a "mock_padding" string member is added to it, so the
    response is a plausible ticker whose only problem is its size.  For sizes too small
    to hold that, a bare {"mock_padding":"..."} (or its first `size` bytes) is used.
    """
    text = body.rstrip()
    tail = b'"}'
    head = None
    if text.startswith(b"{") and text.endswith(b"}"):
        inner = text[:-1].rstrip()
        sep = b"" if inner.endswith(b"{") else b","
        head = inner + sep + b'"mock_padding":"'
    if head is None or len(head) + len(tail) > size:
        head = b'{"mock_padding":"'
    if len(head) + len(tail) > size:
        frame = head + tail
        return frame[:size], b""
    return head, tail


# --------------------------------------------------------------------------------------
# TLS: a throwaway CA and a server certificate, made with the openssl CLI
# --------------------------------------------------------------------------------------

OPENSSL_CONFIG = """\
# Written by mock_exchange.py; used only to make test certificates.
[req]
distinguished_name = dn
prompt = no
[dn]
CN = sigmax mock exchange
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = {san}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def run_openssl(args, cwd):
    try:
        proc = subprocess.run(["openssl"] + args, cwd=cwd, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except FileNotFoundError:
        raise StartupError("--tls needs the openssl command line tool, not found") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines() or ["(no output)"]
        raise StartupError("openssl %s failed: %s" % (args[0], lines[-1]))
    return proc


def ensure_certificates(cert_dir, bind_ip):
    """Make (or reuse) ca.pem/ca.key and server.pem/server.key in cert_dir.

    The server certificate is signed by the CA and names localhost, 127.0.0.1 and ::1
    (plus the bind address if it is another 127.x address) as subjectAltName entries.
    Clients verify against cert_dir/ca.pem.  Existing files are reused when they still
    verify, carry the same SAN list and are valid for at least another day.
    """
    san_ips = ["127.0.0.1", "::1"]
    if bind_ip not in san_ips:
        san_ips.append(bind_ip)
    san = ", ".join(["DNS:localhost"] + ["IP:" + ip for ip in san_ips])
    os.makedirs(cert_dir, exist_ok=True)
    names = ("ca.pem", "ca.key", "server.pem", "server.key", "san.txt")
    paths = {n: os.path.join(cert_dir, n) for n in names}

    if all(os.path.exists(p) for p in paths.values()):
        with open(paths["san.txt"]) as f:
            same_san = f.read().strip() == san
        if same_san:
            try:
                run_openssl(["verify", "-CAfile", paths["ca.pem"], paths["server.pem"]], cert_dir)
                run_openssl(["x509", "-checkend", "86400", "-noout",
                             "-in", paths["server.pem"]], cert_dir)
                LOG.info("reusing certificates in %s", cert_dir)
                return paths
            except StartupError:
                pass  # regenerate below

    # Generate everything in a scratch directory, then move into place (ca.pem last).
    work = tempfile.mkdtemp(prefix=".mkcert-", dir=cert_dir)
    try:
        with open(os.path.join(work, "openssl.cnf"), "w") as f:
            f.write(OPENSSL_CONFIG.replace("{san}", san))
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run_openssl(["req", "-config", "openssl.cnf", "-x509", "-new"] + ec +
                    ["-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
                     "-subj", "/CN=sigmax mock exchange test CA", "-extensions", "v3_ca"],
                    work)
        run_openssl(["req", "-config", "openssl.cnf", "-new"] + ec +
                    ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"],
                    work)
        serial = "0x" + os.urandom(8).hex()
        run_openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-set_serial", serial, "-days", "825", "-extfile", "openssl.cnf",
                     "-extensions", "v3_server", "-out", "server.pem"], work)
        with open(os.path.join(work, "san.txt"), "w") as f:
            f.write(san + "\n")
        for n in ("ca.key", "server.key", "server.pem", "san.txt", "ca.pem"):
            os.replace(os.path.join(work, n), paths[n])
    finally:
        for n in os.listdir(work):
            os.unlink(os.path.join(work, n))
        os.rmdir(work)
    LOG.info("generated a CA and server certificate in %s (SAN %s)", cert_dir, san)
    return paths


def make_ssl_context(paths):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(paths["server.pem"], paths["server.key"])
    ctx.set_alpn_protocols(["http/1.1"])  # never let a client negotiate h2
    return ctx


# --------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------

def write_port_file(path, port):
    """Write the port atomically: readers see either no file or the whole number."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".port-", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def parse_args(argv):
    def port_number(text):
        value = int(text)
        if not 0 <= value <= 65535:
            raise argparse.ArgumentTypeError("port must be 0..65535")
        return value

    p = argparse.ArgumentParser(
        description="Loopback-only mock crypto exchange (recorded ticker responses, "
                    "fault injection under /__mock/).")
    p.add_argument("--host", default="127.0.0.1",
                   help="loopback address to bind: 127.0.0.0/8, ::1 or localhost "
                        "(default 127.0.0.1); anything else is refused with exit status 2")
    p.add_argument("--port", type=port_number, default=0,
                   help="TCP port (default 0: pick a free one)")
    p.add_argument("--port-file", metavar="PATH",
                   help="write the bound port here (atomically) once listening")
    p.add_argument("--fixtures", metavar="DIR", default=os.path.join(HERE, "fixtures"),
                   help="fixture directory (default: fixtures/ beside this script)")
    p.add_argument("--routes", metavar="FILE", default=os.path.join(HERE, "routes.json"),
                   help="route table (default: routes.json beside this script)")
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a certificate signed by a generated test CA")
    p.add_argument("--cert-dir", metavar="DIR",
                   help="with --tls: where ca.pem (for clients), ca.key, server.pem and "
                        "server.key are made or reused")
    p.add_argument("--log-level", default="INFO",
                   choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   type=str.upper, help="stderr log level (default INFO; DEBUG logs requests)")
    args = p.parse_args(argv)
    if args.tls and not args.cert_dir:
        p.error("--tls needs --cert-dir DIR (ca.pem is written there for clients)")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=getattr(logging, args.log_level), stream=sys.stderr,
                        format="mock_exchange: %(levelname)s %(message)s")
    try:
        host, family = loopback_bind_address(args.host)
        table = RouteTable(args.routes, args.fixtures)
        ssl_context = None
        if args.tls:
            ssl_context = make_ssl_context(ensure_certificates(args.cert_dir, host))
        if args.port_file and os.path.exists(args.port_file):
            os.unlink(args.port_file)  # never leave a stale port from an earlier run
        try:
            server = MockServer((host, args.port), family, table, ssl_context)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartupError("port %d on %s is already in use" % (args.port, host)) from None
            raise StartupError("cannot listen on %s port %d: %s"
                               % (host, args.port, exc.strerror or exc)) from None
    except StartupError as exc:
        print("mock_exchange: error: %s" % exc, file=sys.stderr)
        return 2

    port = server.server_address[1]
    # Signal handlers only set a flag: the main thread polls it (no locks in handlers).
    stop = []

    def on_signal(signum, _frame):
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="serve_forever", daemon=True)
    thread.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    scheme = "https" if ssl_context else "http"
    shown = "[%s]" % host if family == socket.AF_INET6 else host
    LOG.info("listening on %s://%s:%d (%d routes; venues %s; control API %s/)",
             scheme, shown, port, len(table.routes), ", ".join(table.venues), CONTROL_PREFIX)

    while not stop and thread.is_alive():
        time.sleep(0.05)

    LOG.info("shutting down (%s)", signal.Signals(stop[0]).name if stop else "server loop ended")
    server.stopping.set()   # releases hangs, delays and oversized streams
    server.shutdown()       # stops serve_forever
    server.server_close()   # closes the listening socket; daemon threads are not joined
    return 0


if __name__ == "__main__":
    sys.exit(main())
