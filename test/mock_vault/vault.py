#!/usr/bin/python3
"""Loopback-only stand-in for HashiCorp Vault's KV version 2 API, for sigmax tests.

Answers GET /v1/<mount>/data/<path> as Vault does: 200 with
{"data": {"data": {"value": ...}, "metadata": {...}}} for a secret it holds, 403 when the
X-Vault-Token header is missing or wrong, 404 for an unknown path.  Per secret it can
instead answer another status (500), answer late (beyond the client's timeout), answer a
body that is not JSON or lacks the field, add raw JSON members to a well-formed answer (ones
Python cannot write, such as a number out of every range), or refuse the path (403 by
policy).  It records
every request (method, path, token header) for tests to assert on.  Python 3 standard
library only; with --tls, a throwaway self-signed certificate for 127.0.0.1 is made with
the openssl command line tool.

Usage:
  vault.py --token TOKEN [--secrets FILE] [--port 0] [--port-file PATH] [--tls --cert-dir DIR]

The secrets file maps a path under /v1/ to what to answer, for example
  {"secret/data/sigmax/db_password": {"value": "s3cret"},
   "secret/data/sigmax/broken":      {"status": 500},
   "secret/data/sigmax/slow":        {"value": "x", "delay_ms": 5000},
   "secret/data/sigmax/garbage":     {"raw": "<html>not json</html>"},
   "secret/data/sigmax/no_value":    {"data": {"other": "x"}},
   "secret/data/sigmax/huge_number": {"value": "x", "raw_members": "\"n\": 1e1000000"},
   "secret/data/sigmax/denied":      {"policy": "deny"}}

Control API (never recorded):
  GET    /__mock/health     {"status": "ok", "port": N}
  GET    /__mock/requests   {"count": N, "requests": [{"seq", "method", "path", "token", "status"}]}
  DELETE /__mock/requests   clears the request log
  POST   /__mock/secrets    replaces the secrets table (a JSON object as in the file)

Exit status: 0 after SIGTERM/SIGINT, 2 for a refused start (a non-loopback --host).
"""

import argparse
import http.server
import ipaddress
import json
import os
import signal
import socketserver
import ssl
import subprocess
import sys
import threading
import time

CONTROL_PREFIX = "/__mock/"


def json_bytes(obj):
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def loopback_address(host):
    """127.0.0.0/8 or localhost (as 127.0.0.1); anything else is refused."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is None or ip.version != 4 or ip not in ipaddress.ip_network("127.0.0.0/8"):
        print("vault.py: error: refusing to bind to %r: only 127.0.0.0/8 is allowed" % host,
              file=sys.stderr)
        sys.exit(2)
    return str(ip)


def make_certificate(cert_dir, host):
    """A self-signed certificate for host (its own CA: clients trust cert.pem)."""
    cert = os.path.join(cert_dir, "cert.pem")
    key = os.path.join(cert_dir, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=" + host,
                        "-addext", "subjectAltName=IP:" + host],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class VaultState:
    """The secrets table and the request log, shared by the handler threads."""

    def __init__(self, token, secrets):
        self.lock = threading.Lock()
        self.token = token
        self.secrets = secrets
        self.requests = []

    def record(self, method, path, token):
        with self.lock:
            entry = {"seq": len(self.requests) + 1, "method": method, "path": path,
                     "token": token, "status": None}
            self.requests.append(entry)
            return entry


class VaultServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, state):
        self.state = state
        self.stopping = threading.Event()
        super().__init__(address, Handler)

    def server_bind(self):
        # no reverse DNS lookup (HTTPServer.server_bind calls getfqdn)
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a timeout) closes the connection under us


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sigmax-mock-vault/1.0"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj, raw=None):
        body = raw.encode() if raw is not None else json_bytes(obj)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def control(self):
        state = self.server.state
        what = self.path[len(CONTROL_PREFIX):]
        if self.command == "GET" and what == "health":
            return self.send_json(200, {"status": "ok", "port": self.server.server_port})
        if what == "requests" and self.command == "GET":
            with state.lock:
                return self.send_json(200, {"count": len(state.requests),
                                            "requests": list(state.requests)})
        if what == "requests" and self.command == "DELETE":
            with state.lock:
                state.requests.clear()
            return self.send_json(200, {"ok": True})
        if what == "secrets" and self.command == "POST":
            try:
                table = json.loads(self.read_body() or b"{}")
                assert isinstance(table, dict)
            except (ValueError, AssertionError):
                return self.send_json(400, {"ok": False, "error": "a JSON object is expected"})
            with state.lock:
                state.secrets = table
            return self.send_json(200, {"ok": True})
        return self.send_json(404, {"ok": False, "error": "unknown control request"})

    def do_DELETE(self):
        if self.path.startswith(CONTROL_PREFIX):
            return self.control()
        return self.send_json(405, {"errors": ["unsupported operation"]})

    def do_POST(self):
        if self.path.startswith(CONTROL_PREFIX):
            return self.control()
        self.read_body()
        return self.send_json(405, {"errors": ["unsupported operation"]})

    def do_GET(self):
        if self.path.startswith(CONTROL_PREFIX):
            return self.control()
        state = self.server.state
        token = self.headers.get("X-Vault-Token")
        entry = state.record("GET", self.path, token)
        with state.lock:
            spec = state.secrets.get(self.path[len("/v1/"):]) if self.path.startswith("/v1/") else None
        status, obj, raw = self.answer(token, spec)
        if obj is not None and status == 200 and (spec or {}).get("raw_members"):
            # the answer with raw members added at its top level, written as given
            raw = json.dumps(obj, separators=(",", ":"))[:-1] + "," + spec["raw_members"] + "}\n"
        delay = (spec or {}).get("delay_ms") if token == state.token else None
        if delay and self.server.stopping.wait(delay / 1000.0):
            return
        entry["status"] = status
        try:
            self.send_json(status, obj, raw)
        except OSError:
            pass  # the client gave up waiting

    def answer(self, token, spec):
        """(status, JSON object, raw body) as Vault would answer."""
        if token != self.server.state.token:
            return 403, {"errors": ["permission denied"]}, None
        if spec is None:
            return 404, {"errors": []}, None
        if spec.get("policy") == "deny":
            return 403, {"errors": ["1 error occurred:\n\t* permission denied\n\n"]}, None
        if "status" in spec:
            return int(spec["status"]), {"errors": ["internal error"]}, None
        if "raw" in spec:
            return 200, None, spec["raw"]
        data = spec["data"] if "data" in spec else {"value": spec.get("value")}
        return 200, {
            "request_id": "00000000-0000-0000-0000-000000000000",
            "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": {"data": data,
                     "metadata": {"created_time": "2024-01-01T00:00:00Z",
                                  "custom_metadata": None, "deletion_time": "",
                                  "destroyed": False, "version": 1}},
            "wrap_info": None, "warnings": None, "auth": None}, None


def main():
    p = argparse.ArgumentParser(description="Loopback-only stand-in for Vault's KV v2 API.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--token", required=True, help="the X-Vault-Token that is accepted")
    p.add_argument("--secrets", help="JSON file: path under /v1/ -> answer")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--cert-dir")
    args = p.parse_args()
    host = loopback_address(args.host)
    secrets = {}
    if args.secrets:
        with open(args.secrets) as f:
            secrets = json.load(f)
    server = VaultServer((host, args.port), VaultState(args.token, secrets))
    if args.tls:
        if not args.cert_dir:
            p.error("--tls needs --cert-dir")
        cert, key = make_certificate(args.cert_dir, host)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)

    stop = []
    signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
    signal.signal(signal.SIGINT, lambda s, f: stop.append(s))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_port)
        os.rename(tmp, args.port_file)
    while not stop and thread.is_alive():
        time.sleep(0.05)
    server.stopping.set()
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
