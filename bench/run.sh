#!/usr/bin/env bash
# sigmax bench/run.sh [NAME...]: the benchmark driver.
# Sets up what is missing (as scripts/test.sh does), starts ONE throwaway
# cluster with benchmark settings, creates database sigmax with the extension,
# then runs bench/NAME.sh for each NAME given (default: every bench/*.sh but
# run.sh and the lib files), each in its own shell with the cluster's
# environment. Prints the machine's facts first; exits non-zero if a bench
# failed. The cluster and everything it wrote are removed on exit.
#
#   bash bench/run.sh                        # every bench
#   SIGMAX_SKIP_BUILD=1 bash bench/run.sh ledger
#   BENCH_DURATION=30 bash bench/run.sh ledger
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
# shellcheck source=bench/lib.sh
source "$SIGMAX_ROOT/bench/lib.sh"

# Which benches: the names given, or every bench/*.sh that is not the driver or a lib file.
is_bench_name() {
	case $1 in
	run | lib | lib[-_]*) return 1 ;;
	esac
	[ -f "$BENCH_DIR/$1.sh" ]
}

names=()
if [ $# -gt 0 ]; then
	for name in "$@"; do
		name=${name%.sh}
		name=${name##*/}
		is_bench_name "$name" || die "no benchmark named $name (looked for bench/$name.sh)"
		names+=("$name")
	done
else
	for file in "$BENCH_DIR"/*.sh; do
		name=$(basename "$file" .sh)
		if is_bench_name "$name"; then
			names+=("$name")
		fi
	done
fi
[ ${#names[@]} -gt 0 ] || die "no benchmarks found in $BENCH_DIR"

ensure_packages
build_and_install

# Benchmark settings, appended after lib.sh's own lines (the last one wins):
# durable commits (fsync on; synchronous_commit is chosen per pgbench session),
# enough memory and WAL that no checkpoint falls inside a measurement.
BENCH_CONF="# sigmax bench/run.sh
fsync = on
shared_buffers = 512MB
max_wal_size = 4GB
checkpoint_timeout = 30min
max_connections = 100"
SIGMAX_EXTRA_CONF="$BENCH_CONF${SIGMAX_EXTRA_CONF:+
$SIGMAX_EXTRA_CONF}"

start_cluster

bench_psql -d postgres -c 'CREATE DATABASE sigmax' ||
	die "could not create database sigmax"
bench_psql -d sigmax -c 'CREATE EXTENSION sigmax' ||
	die "could not create the sigmax extension"

export PGDATABASE=sigmax
export BENCH_TMP=$SIGMAX_WORK/bench
export BENCH_SERVER_LOG=$SIGMAX_WORK/server.log
mkdir -p "$BENCH_TMP"

echo
bench_header
bench_check_idle
echo

failed=()
passed=()
for name in "${names[@]}"; do
	say "bench: $name"
	[ "$name" = "${names[0]}" ] || bench_check_idle
	start=$(bench_now)
	if bash "$BENCH_DIR/$name.sh"; then
		passed+=("$name")
	else
		failed+=("$name")
		echo "sigmax: bench $name FAILED; the server log ends with:" >&2
		tail -n 15 "$SIGMAX_WORK/server.log" >&2 || true
	fi
	echo "($name took $(awk -v a="$start" -v b="$(bench_now)" 'BEGIN { printf "%.0f", b - a }') s)"
	echo
done

echo "benches passed: ${passed[*]:-none}"
[ ${#failed[@]} -eq 0 ] || echo "benches FAILED: ${failed[*]}"
[ ${#failed[@]} -eq 0 ]
