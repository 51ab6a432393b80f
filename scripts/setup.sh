#!/usr/bin/env bash
# sigmax scripts/setup.sh: install missing Debian packages, then build and install sigmax.
# Run as root on Debian 12; scripts/test.sh and scripts/demo.sh call it first.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_packages
build_and_install
say "sigmax $(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$SIGMAX_ROOT/sigmax.control") installed into $($PG_CONFIG --pkglibdir)"
