#!/usr/bin/env python3
"""sigmax bench/ticker_server.py: a loopback HTTP server answering Binance's 24h ticker
(GET /api/v3/ticker/24hr?symbol=X) for any symbol, with prices on a random walk.

For bench/worker.sh, which needs 50 symbols on each of 5 venues; the recorded fixtures
(test/mock_exchange) hold one or two symbols a venue. Binds 127.0.0.1 only; writes its
port to --port-file once listening. Python 3 standard library only.
"""
import argparse
import http.server
import json
import os
import random
import socket
import socketserver
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    prices = {}
    lock = threading.Lock()

    def setup(self):
        # headers and body are separate writes: no Nagle delay behind the client's delayed ACK
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def do_GET(self):
        url = urlsplit(self.path)
        symbol = parse_qs(url.query).get("symbol", [""])[0]
        if url.path != "/api/v3/ticker/24hr" or not symbol:
            self.reply(404, {"code": -1121, "msg": "Invalid symbol."})
            return
        with self.lock:
            last = self.prices.get(symbol, 100.0) * (1 + random.uniform(-0.001, 0.001))
            self.prices[symbol] = last
        now_ms = int(time.time() * 1000)
        self.reply(200, {
            "symbol": symbol,
            "lastPrice": "%.2f" % last,
            "bidPrice": "%.2f" % (last - 0.01),
            "askPrice": "%.2f" % (last + 0.01),
            "closeTime": now_ms,
        })

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # a client that drops a connection (the poller reloading) is not news
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port-file", required=True)
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
