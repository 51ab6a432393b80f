# sigmax scripts/lib.sh: shared shell functions for setup, throwaway clusters and runs.
# Sourced by scripts/setup.sh, scripts/test.sh and scripts/demo.sh; never run on its own.

set -euo pipefail

SIGMAX_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=15
PG_BINDIR=/usr/lib/postgresql/$PG_MAJOR/bin
PG_CONFIG=$PG_BINDIR/pg_config

# Debian packages the build, the tests and the demo need.
SIGMAX_PACKAGES=(
	postgresql-$PG_MAJOR
	postgresql-server-dev-$PG_MAJOR
	postgresql-$PG_MAJOR-pgtap
	libtap-parser-sourcehandler-pgtap-perl
	libipc-run-perl
	libcurl4-openssl-dev
	libssl-dev
	build-essential
	python3
	openssl
	curl
	ca-certificates
	valgrind
)

# Print one line on stderr and stop: every failure the user can act on ends here.
die() {
	echo "sigmax: $*" >&2
	exit 1
}

say() {
	echo "==> $*"
}

# Install whichever of SIGMAX_PACKAGES is missing; needs root only when something is missing.
ensure_packages() {
	local missing=() pkg
	for pkg in "${SIGMAX_PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		die "missing Debian packages (${missing[*]}); run this script as root so it can install them"
	fi
	command -v apt-get >/dev/null || die "apt-get not found: sigmax's scripts need Debian 12 (bookworm)"
	say "installing ${missing[*]}"
	apt-get update -qq >/tmp/sigmax-apt.log 2>&1 ||
		die "apt-get update failed; see /tmp/sigmax-apt.log"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		>>/tmp/sigmax-apt.log 2>&1 ||
		die "apt-get install ${missing[*]} failed; see /tmp/sigmax-apt.log"
	[ -x "$PG_BINDIR/postgres" ] || die "PostgreSQL $PG_MAJOR is not installed in $PG_BINDIR"
	[ -x "$PG_CONFIG" ] || die "pg_config for PostgreSQL $PG_MAJOR is missing (postgresql-server-dev-$PG_MAJOR)"
}

# Build with every warning an error and install into the PostgreSQL 15 tree.
build_and_install() {
	if [ -n "${SIGMAX_SKIP_BUILD:-}" ]; then
		say "SIGMAX_SKIP_BUILD set: using the sigmax already installed"
		return 0
	fi
	[ -x "$PG_CONFIG" ] || die "PostgreSQL $PG_MAJOR development files are missing; run scripts/setup.sh as root"
	say "building sigmax (-Wall -Wextra -Werror)"
	make -C "$SIGMAX_ROOT" -s PG_CONFIG="$PG_CONFIG" SIGMAX_WERROR=1 all >/tmp/sigmax-build.log 2>&1 || {
		cat /tmp/sigmax-build.log >&2
		die "build failed (full log above)"
	}
	if [ -w "$($PG_CONFIG --pkglibdir)" ]; then
		make -C "$SIGMAX_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/tmp/sigmax-install.log 2>&1 ||
			die "make install failed; see /tmp/sigmax-install.log"
	else
		die "cannot write $($PG_CONFIG --pkglibdir); run as root to install sigmax"
	fi
}

# Run a command as the cluster owner: the server refuses to run as root.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Pick a free TCP port on loopback, or check the one in SIGMAX_PGPORT.
pick_port() {
	if [ -n "${SIGMAX_PGPORT:-}" ]; then
		if /usr/bin/python3 - "$SIGMAX_PGPORT" <<'EOF'; then
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
EOF
			echo "$SIGMAX_PGPORT"
		else
			die "port $SIGMAX_PGPORT on 127.0.0.1 is taken; set SIGMAX_PGPORT to a free port or unset it"
		fi
	else
		/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
	fi
}

SIGMAX_WORK=
SIGMAX_PGDATA=
SIGMAX_BG_PIDS=()

# Remember a background helper (the mock exchange, say) so that exit stops it.
track_pid() {
	SIGMAX_BG_PIDS+=("$1")
}

# Stop the throwaway cluster and remove everything it wrote; safe to call twice.
stop_cluster() {
	local pid
	for pid in "${SIGMAX_BG_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	SIGMAX_BG_PIDS=()
	if [ -n "$SIGMAX_PGDATA" ] && [ -f "$SIGMAX_PGDATA/postmaster.pid" ]; then
		as_pg "$PG_BINDIR/pg_ctl" -D "$SIGMAX_PGDATA" -m fast -w -t 20 stop >/dev/null 2>&1 ||
			as_pg "$PG_BINDIR/pg_ctl" -D "$SIGMAX_PGDATA" -m immediate stop >/dev/null 2>&1 || true
	fi
	if [ -n "$SIGMAX_WORK" ] && [ -d "$SIGMAX_WORK" ]; then
		rm -rf "$SIGMAX_WORK"
	fi
	SIGMAX_WORK=
	SIGMAX_PGDATA=
}

on_exit() {
	local rc=$?
	stop_cluster
	exit $rc
}

on_signal() {
	echo "sigmax: interrupted; removing the throwaway cluster" >&2
	trap - EXIT
	stop_cluster
	exit 130
}

# Create and start a throwaway cluster with sigmax preloaded, removed on exit,
# failure or Ctrl-C. Exports PGHOST, PGPORT, PGUSER and PGDATABASE for clients.
start_cluster() {
	[ -x "$PG_BINDIR/initdb" ] || die "PostgreSQL $PG_MAJOR is missing; run scripts/setup.sh as root"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "the postgres system user is missing (is postgresql-$PG_MAJOR installed?)"
	fi
	trap on_exit EXIT
	trap on_signal INT TERM HUP
	SIGMAX_WORK=$(mktemp -d /tmp/sigmax-cluster.XXXXXX)
	chmod 755 "$SIGMAX_WORK"
	SIGMAX_PGDATA=$SIGMAX_WORK/data
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres:postgres "$SIGMAX_WORK"
	fi
	local port
	port=$(pick_port)
	as_pg "$PG_BINDIR/initdb" -D "$SIGMAX_PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
		>"$SIGMAX_WORK/initdb.log" 2>&1 || {
		cat "$SIGMAX_WORK/initdb.log" >&2
		die "initdb failed"
	}
	# The checkpoint signing key: private to the server's user.
	as_pg openssl genpkey -algorithm ed25519 -out "$SIGMAX_WORK/checkpoint.pem" 2>/dev/null ||
		die "openssl could not create the checkpoint key"
	as_pg chmod 600 "$SIGMAX_WORK/checkpoint.pem"
	as_pg tee -a "$SIGMAX_PGDATA/postgresql.conf" >/dev/null <<EOF
# sigmax throwaway cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$SIGMAX_WORK'
shared_preload_libraries = 'sigmax'
sigmax.database = 'sigmax'
sigmax.checkpoint_key_file = '$SIGMAX_WORK/checkpoint.pem'
max_connections = 120
fsync = off
synchronous_commit = on
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
${SIGMAX_EXTRA_CONF:-}
EOF
	as_pg "$PG_BINDIR/pg_ctl" -D "$SIGMAX_PGDATA" -l "$SIGMAX_WORK/server.log" -w -t 60 start >/dev/null 2>&1 || {
		tail -n 20 "$SIGMAX_WORK/server.log" >&2 || true
		die "the throwaway cluster did not start (server log above)"
	}
	export PGHOST=$SIGMAX_WORK PGPORT=$port PGUSER=postgres PGDATABASE=postgres
	export PATH=$PG_BINDIR:$PATH
	say "throwaway cluster up on 127.0.0.1:$port (data in $SIGMAX_PGDATA, removed on exit)"
}
