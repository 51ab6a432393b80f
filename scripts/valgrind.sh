#!/usr/bin/env bash
# sigmax scripts/valgrind.sh: run every C path of sigmax (test/valgrind/workload.sql) in a
# single-user backend under valgrind memcheck; any invalid read or write, or use of
# uninitialised memory, fails the run. (AddressSanitizer preloaded into Debian's
# PostgreSQL deadlocks at startup on this platform, so memcheck it is.)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages
build_and_install
command -v valgrind >/dev/null || die "valgrind is missing"

work=$(mktemp -d /tmp/sigmax-valgrind.XXXXXX)
chmod 755 "$work"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$work"
trap 'cp "$work/output.txt" /tmp/sigmax-valgrind-output.txt 2>/dev/null; rm -rf "$work"' EXIT
as_pg "$PG_BINDIR/initdb" -D "$work/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null 2>&1 ||
	die "initdb failed"
as_pg openssl genpkey -algorithm ed25519 -out "$work/key.pem" 2>/dev/null
as_pg chmod 600 "$work/key.pem"
# Vault on a loopback port where nothing listens: the secrets code runs its libcurl path to the refusal
echo "valgrind-token" | as_pg tee "$work/vault-token" >/dev/null
as_pg chmod 600 "$work/vault-token"
cp "$SIGMAX_ROOT/test/valgrind/workload.sql" "$SIGMAX_ROOT/test/valgrind/postgres.supp" "$work/"
chmod 644 "$work/workload.sql" "$work/postgres.supp"

say "running test/valgrind/workload.sql in a single-user backend under valgrind (a few minutes)"
# The single-user backend reads statements ending in ";" and a blank line (-j).
rc=0
as_pg valgrind --tool=memcheck --error-exitcode=42 --leak-check=no --track-origins=yes \
	--read-var-info=no --num-callers=30 --suppressions="$work/postgres.supp" --log-file="$work/valgrind.log" \
	"$PG_BINDIR/postgres" --single -j -D "$work/data" \
	-c shared_preload_libraries=sigmax -c sigmax.checkpoint_key_file="$work/key.pem" \
	-c sigmax.vault_addr=http://127.0.0.1:9 -c sigmax.vault_token_file="$work/vault-token" \
	-c max_stack_depth=7MB postgres <"$work/workload.sql" >"$work/output.txt" 2>&1 || rc=$?
errors=$(awk '/ERROR SUMMARY:/ { print $4 }' "$work/valgrind.log" | tail -n 1)
# Exactly seven statements of the workload must fail: a row its CHECK refuses, and at the
# end an internal statement under another search_path, refused payloads, malformed orders
# and a malformed API token.
expected_errors=7
got_errors=$(grep -c 'ERROR:' "$work/output.txt" || true)
if [ "$rc" -ne 0 ] || [ "${errors:-1}" != 0 ]; then
	cat "$work/valgrind.log" >&2
	tail -n 30 "$work/output.txt" >&2
	die "valgrind found ${errors:-?} errors (exit $rc)"
fi
if [ "$got_errors" != "$expected_errors" ]; then
	grep -B2 'ERROR:' "$work/output.txt" >&2
	die "the workload had $got_errors failing statements; $expected_errors were expected"
fi
say "valgrind: 0 errors"
