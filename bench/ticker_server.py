#!/usr/bin/env python3
"""sigmax bench/ticker_server.py: a loopback HTTP server answering Binance's 24h ticker
for any symbol (GET /api/v3/ticker/24hr?symbol=X) or list of symbols (?symbols=["X","Y"],
an array of the same objects), with prices on a random walk.

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
        query = parse_qs(url.query)
        symbol = query.get("symbol", [""])[0]
        try:
            symbols = json.loads(query.get("symbols", ["null"])[0])
        except ValueError:
            symbols = None
        if url.path != "/api/v3/ticker/24hr" or not (symbol or (isinstance(symbols, list) and symbols)):
            self.reply(400, {"code": -1121, "msg": "Invalid symbol."})
            return
        if symbol:
            self.reply(200, self.ticker(symbol))
        else:
            self.reply(200, [self.ticker(s) for s in symbols])

    def ticker(self, symbol):
        with self.lock:
            last = self.prices.get(symbol, 100.0) * (1 + random.uniform(-0.001, 0.001))
            self.prices[symbol] = last
        return {
            "symbol": symbol,
            "lastPrice": "%.2f" % last,
            "bidPrice": "%.2f" % (last - 0.01),
            "askPrice": "%.2f" % (last + 0.01),
            "closeTime": int(time.time() * 1000),
        }

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
