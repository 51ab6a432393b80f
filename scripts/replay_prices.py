#!/usr/bin/python3
"""sigmax scripts/replay_prices.py: fetch every recorded ticker from the loopback mock
exchange and print one tab-separated line per price: venue, symbol, bid, ask, last.

This is what the background worker will do with libcurl; the demo uses it to
replay the recorded exchange data. Prices stay decimal strings, never floats.
"""
import json
import sys
import urllib.parse
import urllib.request


def main():
    base = sys.argv[1]
    if not base.startswith("http://127.0.0.1:"):
        sys.exit("replay_prices: the mock exchange must be on 127.0.0.1")
    with open(sys.argv[2]) as f:
        routes = json.load(f)["routes"]
    for route in routes:
        symbol = route.get("symbol") or ""
        if route.get("kind") != "ticker" or ":" in symbol:
            continue  # derivatives and error bodies are not spot prices
        url = base + "/" + route["venue"] + route["path"]
        if route["query"]:
            url += "?" + urllib.parse.urlencode(route["query"])
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read(), parse_float=str, parse_int=str)
        prices = []
        for field in ("bid", "ask", "last"):
            value = body
            for step in route["fields"][field]:
                value = value[step]
            prices.append(str(value))
        print("\t".join([route["venue"], symbol] + prices))


if __name__ == "__main__":
    main()
