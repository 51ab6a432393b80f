#!/usr/bin/env bash
# sigmax scripts/sanitize.sh: build sigmax with AddressSanitizer and UndefinedBehaviorSanitizer,
# install it, and run the pg_regress, pgTAP and integration suites with the sanitizer runtime
# preloaded into every server process. Any report fails the run. Reinstalls the normal build after.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages
asan_lib=$(gcc -print-file-name=libasan.so)
ubsan_lib=$(gcc -print-file-name=libubsan.so)
[ -f "$asan_lib" ] || die "libasan is missing (gcc's sanitizer runtime)"
report_dir=$(mktemp -d /tmp/sigmax-asan.XXXXXX)
chmod 777 "$report_dir"

say "building sigmax with -fsanitize=address,undefined"
make -C "$SIGMAX_ROOT" -s clean
make -C "$SIGMAX_ROOT" -s PG_CONFIG="$PG_CONFIG" SIGMAX_WERROR=1 \
	PG_CFLAGS="-Wall -Wextra -Werror -Wno-unused-parameter -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	PG_LDFLAGS="-fsanitize=address,undefined" all >/tmp/sigmax-asan-build.log 2>&1 || {
	cat /tmp/sigmax-asan-build.log >&2
	die "sanitizer build failed"
}
make -C "$SIGMAX_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null

# PostgreSQL leaks on purpose at exit and uses its own allocator: no leak checks, stop on the first error.
export LD_PRELOAD="$asan_lib $ubsan_lib"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$report_dir/asan:verify_asan_link_order=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$report_dir/ubsan"
export SIGMAX_SKIP_BUILD=1
export SIGMAX_SUITES="pg_regress pgtap integration"

rc=0
bash "$SIGMAX_ROOT/scripts/test.sh" || rc=$?
unset LD_PRELOAD

if ls "$report_dir"/* >/dev/null 2>&1; then
	echo "sigmax: sanitizer reports:" >&2
	cat "$report_dir"/* >&2
	rc=1
fi
say "reinstalling the normal build"
make -C "$SIGMAX_ROOT" -s clean
build_and_install
[ $rc -eq 0 ] && say "sanitizers: no report" || echo "sigmax: sanitizer run FAILED" >&2
exit $rc
