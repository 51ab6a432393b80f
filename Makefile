# sigmax Makefile: PGXS build of the extension, its tests, benchmarks, tools and demo.
# The version lives once, in sigmax.control, and reaches C as SIGMAX_VERSION.

EXTENSION = sigmax
EXTVERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(dir $(lastword $(MAKEFILE_LIST)))sigmax.control)

MODULE_big = sigmax
OBJS = \
	src/sigmax.o \
	src/guc.o \
	src/crypto.o \
	src/audit.o \
	src/audit_screen.o \
	src/audit_verify.o \
	src/checkpoint.o \
	src/merkle.o \
	src/shmem.o \
	src/limits.o \
	src/instrument_cache.o \
	src/order_check.o \
	src/row_lookup.o \
	src/row_checks.o \
	src/orders.o \
	src/fills.o \
	src/prices.o \
	src/exchanges.o \
	src/http.o \
	src/worker_status.o \
	src/worker.o \
	src/auth.o \
	src/api_limits.o \
	src/api_surface.o \
	src/secrets.o

DATA = $(wildcard sigmax--*.sql)

# pg_regress suites, one per capability; run with `make installcheck`
# against a running server (scripts/test.sh starts a throwaway one).
REGRESS = smoke ledger orders protections observability worker
REGRESS_OPTS = --inputdir=. --dbname=contrib_regression

PG_CPPFLAGS = -I$(srcdir)/src -DSIGMAX_VERSION=\"$(EXTVERSION)\"
SHLIB_LINK = -lcurl -lcrypto

# CI and scripts/ build with every warning an error.
ifdef SIGMAX_WERROR
PG_CFLAGS += -Wall -Wextra -Werror -Wno-unused-parameter
endif

EXTRA_CLEAN = results/ regression.diffs regression.out tools/sigmax-verify

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object depends on every header.
$(OBJS): $(wildcard src/*.h)

# The standalone ledger verifier: OpenSSL only, never linked with PostgreSQL.
all: tools/sigmax-verify
tools/sigmax-verify: tools/sigmax-verify.c
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $< -lcrypto

# pgTAP suites against the database named by PGDATABASE (pgtap installed there).
.PHONY: pgtap integration test demo
pgtap:
	pg_prove --ext .sql -v test/pgtap/

# Everything, on a throwaway cluster: what .ci/run calls.
test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh
