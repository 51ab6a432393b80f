#!/usr/bin/env bash
# run.sh: builds tools/sigmax-verify into a temporary directory and checks it
# on the vectors of make_vectors.py; the last line is "N passed, M failed".
#
# Usage: bash tools/test/run.sh        (CC overrides the compiler)
# Needs: a C compiler, libssl-dev, python3, openssl; valgrind and a compiler
# with -fsanitize=address are used when present.

set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$here/../sigmax-verify.c
cc=${CC:-cc}
work=$(mktemp -d "${TMPDIR:-/tmp}/sigmax-verify-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
bin=$work/sigmax-verify
v=$work/vectors
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok   - $1"; }

fail()
{
	local name=$1 line
	shift
	failed=$((failed + 1))
	echo "FAIL - $name"
	for line in "$@"; do
		printf '       %s\n' "$line"
	done
}

summary()
{
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# run ARGS...: run the tool, stdin from $stdin_file if set; sets rc, out, err.
# "@ledger CHECKPOINT FILE" stands for a ledger check of vector files with pub.pem.
run()
{
	if [ "${1:-}" = "@ledger" ]; then
		set -- ledger --public-key "$v/pub.pem" --checkpoint "$v/$2" "$v/$3"
	fi
	if [ -n "${stdin_file:-}" ]; then
		"$bin" "$@" <"$stdin_file" >"$work/out" 2>"$work/err"
	else
		"$bin" "$@" </dev/null >"$work/out" 2>"$work/err"
	fi
	rc=$?
	out=$(cat "$work/out")
	err=$(cat "$work/err")
}

# expect NAME RC STDOUT ARGS...: exit status and the whole stdout must match.
expect()
{
	local name=$1 want_rc=$2 want_out=$3
	shift 3
	run "$@"
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "exit status $rc, expected $want_rc" "stdout: $out" "stderr: $err"
	elif [ "$out" != "$want_out" ]; then
		fail "$name" "stdout differs; expected:" "$want_out" "got:" "$out"
	else
		pass "$name"
	fi
}

# expect_match NAME RC PATTERN ARGS...: exit status, and stdout contains PATTERN.
expect_match()
{
	local name=$1 want_rc=$2 pattern=$3
	shift 3
	run "$@"
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "exit status $rc, expected $want_rc" "stdout: $out" "stderr: $err"
	elif ! grep -qF -- "$pattern" "$work/out"; then
		fail "$name" "stdout lacks \"$pattern\"" "stdout: $out"
	else
		pass "$name"
	fi
}

# expect_error NAME PATTERN ARGS...: exit status 2, nothing on stdout, PATTERN on stderr.
expect_error()
{
	local name=$1 pattern=$2
	shift 2
	run "$@"
	if [ "$rc" -ne 2 ]; then
		fail "$name" "exit status $rc, expected 2" "stdout: $out" "stderr: $err"
	elif [ -n "$out" ]; then
		fail "$name" "unexpected stdout: $out"
	elif ! grep -qF -- "$pattern" "$work/err"; then
		fail "$name" "stderr lacks \"$pattern\"" "stderr: $err"
	else
		pass "$name"
	fi
}

T=$'\t'

# ---------------------------------------------------------------------------
# Build and vectors
# ---------------------------------------------------------------------------

if "$cc" -std=c11 -O2 -Wall -Wextra -Werror -o "$bin" "$src" -lcrypto 2>"$work/cc.log"; then
	pass "build: $cc -std=c11 -O2 -Wall -Wextra -Werror, no warnings"
else
	fail "build" "$(cat "$work/cc.log")"
	summary
fi

if python3 "$here/make_vectors.py" "$v" >"$work/example.txt" 2>"$work/mv.log"; then
	pass "make_vectors.py"
else
	fail "make_vectors.py" "$(cat "$work/mv.log")"
	summary
fi

# ---------------------------------------------------------------------------
# Intact ledgers
# ---------------------------------------------------------------------------

intact="intact: 5 streams, 29 entries, checkpoint 7"
expect "intact ledger (rows shuffled)" 0 "$intact" @ledger checkpoint.txt ledger.copy
expect "intact: octal, hex and redundant COPY escapes, upper-case bytea" 0 "$intact" \
	@ledger checkpoint.txt intact_escapes.copy
expect "intact: recorded_at at offsets -12 to +14, with minutes and seconds" 0 "$intact" \
	@ledger checkpoint.txt intact_offsets.copy
expect "intact: CRLF lines and end marker \\., CRLF checkpoint" 0 "$intact" \
	@ledger checkpoint_crlf.txt intact_crlf.copy
expect "intact: --opt=value form" 0 "$intact" \
	ledger --public-key="$v/pub.pem" --checkpoint="$v/checkpoint.txt" "$v/ledger.copy"
stdin_file=$v/ledger.copy expect "intact: ledger on stdin (-)" 0 "$intact" \
	ledger --public-key "$v/pub.pem" --checkpoint "$v/checkpoint.txt" -
stdin_file=$v/ledger.copy expect "intact: ledger on stdin (no file)" 0 "$intact" \
	ledger --public-key "$v/pub.pem" --checkpoint "$v/checkpoint.txt"

run ledger "$v/ledger.copy"
if [ "$rc" -eq 0 ] && [ "$out" = "intact: 5 streams, 29 entries, no checkpoint" ] &&
	grep -q "only the hash chains were checked" "$work/err"; then
	pass "no --checkpoint: chains only, said on stderr"
else
	fail "no --checkpoint" "exit $rc" "stdout: $out" "stderr: $err"
fi

# ---------------------------------------------------------------------------
# Tampered ledgers
# ---------------------------------------------------------------------------

expect "(a) payload changed" 1 "system${T}3${T}hash mismatch" \
	@ledger checkpoint.txt tamper_a_payload.copy
expect "(b) middle entry deleted" 1 \
"account:1${T}7${T}gap
account:1${T}10${T}checkpoint: merkle root mismatch" \
	@ledger checkpoint.txt tamper_b_delete_middle.copy
expect "(c) tail deleted after the checkpoint" 1 "account:1${T}10${T}checkpoint: missing entries" \
	@ledger checkpoint.txt tamper_c_delete_tail.copy
expect "(d) chain rewritten after the checkpoint" 1 \
"account:1${T}10${T}checkpoint: head mismatch
account:1${T}10${T}checkpoint: merkle root mismatch" \
	@ledger checkpoint.txt tamper_d_rewrite.copy
expect "(e) two entries swapped" 1 \
"app:risk-engine.v2${T}3${T}hash mismatch
app:risk-engine.v2${T}3${T}broken link
app:risk-engine.v2${T}4${T}broken link
app:risk-engine.v2${T}6${T}hash mismatch
app:risk-engine.v2${T}6${T}broken link
app:risk-engine.v2${T}7${T}broken link
app:risk-engine.v2${T}8${T}checkpoint: merkle root mismatch" \
	@ledger checkpoint.txt tamper_e_swap.copy
expect "seq 1 deleted" 1 \
"system${T}2${T}gap
system${T}5${T}checkpoint: merkle root mismatch" \
	@ledger checkpoint.txt tamper_first_deleted.copy
expect "stream deleted" 1 "account:42${T}1${T}checkpoint: stream missing" \
	@ledger checkpoint.txt tamper_stream_deleted.copy
expect "prev_hash changed, hash recomputed (after the checkpoint)" 1 \
"account:1${T}12${T}broken link
account:1${T}13${T}broken link" \
	@ledger checkpoint.txt tamper_link.copy
expect "tampered chain, no --checkpoint" 1 "system${T}3${T}hash mismatch" \
	ledger "$v/tamper_a_payload.copy"

# ---------------------------------------------------------------------------
# (f) Bad signatures
# ---------------------------------------------------------------------------

expect "(f) signature with a flipped bit" 1 "-${T}-${T}checkpoint: bad signature" \
	@ledger checkpoint_f_badsig.txt ledger.copy
expect "(f) signed with another key" 1 "-${T}-${T}checkpoint: bad signature" \
	@ledger checkpoint_f_otherkey.txt ledger.copy
expect "(f) checked with another public key" 1 "-${T}-${T}checkpoint: bad signature" \
	ledger --public-key "$v/other_pub.pem" --checkpoint "$v/checkpoint.txt" "$v/ledger.copy"
expect "(f) forged checkpoint matching a rewritten chain" 1 "-${T}-${T}checkpoint: bad signature" \
	@ledger checkpoint_f_forged.txt tamper_f_system_rewritten.copy
expect "(f) the same rewritten chain against the genuine checkpoint" 1 \
"system${T}5${T}checkpoint: head mismatch
system${T}5${T}checkpoint: merkle root mismatch" \
	@ledger checkpoint.txt tamper_f_system_rewritten.copy

# ---------------------------------------------------------------------------
# Proofs
# ---------------------------------------------------------------------------

for p in account1_seq1:account:1:1 account1_seq2:account:1:2 account1_seq7:account:1:7 \
	account1_seq10:account:1:10 account42_seq1:account:42:1 \
	risk_seq5:app:risk-engine.v2:5 system_seq5:system:5; do
	file=${p%%:*}
	rest=${p#*:}
	stream=${rest%:*}
	seq=${rest##*:}
	expect "proof $stream seq $seq" 0 "proof ok: $stream seq $seq in checkpoint 7" \
		proof --public-key "$v/pub.pem" "$v/proof_$file.json"
done
stdin_file=$v/proof_account1_seq7.json expect "proof on stdin" 0 \
	"proof ok: account:1 seq 7 in checkpoint 7" proof --public-key "$v/pub.pem" -

expect "(g) proof: payload changed" 1 \
	"proof failed: hash mismatch: entry.hash is not SHA-256 of prev_hash and the entry's fields" \
	proof --public-key "$v/pub.pem" "$v/proof_bad_payload.json"
expect "(g) proof: actor changed, entry hash recomputed" 1 \
	"proof failed: merkle root mismatch: the audit path does not lead to checkpoint 7's root for stream account:1" \
	proof --public-key "$v/pub.pem" "$v/proof_bad_rehashed.json"
expect_match "(g) proof: audit path hash changed" 1 "merkle root mismatch" \
	proof --public-key "$v/pub.pem" "$v/proof_bad_path.json"
expect_match "(g) proof: audit path shortened" 1 "audit_path has 3 hashes, the wrong number" \
	proof --public-key "$v/pub.pem" "$v/proof_bad_short_path.json"
expect_match "(g) proof: tree_size changed" 1 "lists stream account:1 at seq 10, not at tree_size 11" \
	proof --public-key "$v/pub.pem" "$v/proof_bad_tree_size.json"
expect_match "(g) proof: leaf_index changed" 1 "leaf_index 2 is not entry.seq - 1" \
	proof --public-key "$v/pub.pem" "$v/proof_bad_leaf_index.json"
expect_match "(g) proof: stream renamed" 1 "does not list stream account:2" \
	proof --public-key "$v/pub.pem" "$v/proof_bad_stream.json"
expect "(g) proof: checkpoint signature changed" 1 \
	"proof failed: bad signature: checkpoint 7's signature does not verify with the public key" \
	proof --public-key "$v/pub.pem" "$v/proof_bad_signature.json"
expect_match "(g) proof: another public key" 1 "bad signature" \
	proof --public-key "$v/other_pub.pem" "$v/proof_account1_seq1.json"

# ---------------------------------------------------------------------------
# Malformed input and usage errors: exit status 2
# ---------------------------------------------------------------------------

for c in "columns:found 7" "extra_column:found 9" "hex:not 32 bytes of hex" \
	"short_hash:not 32 bytes of hex" "bytea_escape:bytea in hex form" \
	"timestamp:is not a timestamp" "null:column actor is NULL" \
	"stream:invalid stream name" "seq:not a positive integer" \
	"backslash:lone backslash" "duplicate:twice" "binary:NUL byte"; do
	expect_error "malformed ledger: ${c%%:*}" "${c#*:}" \
		@ledger checkpoint.txt "malformed_${c%%:*}.copy"
done
for c in "format:unknown format \"sigmax-checkpoint-v2\"" \
	"inner_format:unknown checkpoint format \"sigmax-checkpoint-v2\"" \
	"uppercase:not lowercase hex" "truncated:malformed" "nosig:signature: <hex>"; do
	expect_error "malformed checkpoint: ${c%%:*}" "${c#*:}" \
		@ledger "malformed_checkpoint_${c%%:*}.txt" ledger.copy
done
for c in "truncated:unterminated string" "trailing_comma:malformed JSON" \
	"lone_surrogate:unpaired high surrogate" "duplicate_key:appears twice" \
	"format:unknown proof format" "deep:nested too deeply" "not_object:not a JSON object" \
	"leading_zero:malformed JSON" "bad_utf8:not valid UTF-8" \
	"control_char:control character" "hash_hex:lowercase hex"; do
	expect_error "malformed proof: ${c%%:*}" "${c#*:}" \
		proof --public-key "$v/pub.pem" "$v/malformed_proof_${c%%:*}.json"
done

expect_error "usage: no command" "no command"
expect_error "usage: unknown command" "unknown command" verify "$v/ledger.copy"
expect_error "usage: unknown option" "unknown option" ledger --frobnicate "$v/ledger.copy"
expect_error "usage: --checkpoint without --public-key" "needs --public-key" \
	ledger --checkpoint "$v/checkpoint.txt" "$v/ledger.copy"
expect_error "usage: proof without --public-key" "needs --public-key" proof "$v/proof_account1_seq1.json"
expect_error "usage: two input files" "more than one input" ledger "$v/ledger.copy" "$v/ledger.copy"
expect_error "usage: option given twice" "given twice" \
	ledger --public-key "$v/pub.pem" --public-key "$v/pub.pem" "$v/ledger.copy"
expect_error "missing ledger file" "could not open" ledger "$v/no-such-file.copy"
expect_error "missing key file" "could not open public key" \
	ledger --public-key "$v/nope.pem" --checkpoint "$v/checkpoint.txt" "$v/ledger.copy"
expect_error "private key instead of public" "PEM public key" \
	ledger --public-key "$v/key.pem" --checkpoint "$v/checkpoint.txt" "$v/ledger.copy"
expect_error "ledger file as public key" "PEM public key" \
	ledger --public-key "$v/ledger.copy" --checkpoint "$v/checkpoint.txt" "$v/ledger.copy"
run --help
if [ "$rc" -eq 0 ] && grep -q "^Usage:" "$work/out"; then
	pass "--help"
else
	fail "--help" "exit $rc" "$out"
fi

# ---------------------------------------------------------------------------
# Memory: valgrind on a few cases, when installed
# ---------------------------------------------------------------------------

# vg NAME ARGS...: no invalid access and no leak under valgrind.
vg()
{
	local name=$1
	shift
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
		"$bin" "$@" >/dev/null 2>"$work/vg"
	if [ $? -eq 99 ]; then
		fail "valgrind: $name" "$(cat "$work/vg")"
	else
		pass "valgrind: $name (no memory errors or leaks)"
	fi
}

if command -v valgrind >/dev/null 2>&1; then
	vg "swapped ledger" ledger --public-key "$v/pub.pem" --checkpoint "$v/checkpoint.txt" \
		"$v/tamper_e_swap.copy"
	vg "escaped ledger" ledger --public-key "$v/pub.pem" --checkpoint "$v/checkpoint.txt" \
		"$v/intact_escapes.copy"
	vg "proof" proof --public-key "$v/pub.pem" "$v/proof_account1_seq2.json"
	vg "malformed proof" proof --public-key "$v/pub.pem" "$v/malformed_proof_lone_surrogate.json"
	vg "malformed checkpoint" ledger --public-key "$v/pub.pem" \
		--checkpoint "$v/malformed_checkpoint_truncated.txt" "$v/ledger.copy"
	vg "malformed ledger" ledger "$v/malformed_duplicate.copy"
else
	echo "skip - valgrind not installed"
fi

# ---------------------------------------------------------------------------
# Fuzz: mutated inputs must give exit status 0, 1 or 2, never a crash;
# with a sanitizer build when the compiler has one.
# ---------------------------------------------------------------------------

fuzzbin=$bin
if "$cc" -std=c11 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-o "$work/sigmax-verify-asan" "$src" -lcrypto 2>/dev/null &&
	"$work/sigmax-verify-asan" --help >/dev/null 2>&1; then
	fuzzbin=$work/sigmax-verify-asan
fi
mkdir -p "$work/fuzz"
python3 - "$v" "$work/fuzz" <<'EOF'
import os, random, sys
src, dst = sys.argv[1], sys.argv[2]
rng = random.Random(1234)
seeds = {"copy": ["ledger.copy", "intact_escapes.copy"],
         "txt": ["checkpoint.txt"],
         "json": ["proof_account1_seq2.json", "proof_account1_seq7.json"]}
tokens = [b"\\", b"\t", b"\n", b"\\x", b"\\N", b"\\.", b"\\777", b"\"", b"\\u", b"\\ud800",
          b"{", b"}", b"[", b"]", b",", b":", b"0", b"-", b"+99:99", b"\x00", b"\xff", b"9" * 30]
n = 0
for kind, names in seeds.items():
    for name in names:
        data = open(os.path.join(src, name), "rb").read()
        for i in range(100):
            b = bytearray(data)
            for _ in range(rng.randint(1, 8)):
                op = rng.random()
                pos = rng.randrange(len(b) + 1)
                if op < 0.3 and b:
                    b[min(pos, len(b) - 1)] = rng.randrange(256)
                elif op < 0.5:
                    del b[pos:pos + rng.randint(1, 64)]
                elif op < 0.8:
                    b[pos:pos] = rng.choice(tokens)
                else:
                    j = rng.randrange(len(b) + 1)
                    b[pos:pos] = b[j:j + rng.randint(1, 200)]
            with open(os.path.join(dst, "%s_%03d_%d.%s" % (kind, n, i, kind)), "wb") as f:
                f.write(bytes(b))
        n += 1
EOF
fuzz_bad=()
fuzz_count=0
for f in "$work"/fuzz/*; do
	fuzz_count=$((fuzz_count + 1))
	case $f in
		*.copy) args=(ledger --public-key "$v/pub.pem" --checkpoint "$v/checkpoint.txt" "$f") ;;
		*.txt) args=(ledger --public-key "$v/pub.pem" --checkpoint "$f" "$v/ledger.copy") ;;
		*.json) args=(proof --public-key "$v/pub.pem" "$f") ;;
	esac
	ASAN_OPTIONS=detect_leaks=1 "$fuzzbin" "${args[@]}" >/dev/null 2>"$work/fz"
	frc=$?
	if [ "$frc" -gt 2 ] || grep -qE "Sanitizer|runtime error" "$work/fz"; then
		fuzz_bad+=("$(basename "$f"): exit $frc $(head -c 300 "$work/fz")")
	fi
done
if [ "${#fuzz_bad[@]}" -eq 0 ]; then
	pass "fuzz: $fuzz_count mutated inputs, $(basename "$fuzzbin"), all exit 0, 1 or 2"
else
	fail "fuzz: ${#fuzz_bad[@]} of $fuzz_count mutated inputs crashed" "${fuzz_bad[@]}"
fi

summary
