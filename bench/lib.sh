# sigmax bench/lib.sh: shared shell functions for the benchmarks.
# Sourced by bench/run.sh and by every bench/NAME.sh; never run on its own.
# The benches run against the throwaway cluster bench/run.sh starts: they use
# PGHOST, PGPORT, PGUSER and PGDATABASE from the environment and write scratch
# files under BENCH_TMP (inside the cluster's directory, removed on exit).

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# pgbench protocol: prepared (parse and plan once per client, as an application
# with prepared statements does), simple or extended.
BENCH_PGBENCH_MODE=${BENCH_PGBENCH_MODE:-prepared}

# die and say come from scripts/lib.sh in bench/run.sh; a bench run alone gets these.
if ! declare -F die >/dev/null; then
	die() {
		echo "sigmax bench: $*" >&2
		exit 1
	}
fi
if ! declare -F say >/dev/null; then
	say() {
		echo "==> $*"
	}
fi

# Stop unless started by bench/run.sh (or an environment that looks like it).
bench_require_cluster() {
	[ -n "${PGHOST:-}" ] && [ -n "${PGPORT:-}" ] && [ -n "${BENCH_TMP:-}" ] ||
		die "run the benchmarks through bench/run.sh, which starts their cluster: bash bench/run.sh $(basename "$0" .sh)"
	mkdir -p "$BENCH_TMP"
	command -v pgbench >/dev/null || die "pgbench not found (PostgreSQL 15's bin directory should be on PATH)"
	bench_psql -c 'SELECT 1' >/dev/null || die "cannot connect to the benchmark cluster"
}

# psql without psqlrc, unaligned, tuples only, stopping at the first error.
bench_psql() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

# Seconds since the epoch with nanoseconds, for wall-clock timing.
bench_now() {
	date +%s.%N
}

# Milliseconds between two bench_now readings.
bench_elapsed_ms() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) * 1000 }'
}

# Run one SQL statement (in database $2, default PGDATABASE) with psql's \timing;
# print "<milliseconds><TAB><first result row>" (columns joined by |).
bench_timed_sql() {
	local sql=$1 db=${2:-$PGDATABASE} out ms row
	out=$(bench_psql -d "$db" -c '\timing on' -c "$sql") || {
		echo "$out" >&2
		return 1
	}
	ms=$(printf '%s\n' "$out" | awk '/^Time: / { t = $2 } END { print t }')
	row=$(printf '%s\n' "$out" | grep -v '^Time: ' | grep -v '^Timing is on' | head -n 1 || true)
	[ -n "$ms" ] || die "no timing in psql output for: $sql"
	printf '%s\t%s\n' "$ms" "$row"
}

# bench_pgbench SECONDS CLIENTS SCRIPT [pgbench options...]: run a pgbench
# script (no vacuum, BENCH_PGBENCH_MODE protocol, one thread per core at most)
# for SECONDS with CLIENTS clients and print its tps, without the initial
# connection time. The session settings come from PGOPTIONS; the full pgbench
# output stays in BENCH_TMP and is shown when the run fails.
bench_pgbench() {
	local seconds=$1 clients=$2 script=$3
	shift 3
	bench_pgbench_run -T "$seconds" -c "$clients" -f "$script" "$@"
}

# bench_pgbench_txns TRANSACTIONS_PER_CLIENT CLIENTS SCRIPT [options...]: same, for a fixed amount of work.
bench_pgbench_txns() {
	local txns=$1 clients=$2 script=$3
	shift 3
	bench_pgbench_run -t "$txns" -c "$clients" -f "$script" "$@"
}

BENCH_PGBENCH_RUNS=0

# Busy CPU time of the whole machine so far, in clock ticks: user, nice, system,
# irq and softirq of /proc/stat's "cpu" line (idle, iowait and steal excluded).
bench_busy_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}

bench_pgbench_run() {
	local clients=1 threads log tps arg prev= t0 t1 txns client_s
	local TIMEFORMAT='%3U %3S'
	for arg in "$@"; do
		if [ "$prev" = "-c" ]; then
			clients=$arg
		fi
		prev=$arg
	done
	threads=$(nproc)
	if [ "$clients" -lt "$threads" ]; then
		threads=$clients
	fi
	BENCH_PGBENCH_RUNS=$((BENCH_PGBENCH_RUNS + 1))
	log=$BENCH_TMP/pgbench.$$.$BENCH_PGBENCH_RUNS.log
	t0=$(bench_busy_ticks)
	if ! { time pgbench -n -M "$BENCH_PGBENCH_MODE" -j "$threads" "$@" >"$log" 2>&1; } 2>"$log.time"; then
		echo "sigmax bench: pgbench $* failed (PGOPTIONS=${PGOPTIONS:-}):" >&2
		tail -n 30 "$log" >&2
		return 1
	fi
	t1=$(bench_busy_ticks)
	if grep -q '^number of failed transactions: [1-9]' "$log"; then
		echo "sigmax bench: pgbench $* had failed transactions:" >&2
		cat "$log" >&2
		return 1
	fi
	tps=$(awk '/^tps = .*without initial connection time/ { print $3 }' "$log")
	[ -n "$tps" ] || {
		cat "$log" >&2
		die "no tps in pgbench output"
	}
	# Server CPU per transaction: the machine's busy time during the run minus
	# pgbench's own, over the transactions. It counts every process of the
	# server (backends, walwriter, ...) and, on a shared machine, anything else
	# that ran meanwhile; unlike tps it does not depend on round-trip latency.
	txns=$(awk -F': ' '/^number of transactions actually processed:/ { split($2, a, "/"); print a[1] }' "$log")
	client_s=$(awk '{ print $1 + $2 }' "$log.time")
	BENCH_LAST_CPU_US=$(awk -v t0="$t0" -v t1="$t1" -v hz="$(getconf CLK_TCK)" -v c="$client_s" -v n="$txns" \
		'BEGIN { if (n + 0 == 0) print "n/a"; else { v = ((t1 - t0) / hz - c) * 1e6 / n; printf "%.1f\n", (v < 0 ? 0 : v) } }')
	printf 'tps=%s\ntxns=%s\nserver_cpu_us=%s\n' "$tps" "$txns" "$BENCH_LAST_CPU_US" >"$BENCH_TMP/pgbench.last"
	printf '%.0f\n' "$tps"
}

# bench_last KEY: a figure of the latest bench_pgbench run (tps, txns or
# server_cpu_us), for callers that took its tps through $(...).
bench_last() {
	awk -F= -v k="$1" '$1 == k { print $2 }' "$BENCH_TMP/pgbench.last"
}

# bench_ratio A B: A / B with two decimals, "n/a" when B is zero or missing.
bench_ratio() {
	awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

# bench_rate COUNT MILLISECONDS [DIVISOR]: COUNT per second, divided by DIVISOR (e.g. 1e6 for MB/s).
bench_rate() {
	awk -v n="$1" -v ms="$2" -v d="${3:-1}" 'BEGIN { if (ms + 0 == 0) print "n/a"; else printf "%.0f\n", n / (ms / 1000) / d }'
}

# bench_min and bench_median of the numbers given as arguments.
bench_min() {
	printf '%s\n' "$@" | sort -g | head -n 1
}

bench_median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_spread N...: (max - min) / median of the numbers, as a percentage ("0%" for one number).
bench_spread() {
	local med
	med=$(bench_median "$@")
	printf '%s\n' "$@" | sort -g | awk -v m="$med" 'NR == 1 { lo = $1 } { hi = $1 }
		END { if (m + 0 == 0) print "n/a"; else printf "%.0f%%\n", 100 * (hi - lo) / m }'
}

# bench_openssl_sha256 BYTES [SECONDS]: OpenSSL's SHA-256 speed on this machine for
# blocks of BYTES, in MB/s (10^6 bytes), from `openssl speed`.
bench_openssl_sha256() {
	local bytes=$1 seconds=${2:-3} out mbs
	out=$(openssl speed -seconds "$seconds" -bytes "$bytes" sha256 2>/dev/null) ||
		die "openssl speed failed"
	# openssl prints "sha256  974667.78k": thousands of bytes per second.
	mbs=$(printf '%s\n' "$out" | awk '$1 == "sha256" && $2 ~ /k$/ { v = $2; sub(/k$/, "", v); printf "%.0f\n", v / 1000 }')
	[ -n "$mbs" ] || die "could not read openssl speed's output"
	echo "$mbs"
}

# bench_cpu_busy [SECONDS]: percentage of all CPUs busy over SECONDS (default 1), from
# /proc/stat. Taken while the benchmark cluster is idle it shows what else runs.
bench_cpu_busy() {
	local a b
	a=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6; exit }' /proc/stat)
	sleep "${1:-1}"
	b=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6; exit }' /proc/stat)
	awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
		busy = y[1] - x[1]; idle = y[2] - x[2];
		if (busy + idle == 0) print 0; else printf "%.0f\n", 100 * busy / (busy + idle) }'
}

# Warn when the machine is busy with something else: the figures will be noisy.
bench_check_idle() {
	local busy load
	busy=$(bench_cpu_busy 2)
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	echo "  other load         ${busy}% of the CPUs busy over 2 s with the cluster idle; load average $load"
	if [ "$busy" -ge 10 ]; then
		echo "  WARNING: the machine is not idle (${busy}% busy before the bench); figures will be noisy and low."
		ps -eo pcpu=,pid=,args= --sort=-pcpu 2>/dev/null | awk '$1 >= 5' | head -n 3 | cut -c1-110 | sed 's/^/           busy: /' || true
	fi
}

# Facts about the machine and the server the figures belong to.
bench_header() {
	local cpu mem so
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
	mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)
	so="$(pg_config --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)/sigmax.so"
	echo "sigmax benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	printf '  %-18s %s\n' \
		"machine" "$(hostname) ($(uname -sr), $(uname -m))" \
		"nproc" "$(nproc)" \
		"cpu" "${cpu:-unknown}" \
		"memory" "${mem:-unknown}" \
		"postgresql" "$(bench_psql -c 'SELECT version()')" \
		"sigmax" "library $(bench_psql -c 'SELECT sigmax.version()'), extension $(bench_psql -c "SELECT extversion FROM pg_extension WHERE extname = 'sigmax'")" \
		"sigmax.so" "$(stat -c '%y' "$so" 2>/dev/null | cut -d. -f1) sha256 $(sha256sum "$so" 2>/dev/null | cut -c1-12)" \
		"source" "$(git -C "$BENCH_DIR/.." describe --always --dirty 2>/dev/null || echo 'not a git checkout')" \
		"openssl" "$(openssl version 2>/dev/null || echo missing)" \
		"pgbench" "$(pgbench --version) (-M $BENCH_PGBENCH_MODE)" \
		"server settings" "$(bench_psql -c "SELECT string_agg(name || '=' || current_setting(name), ' ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'max_connections', 'wal_level', 'full_page_writes')")"
}
