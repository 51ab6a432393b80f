#!/usr/bin/env bash
# sigmax scripts/test.sh: set up what is missing, then run every test on a throwaway cluster.
# pg_regress suites, pgTAP suites (pg_prove), the mock exchange's self-test and the
# integration tests (prove); exits non-zero if any of them fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages
build_and_install
# The suites here add venues with public URLs: the poller stays off on this cluster
# (its own tests start clusters of their own against the loopback mock exchange).
SIGMAX_EXTRA_CONF="sigmax.worker_enabled = off
${SIGMAX_EXTRA_CONF:-}" start_cluster

failed=()
passed=()

# Record the outcome of one suite without stopping the others.
run_suite() {
	local name=$1
	shift
	# SIGMAX_SUITES="a b" runs only those suites (scripts/sanitize.sh uses it).
	if [ -n "${SIGMAX_SUITES:-}" ] && [[ " $SIGMAX_SUITES " != *" $name "* ]]; then
		return 0
	fi
	say "suite: $name"
	if "$@"; then
		passed+=("$name")
	else
		failed+=("$name")
		echo "sigmax: suite $name FAILED" >&2
	fi
}

# pg_regress, in its own database (not sigmax.database, where the worker runs).
regress() {
	rm -rf "$SIGMAX_ROOT/results" "$SIGMAX_ROOT/regression.diffs" "$SIGMAX_ROOT/regression.out"
	if ! make -C "$SIGMAX_ROOT" -s PG_CONFIG="$PG_CONFIG" installcheck; then
		[ -f "$SIGMAX_ROOT/regression.diffs" ] && cat "$SIGMAX_ROOT/regression.diffs"
		return 1
	fi
}

# pgTAP: each file creates the extension inside a transaction it rolls back.
pgtap() {
	psql -q -v ON_ERROR_STOP=1 -c 'CREATE DATABASE sigmax_pgtap' >/dev/null &&
		psql -q -v ON_ERROR_STOP=1 -d sigmax_pgtap -c 'CREATE EXTENSION pgtap' >/dev/null &&
		pg_prove -d sigmax_pgtap --ext .sql "$SIGMAX_ROOT"/test/pgtap/
}

# The mock exchange's own tests (stdlib only, loopback only).
mock_selftest() {
	/usr/bin/python3 "$SIGMAX_ROOT/test/mock_exchange/selftest.py"
}

# The standalone verifier against vectors made independently of it.
verifier_selftest() {
	bash "$SIGMAX_ROOT/tools/test/run.sh"
}

# Every C path in a single-user backend under valgrind memcheck, then a whole server
# under valgrind with the poller running 1,000 cycles against the mock exchange.
valgrind_suite() {
	SIGMAX_SKIP_BUILD=1 bash "$SIGMAX_ROOT/scripts/valgrind.sh" &&
		SIGMAX_SKIP_BUILD=1 bash "$SIGMAX_ROOT/scripts/valgrind_worker.sh"
}

# Integration tests: Perl TAP with PostgreSQL::Test::Cluster, which starts its
# own clusters and so runs as the postgres user from a copy it can read.
integration() {
	local itest=$SIGMAX_WORK/itest pgxs
	pgxs=$(dirname "$(dirname "$($PG_CONFIG --pgxs)")")
	mkdir -p "$itest"
	cp -r "$SIGMAX_ROOT/test" "$SIGMAX_ROOT/scripts" "$SIGMAX_ROOT/tools" "$itest/"
	[ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$itest"
	(cd "$itest" && as_pg env \
		PATH="$PG_BINDIR:$PATH" TESTDIR="$itest" PG_REGRESS="$pgxs/test/regress/pg_regress" \
		SIGMAX_PGHOST="$PGHOST" SIGMAX_PGPORT="$PGPORT" SIGMAX_TEST_ROOT="$itest" \
		prove -I "$pgxs/test/perl" -I "$itest/test/integration" test/integration/t/*.pl)
}

run_suite pg_regress regress
run_suite pgtap pgtap
run_suite mock_exchange mock_selftest
run_suite sigmax_verify verifier_selftest
run_suite integration integration
run_suite valgrind valgrind_suite

echo
echo "suites passed: ${passed[*]:-none}"
[ ${#failed[@]} -eq 0 ] || echo "suites FAILED: ${failed[*]}"
echo "sigmax: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
