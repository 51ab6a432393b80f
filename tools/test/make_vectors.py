#!/usr/bin/env python3
# make_vectors.py: writes test vectors for tools/sigmax-verify into a directory.
# Independent of the C code: follows docs/ledger-format.md with hashlib and the openssl CLI.
"""Generate a ledger export, a key pair, a signed checkpoint, inclusion proofs
and tampered variants of each, into OUTDIR (created if missing).

Usage: make_vectors.py OUTDIR

Everything but the Ed25519 keys is deterministic, so tools/test/run.sh can
state the expected report of each case. The ledger (5 streams, 29 entries):

    account:1            13 entries, checkpoint 7 covers seq 10
    account:42            1 entry,   covered (seq 1)
    app:late              2 entries, created after the checkpoint
    app:risk-engine.v2    8 entries, covered (seq 8)
    system                5 entries, covered (seq 5)

Files written (see the table printed at the end):
    key.pem pub.pem other_key.pem other_pub.pem
    ledger.copy (rows shuffled), checkpoint.txt, proof_*.json
    intact_*.copy: the same ledger exported differently (escapes, offsets, CRLF)
    tamper_*.copy, checkpoint_*.txt, proof_bad_*.json: tampered variants
    malformed_*: inputs the verifier must refuse with exit status 2
A worked example of one entry hash, one Merkle root and the checkpoint goes
to stdout.
"""

import copy
import datetime
import hashlib
import json
import os
import random
import subprocess
import sys

LEDGER_FORMAT = b"sigmax-ledger-v1"
CHECKPOINT_FORMAT = b"sigmax-checkpoint-v1"
ZERO = bytes(32)
UTC = datetime.timezone.utc
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)


# --------------------------------------------------------------------------
# Encodings from docs/ledger-format.md
# --------------------------------------------------------------------------

def netstring(data):
    """Length in ASCII decimal, a colon, the bytes, a comma."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return str(len(data)).encode("ascii") + b":" + data + b","


def sha256(data):
    return hashlib.sha256(data).digest()


def us_to_datetime(us):
    return EPOCH + datetime.timedelta(microseconds=us)


def canonical_ts(us):
    """recorded_at in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ."""
    d = us_to_datetime(us)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond)


def copy_ts(us, offset_seconds):
    """recorded_at as COPY prints it with DateStyle ISO in a zone at the given offset."""
    d = us_to_datetime(us) + datetime.timedelta(seconds=offset_seconds)
    text = "%04d-%02d-%02d %02d:%02d:%02d" % (
        d.year, d.month, d.day, d.hour, d.minute, d.second)
    if d.microsecond:
        text += ("." + "%06d" % d.microsecond).rstrip("0")
    sign = "-" if offset_seconds < 0 else "+"
    off = abs(offset_seconds)
    hh, mm, ss = off // 3600, off // 60 % 60, off % 60
    text += "%s%02d" % (sign, hh)
    if mm or ss:
        text += ":%02d" % mm
    if ss:
        text += ":%02d" % ss
    return text


class Num(str):
    """A JSON number kept exactly as numeric prints it (1.50 stays 1.50)."""


def json_string(s):
    """A JSON string as PostgreSQL's escape_json writes it (non-ASCII kept)."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jsonb_text(v):
    """payload::text: keys by length then bytewise, ", " and ": " separators."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, Num):
        return str(v)
    if isinstance(v, str):
        return json_string(v)
    if isinstance(v, list):
        return "[" + ", ".join(jsonb_text(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda k: (len(k.encode()), k.encode()))
        return "{" + ", ".join(json_string(k) + ": " + jsonb_text(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def canonical_entry(e):
    return (netstring(LEDGER_FORMAT) + netstring(e["stream"]) + netstring(str(e["seq"]))
            + netstring(canonical_ts(e["us"])) + netstring(e["actor"])
            + netstring(e["action"]) + netstring(e["payload"]))


def entry_hash(prev_hash, e):
    return sha256(prev_hash + canonical_entry(e))


def rechain(entries, stream):
    """Recompute prev_hash and hash of every entry of one stream, in seq order."""
    prev = ZERO
    for e in sorted((e for e in entries if e["stream"] == stream), key=lambda e: e["seq"]):
        e["prev_hash"] = prev
        e["hash"] = entry_hash(prev, e)
        prev = e["hash"]


def leaf(h):
    return sha256(b"\x00" + h)


def node(l, r):
    return sha256(b"\x01" + l + r)


def largest_power_of_two_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes):
    """RFC 6962 Merkle tree hash over entry hashes."""
    if len(hashes) == 1:
        return leaf(hashes[0])
    k = largest_power_of_two_below(len(hashes))
    return node(mth(hashes[:k]), mth(hashes[k:]))


def audit_path(m, hashes):
    """RFC 6962 PATH(m, D[n]), nearest sibling first."""
    n = len(hashes)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return audit_path(m, hashes[:k]) + [mth(hashes[k:])]
    return audit_path(m - k, hashes[k:]) + [mth(hashes[:k])]


def stream_hashes(entries, stream, upto):
    return [e["hash"] for e in sorted(entries, key=lambda e: e["seq"])
            if e["stream"] == stream and e["seq"] <= upto]


def canonical_checkpoint(cp_id, created_us, prev_digest_hex, entries, covered):
    """covered: {stream: seq}; heads and roots come from the given entries."""
    out = (netstring(CHECKPOINT_FORMAT) + netstring(str(cp_id))
           + netstring(canonical_ts(created_us)) + netstring(prev_digest_hex)
           + netstring(str(len(covered))))
    for stream in sorted(covered, key=lambda s: s.encode()):
        seq = covered[stream]
        hashes = stream_hashes(entries, stream, seq)
        out += (netstring(stream) + netstring(str(seq)) + netstring(hashes[-1].hex())
                + netstring(mth(hashes).hex()))
    return out


# --------------------------------------------------------------------------
# Keys and signatures (openssl CLI)
# --------------------------------------------------------------------------

def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_key(outdir, name):
    key = os.path.join(outdir, name + "_key.pem" if name else "key.pem")
    pub = os.path.join(outdir, name + "_pub.pem" if name else "pub.pem")
    openssl("genpkey", "-algorithm", "ed25519", "-out", key)
    openssl("pkey", "-in", key, "-pubout", "-out", pub)
    return key


def sign(outdir, key, message):
    """Pure Ed25519 over the message bytes (here: the 32 digest bytes)."""
    msg = os.path.join(outdir, ".digest.bin")
    sig = os.path.join(outdir, ".sig.bin")
    with open(msg, "wb") as f:
        f.write(message)
    openssl("pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", msg, "-out", sig)
    with open(sig, "rb") as f:
        signature = f.read()
    os.unlink(msg)
    os.unlink(sig)
    assert len(signature) == 64
    return signature


def checkpoint_text(canonical, signature):
    return ("sigmax-checkpoint-v1\ncanonical: %s\nsignature: %s\n"
            % (canonical.hex(), signature.hex()))


# --------------------------------------------------------------------------
# COPY text export
# --------------------------------------------------------------------------

COPY_ESCAPES = {"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def copy_text_plain(s):
    """What COPY TO writes for a text value."""
    return "".join(COPY_ESCAPES.get(ch, ch) for ch in s)


def copy_text_fancy(s, rng):
    """An equivalent encoding that COPY FROM accepts: octal, hex and redundant escapes."""
    out = []
    data = s.encode("utf-8")
    i = 0
    while i < len(data):
        b = data[i]
        nxt = data[i + 1] if i + 1 < len(data) else None
        ch = chr(b)
        choice = rng.random()
        if ch in COPY_ESCAPES and b < 0x80:
            out.append(COPY_ESCAPES[ch] if choice < 0.5 else "\\%03o" % b)
        elif choice < 0.15:
            out.append("\\%03o" % b)
        elif choice < 0.25 and (nxt is None or chr(nxt) not in "01234567"):
            out.append("\\%o" % b)
        elif choice < 0.35:
            out.append("\\x%02X" % b if rng.random() < 0.5 else "\\x%02x" % b)
        elif choice < 0.40 and b < 16 and (nxt is None or chr(nxt) not in "0123456789abcdefABCDEF"):
            out.append("\\x%x" % b)
        elif choice < 0.50 and b < 0x80 and ch.isalpha() and ch not in "bfnrtvxN":
            out.append("\\" + ch)
        elif b < 0x80:
            out.append(ch)
        else:
            out.append("\\%03o" % b)   # non-ASCII bytes as octal, one byte at a time
        i += 1
    return "".join(out)


def copy_line(e, style="plain", rng=None, offset=0, upper_hex=False):
    if style == "plain":
        esc = copy_text_plain
    else:
        def esc(s):
            return copy_text_fancy(s, rng)

    def bytea(h):
        x = h.hex().upper() if upper_hex else h.hex()
        return "\\\\x" + x
    fields = [esc(e["stream"]), str(e["seq"]), copy_ts(e["us"], offset),
              esc(e["actor"]), esc(e["action"]), esc(e["payload"]),
              bytea(e["prev_hash"]), bytea(e["hash"])]
    return "\t".join(fields)


def write_copy(path, entries, order_seed=1, style="plain", offsets=None,
               line_end="\n", end_marker=False, upper_hex=False):
    rng = random.Random(order_seed)
    rows = list(entries)
    rng.shuffle(rows)
    lines = []
    for e in rows:
        if offsets is None:
            off = e.get("offset", 0)
        else:
            off = rng.choice(offsets)
        lines.append(copy_line(e, style, rng, off, upper_hex and rng.random() < 0.5))
    text = "".join(line + line_end for line in lines)
    if end_marker:
        text += "\\." + line_end
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


# --------------------------------------------------------------------------
# The ledger
# --------------------------------------------------------------------------

def us_of(y, mo, d, h, mi, s, us):
    dt = datetime.datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)
    delta = dt - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def build_ledger():
    rng = random.Random(6962)
    entries = []
    t = us_of(2026, 12, 3, 15, 52, 41, 120)

    def add(stream, actor, action, payload, us=None, offset=0):
        nonlocal t
        seq = 1 + sum(1 for e in entries if e["stream"] == stream)
        if us is None:
            t += rng.randrange(1, 90_000_000)
            if rng.random() < 0.3:
                t -= t % 1000          # fewer fractional digits in COPY
            if rng.random() < 0.1:
                t -= t % 1000000       # none at all
            us = t
        entries.append({"stream": stream, "seq": seq, "us": us, "offset": offset,
                        "actor": actor, "action": action, "payload": jsonb_text(payload)})

    add("system", "postgres", "sigmax.installed", {"version": "1.0.0"},
        us=us_of(2026, 12, 3, 15, 52, 41, 120), offset=0)
    # the documentation's example instant, exported at +05:30
    add("account:1", "alice", "account.opened", {"name": "Alice", "base": "EUR"},
        us=us_of(2026, 12, 3, 15, 52, 41, 120), offset=5 * 3600 + 1800)
    add("account:1", "desk\t7\\ops\nnight", "order.accepted",
        {"qty": Num("1.50"), "sym": "BTC/€", "note": "tab\there\nnewline \\ backslash \"quoted\"",
         "ctl": "\x01\x1f", "emoji": "😀 ünïcödé 日本"})
    add("system", "postgres", "sigmax.checkpoint_key", {"fingerprint": "ab:cd"})
    add("app:risk-engine.v2", "risk", "limits.loaded", {"max_notional": Num("250000"), "pairs": ["BTC/EUR", "ETH/EUR"]})
    add("account:42", "bob", "account.opened", {"name": "Bøb", "tags": [], "vip": False, "ref": None},
        offset=-(3 * 3600))
    # across a year boundary at -05, and a leap day at +05:30
    add("account:1", "alice", "order.filled", {"px": Num("43000.10"), "qty": Num("1.50")},
        us=us_of(2027, 1, 1, 1, 0, 0, 0), offset=-5 * 3600)
    add("account:1", "alice", "order.accepted", {"qty": Num("0.001"), "sym": "ETH/EUR"},
        us=us_of(2028, 2, 28, 21, 30, 0, 500000), offset=5 * 3600 + 1800)
    for i in range(7):
        add("app:risk-engine.v2", "risk", "check.passed", {"order": Num(str(100 + i)), "rule": "notional"})
    for i in range(3):
        add("system", "postgres", "worker.heartbeat", {"n": Num(str(i))}, offset=rng.choice([0, 3600, -9 * 3600 - 1800]))
    for i in range(9):
        add("account:1", "alice" if i % 2 else "carol\\x", "order.accepted",
            {"i": Num(str(i)), "memo": "line\r\nbreak\ttab \\\\ two backslashes"},
            offset=rng.choice([0, 0, 19 * 60 + 32, 14 * 3600, -12 * 3600]))
    # streams grow after the checkpoint; account:1 has 13 entries by now
    assert sum(1 for e in entries if e["stream"] == "account:1") == 13
    add("app:late", "ops", "app.registered", {"by": "ops"})
    add("app:late", "ops", "app.heartbeat", {})
    for s in sorted({e["stream"] for e in entries}):
        rechain(entries, s)
    return entries


COVERED = {"account:1": 10, "account:42": 1, "app:risk-engine.v2": 8, "system": 5}
CP_ID = 7
CP_CREATED = us_of(2026, 12, 4, 0, 0, 0, 0)
CP_PREV = hashlib.sha256(b"checkpoint 6").hexdigest()


def find(entries, stream, seq):
    for e in entries:
        if e["stream"] == stream and e["seq"] == seq:
            return e
    raise KeyError((stream, seq))


def make_proof(entries, stream, seq, cp_canonical, cp_sig):
    tree_size = COVERED[stream]
    hashes = stream_hashes(entries, stream, tree_size)
    e = find(entries, stream, seq)
    return {
        "format": "sigmax-proof-v1",
        "entry": {"stream": stream, "seq": str(seq), "recorded_at": canonical_ts(e["us"]),
                  "actor": e["actor"], "action": e["action"], "payload": e["payload"],
                  "prev_hash": e["prev_hash"].hex(), "hash": e["hash"].hex()},
        "leaf_index": seq - 1,
        "tree_size": tree_size,
        "audit_path": [h.hex() for h in audit_path(seq - 1, hashes)],
        "checkpoint": {"canonical": cp_canonical.hex(), "signature": cp_sig.hex()},
    }


def write(path, text, mode="w"):
    with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
        f.write(text)


def write_proof(path, proof, ensure_ascii=False, indent=2):
    write(path, json.dumps(proof, ensure_ascii=ensure_ascii, indent=indent) + "\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_vectors.py OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)

    def p(name):
        return os.path.join(out, name)

    key = make_key(out, "")
    other_key = make_key(out, "other")

    entries = build_ledger()
    canonical = canonical_checkpoint(CP_ID, CP_CREATED, CP_PREV, entries, COVERED)
    digest = sha256(canonical)
    signature = sign(out, key, digest)

    # the intact ledger, exported in several equivalent ways
    write_copy(p("ledger.copy"), entries)
    write(p("checkpoint.txt"), checkpoint_text(canonical, signature))
    write_copy(p("intact_escapes.copy"), entries, order_seed=2, style="fancy", upper_hex=True)
    write_copy(p("intact_offsets.copy"), entries, order_seed=3,
               offsets=[0, 3600, -3600, 5 * 3600 + 1800, -(9 * 3600 + 30 * 60),
                        19 * 60 + 32, -(4 * 3600 + 56 * 60 + 2), 14 * 3600, -12 * 3600])
    write_copy(p("intact_crlf.copy"), entries, order_seed=4, line_end="\r\n", end_marker=True)
    write(p("checkpoint_crlf.txt"), checkpoint_text(canonical, signature).replace("\n", "\r\n") + "\r\n")

    # (a) one payload changed
    t = copy.deepcopy(entries)
    find(t, "system", 3)["payload"] = jsonb_text({"n": Num("0"), "x": "forged"})
    write_copy(p("tamper_a_payload.copy"), t)

    # (b) a middle entry deleted
    t = [e for e in entries if not (e["stream"] == "account:1" and e["seq"] == 6)]
    write_copy(p("tamper_b_delete_middle.copy"), t)

    # (c) the tail deleted after the checkpoint (seq 9 to 13; the checkpoint covers 10)
    t = [e for e in entries if not (e["stream"] == "account:1" and e["seq"] >= 9)]
    write_copy(p("tamper_c_delete_tail.copy"), t)

    # (d) a chain rewritten after the checkpoint, hashes recomputed
    t = copy.deepcopy(entries)
    find(t, "account:1", 4)["payload"] = jsonb_text({"px": Num("1.00"), "qty": Num("1000")})
    rechain(t, "account:1")
    write_copy(p("tamper_d_rewrite.copy"), t)

    # (e) two entries swapped (their seq exchanged)
    t = copy.deepcopy(entries)
    a, b = find(t, "app:risk-engine.v2", 3), find(t, "app:risk-engine.v2", 6)
    a["seq"], b["seq"] = 6, 3
    write_copy(p("tamper_e_swap.copy"), t)

    # more tampering: seq 1 deleted, a stream deleted, one link broken
    t = [e for e in entries if not (e["stream"] == "system" and e["seq"] == 1)]
    write_copy(p("tamper_first_deleted.copy"), t)
    t = [e for e in entries if e["stream"] != "account:42"]
    write_copy(p("tamper_stream_deleted.copy"), t)
    t = copy.deepcopy(entries)
    e12 = find(t, "account:1", 12)
    e12["prev_hash"] = sha256(b"elsewhere")
    e12["hash"] = entry_hash(e12["prev_hash"], e12)
    write_copy(p("tamper_link.copy"), t)

    # (f) bad signatures: a flipped bit, another key, a forged checkpoint
    bad = bytearray(signature)
    bad[10] ^= 0x01
    write(p("checkpoint_f_badsig.txt"), checkpoint_text(canonical, bytes(bad)))
    write(p("checkpoint_f_otherkey.txt"), checkpoint_text(canonical, sign(out, other_key, digest)))
    t = copy.deepcopy(entries)
    find(t, "system", 2)["payload"] = jsonb_text({"fingerprint": "ee:ee"})
    rechain(t, "system")
    write_copy(p("tamper_f_system_rewritten.copy"), t)
    forged = canonical_checkpoint(CP_ID, CP_CREATED, CP_PREV, t, COVERED)
    write(p("checkpoint_f_forged.txt"), checkpoint_text(forged, signature))

    # proofs
    proofs = {
        "proof_account1_seq1.json": ("account:1", 1, False),
        "proof_account1_seq2.json": ("account:1", 2, True),     # \u escapes, surrogate pair
        "proof_account1_seq7.json": ("account:1", 7, False),
        "proof_account1_seq10.json": ("account:1", 10, False),
        "proof_account42_seq1.json": ("account:42", 1, False),  # tree of one, empty path
        "proof_risk_seq5.json": ("app:risk-engine.v2", 5, False),
        "proof_system_seq5.json": ("system", 5, True),
    }
    for name, (stream, seq, ascii_only) in proofs.items():
        write_proof(p(name), make_proof(entries, stream, seq, canonical, signature),
                    ensure_ascii=ascii_only, indent=None if ascii_only else 2)
    good = make_proof(entries, "account:1", 2, canonical, signature)

    # (g) tampered proofs
    def bad_proof(name, change):
        q = copy.deepcopy(good)
        change(q)
        write_proof(p(name), q)

    bad_proof("proof_bad_payload.json",
              lambda q: q["entry"].update(payload=q["entry"]["payload"].replace("1.50", "9.50")))

    def rehash(q):
        q["entry"]["actor"] = "mallory"
        e = {"stream": q["entry"]["stream"], "seq": int(q["entry"]["seq"]),
             "us": find(entries, "account:1", 2)["us"], "actor": "mallory",
             "action": q["entry"]["action"], "payload": q["entry"]["payload"]}
        q["entry"]["hash"] = entry_hash(bytes.fromhex(q["entry"]["prev_hash"]), e).hex()
    bad_proof("proof_bad_rehashed.json", rehash)

    def flip_path(q):
        h = bytearray.fromhex(q["audit_path"][1])
        h[0] ^= 0x80
        q["audit_path"][1] = h.hex()
    bad_proof("proof_bad_path.json", flip_path)
    bad_proof("proof_bad_short_path.json", lambda q: q["audit_path"].pop())
    bad_proof("proof_bad_tree_size.json", lambda q: q.update(tree_size=11))
    bad_proof("proof_bad_leaf_index.json", lambda q: q.update(leaf_index=2))

    def flip_sig(q):
        s = bytearray.fromhex(q["checkpoint"]["signature"])
        s[63] ^= 0x04
        q["checkpoint"]["signature"] = s.hex()
    bad_proof("proof_bad_signature.json", flip_sig)
    bad_proof("proof_bad_stream.json", lambda q: q["entry"].update(stream="account:2"))

    # malformed inputs: exit status 2
    lines = open(p("ledger.copy"), encoding="utf-8").read().split("\n")
    first = lines[0]
    cols = first.split("\t")

    def malformed_copy(name, line):
        write(p(name), "\n".join([line] + lines[1:]))

    malformed_copy("malformed_columns.copy", "\t".join(cols[:7]))
    malformed_copy("malformed_extra_column.copy", first + "\textra")
    malformed_copy("malformed_hex.copy", "\t".join(cols[:7] + [cols[7][:-1] + "g"]))
    malformed_copy("malformed_short_hash.copy", "\t".join(cols[:7] + [cols[7][:-2]]))
    malformed_copy("malformed_bytea_escape.copy", "\t".join(cols[:7] + ["abc"]))
    malformed_copy("malformed_timestamp.copy", "\t".join(cols[:2] + ["2026-02-30 10:00:00+00"] + cols[3:]))
    malformed_copy("malformed_null.copy", "\t".join(cols[:3] + ["\\N"] + cols[4:]))
    malformed_copy("malformed_stream.copy", "\t".join(["Account:1"] + cols[1:]))
    malformed_copy("malformed_seq.copy", "\t".join(cols[:1] + ["01"] + cols[2:]))
    malformed_copy("malformed_backslash.copy", "\t".join(cols[:5] + [cols[5] + "\\"] + cols[6:]))
    write(p("malformed_duplicate.copy"), "\n".join(lines[:1] + lines))
    write(p("malformed_binary.copy"), b"\x00\xff\x01garbage\tin\tthe\tcopy\n", "wb")

    write(p("malformed_checkpoint_format.txt"),
          checkpoint_text(canonical, signature).replace("sigmax-checkpoint-v1", "sigmax-checkpoint-v2", 1))
    v2 = canonical.replace(b"20:sigmax-checkpoint-v1", b"20:sigmax-checkpoint-v2", 1)
    write(p("malformed_checkpoint_inner_format.txt"), checkpoint_text(v2, signature))
    write(p("malformed_checkpoint_uppercase.txt"),
          "sigmax-checkpoint-v1\ncanonical: %s\nsignature: %s\n" % (canonical.hex().upper(), signature.hex()))
    write(p("malformed_checkpoint_truncated.txt"), checkpoint_text(canonical[:-5], signature))
    write(p("malformed_checkpoint_nosig.txt"), "sigmax-checkpoint-v1\ncanonical: %s\n" % canonical.hex())

    text = json.dumps(good, indent=2)
    write(p("malformed_proof_truncated.json"), text[: len(text) // 2])
    write(p("malformed_proof_trailing_comma.json"), text[:-2] + ",\n}")
    write(p("malformed_proof_lone_surrogate.json"),
          text.replace('"actor": "', '"actor": "\\ud83d', 1))
    write(p("malformed_proof_duplicate_key.json"), text.replace('"leaf_index"', '"tree_size": 10, "leaf_index"', 1))
    write(p("malformed_proof_format.json"), text.replace("sigmax-proof-v1", "sigmax-proof-v2"))
    write(p("malformed_proof_deep.json"), "[" * 100000 + "]" * 100000)
    write(p("malformed_proof_not_object.json"), "[1, 2, 3]")
    write(p("malformed_proof_leading_zero.json"), text.replace('"leaf_index": 1', '"leaf_index": 01', 1))
    write(p("malformed_proof_bad_utf8.json"), text.encode("utf-8").replace(b"order.accepted", b"order.acc\xc3\x28epted", 1), "wb")
    write(p("malformed_proof_control_char.json"), text.replace('"actor": "', '"actor": "\x01', 1))
    write(p("malformed_proof_hash_hex.json"), text.replace(good["entry"]["hash"], good["entry"]["hash"].upper(), 1))

    worked_example(entries, canonical, digest, signature)


def worked_example(entries, canonical, digest, signature):
    e = find(entries, "account:1", 1)
    c = canonical_entry(e)
    print("Worked example (docs/ledger-format.md), generated by tools/test/make_vectors.py")
    print()
    print("Entry account:1 seq 1, as its COPY line:")
    print("  " + repr(copy_line(e, offset=e["offset"])))
    print("recorded_at converted to UTC: " + canonical_ts(e["us"]))
    print("canonical(entry) = " + repr(c))
    print("prev_hash        = " + e["prev_hash"].hex() + "  (seq 1: 32 zero bytes)")
    print("hash = SHA-256(prev_hash || canonical) = " + entry_hash(e["prev_hash"], e).hex())
    print()
    hashes = stream_hashes(entries, "system", 5)
    print("Merkle root of system seq 1..5 (RFC 6962; k = 4):")
    print("  node(node(node(leaf(h1), leaf(h2)), node(leaf(h3), leaf(h4))), leaf(h5))")
    print("  = " + mth(hashes).hex())
    print()
    print("canonical(checkpoint 7) = " + repr(canonical[:120]) + "...")
    print("digest    = SHA-256(canonical) = " + digest.hex())
    print("signature = Ed25519(key.pem, digest) = " + signature.hex())


if __name__ == "__main__":
    main()
