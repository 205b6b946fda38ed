# odc-fleet build. GNU make + pkg-config; every warning is an error.
#
#   make            build libraries, tools and (later) the daemons
#   make test       install deps, build, run every test, end with one summary line
#   make unit       cmocka unit tests        make integration   pytest suites
#   make sanitize   unit tests and tests/integration/c under ASan+UBSan
#   make fuzz       libFuzzer harnesses, FUZZ_SECONDS in all (default 60)
#   make bench      protocol micro-benchmarks, then the fleet benchmark (bench/run.py)
#   make vectors    regenerate tests/vectors/proto-v2.json from the C code
#   make deb        Debian packages odc-fleet-agent and odc-fleet-coordinator in build/deb

CC      ?= gcc
BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
PYTHON  ?= /usr/bin/python3
FUZZ_SECONDS ?= 60

PKGS := libzmq libsodium msgpack jansson inih sqlite3 libcurl libmariadb libmicrohttpd libsystemd

WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wformat=2 -Wformat-security -Wvla -Wpointer-arith -Wundef -Wcast-qual \
	-Wnull-dereference -Wimplicit-fallthrough
# Messages are bounded by design: snprintf truncating a long path or a
# server's error into a fixed buffer is intended, so gcc's guesses about
# possible truncation are not errors here. Overflows remain impossible.
WARN += -Wno-format-truncation
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -fno-common -fstack-protector-strong $(WARN) -I.
OPT     ?= -O2 -D_FORTIFY_SOURCE=2
SAN     ?=
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# CPPFLAGS, CFLAGS and LDFLAGS from the environment are honoured (in a package
# build: dpkg-buildflags' hardening, e.g. -Wl,-z,relro,-z,now).
CFLAGS_ALL = $(BASE_CFLAGS) $(OPT) $(SAN) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
# --as-needed: each program records only the libraries it calls (the agent
# does not load libmicrohttpd, odcctl neither libmariadb nor libcurl).
LDLIBS_ALL = $(LDFLAGS) -Wl,--as-needed $(PKG_LIBS) -lpthread $(LDLIBS)

PROTO_SRC  := $(sort $(wildcard proto/*.c))
COMMON_SRC := $(sort $(wildcard common/*.c))
AGENT_SRC  := $(filter-out agent/main.c,$(sort $(wildcard agent/*.c)))
AGENT_MAIN := $(wildcard agent/main.c)
COORD_SRC  := $(filter-out coordinator/main.c,$(sort $(wildcard coordinator/*.c)))
COORD_MAIN := $(wildcard coordinator/main.c)
CTL_SRC    := $(sort $(wildcard coordinator/ctl/*.c))
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
# cmocka programs against a real dockerd or MariaDB: the integration suite runs them.
ITEST_SRC  := $(sort $(wildcard tests/integration/c/test_*.c))
TOOL_SRC   := $(sort $(wildcard tests/tools/*.c))
BENCH_SRC  := $(sort $(wildcard bench/*.c))
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))

PROTO_OBJ  := $(PROTO_SRC:%.c=$(BUILD)/%.o)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/%.o)
AGENT_OBJ  := $(AGENT_SRC:%.c=$(BUILD)/%.o)
COORD_OBJ  := $(COORD_SRC:%.c=$(BUILD)/%.o)
CTL_OBJ    := $(CTL_SRC:%.c=$(BUILD)/%.o)
LIBPROTO   := $(BUILD)/libodcproto.a
LIBCOMMON  := $(BUILD)/libodccommon.a
LIBAGENT   := $(BUILD)/libodcagent.a
LIBCOORD   := $(BUILD)/libodccoord.a
# Link order: a library before the ones it uses.
LIBS       := $(LIBCOORD) $(LIBAGENT) $(LIBCOMMON) $(LIBPROTO)
PROGRAMS   := $(if $(AGENT_MAIN),$(BUILD)/odc-agent) $(if $(COORD_MAIN),$(BUILD)/odc-coordinator) \
	$(if $(CTL_SRC),$(BUILD)/odcctl)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_BIN  := $(ITEST_SRC:tests/integration/c/%.c=$(BUILD)/itests/%)
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
BENCH_BIN  := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all test unit integration e2e sanitize fuzz bench demo demo-down install clean deps \
	vectors vectors-check format format-check lint programs deb image odcctl-tarball

all: $(LIBS) $(PROGRAMS) $(TOOL_BIN) $(BENCH_BIN) $(UNIT_BIN) $(ITEST_BIN)

# The three programs alone: what install needs (no cmocka, no tests).
programs: $(PROGRAMS)

deps:
	@deploy/install-deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBPROTO): $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBAGENT): $(AGENT_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(LIBCOORD): $(COORD_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/odc-agent: $(BUILD)/agent/main.o $(LIBAGENT) $(LIBCOMMON) $(LIBPROTO)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBAGENT) $(LIBCOMMON) $(LIBPROTO) $(LDLIBS_ALL)

$(BUILD)/odc-coordinator: $(BUILD)/coordinator/main.o $(LIBCOORD) $(LIBCOMMON) $(LIBPROTO)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBCOORD) $(LIBCOMMON) $(LIBPROTO) $(LDLIBS_ALL)

# odcctl is a thin client: the protocol and the common helpers only.
$(BUILD)/odcctl: $(CTL_OBJ) $(LIBCOMMON) $(LIBPROTO)
	$(CC) $(CFLAGS_ALL) -o $@ $(CTL_OBJ) $(LIBCOMMON) $(LIBPROTO) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBS) $(LDLIBS_ALL) -lcmocka

$(BUILD)/itests/%: $(BUILD)/tests/integration/c/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBS) $(LDLIBS_ALL) -lcmocka

$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBS) $(LDLIBS_ALL)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBS)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBS) $(LDLIBS_ALL)

# The whole suite: dependencies, a warning-free build, unit tests, the vector
# cross-check against the independent Python implementation, then one summary.
test: deps
	@$(MAKE) --no-print-directory all
	@tests/run-all.sh $(BUILD) $(PYTHON)

unit: all
	@tests/run-all.sh --only unit $(BUILD) $(PYTHON)

integration: all
	@tests/run-all.sh --only integration $(BUILD) $(PYTHON)

# Fleet rollbacks with faults on a 5-host testbed (also part of make test).
e2e: deps
	@$(MAKE) --no-print-directory all
	@tests/run-all.sh --only e2e $(BUILD) $(PYTHON)

# A 4-host fleet on this machine rolled back from 4.3.0 to 4.2.0, then upgraded: to a broken
# release (its canary reverted by itself), then to 4.3.0 (README).
demo: deps
	@$(MAKE) --no-print-directory all
	@deploy/testbed/demo.sh

demo-down:
	@$(PYTHON) deploy/testbed/testbed.py down --dir $${ODC_DEMO_DIR:-/tmp/odc-demo}

sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build-san OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
		all
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		tests/run-all.sh --only sanitize build-san $(PYTHON)

fuzz: deps
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

# The protocol micro-benchmarks, then the fleet benchmark (bench/run.py: real
# coordinator and odcctl, simulated and real agents, Ansible side by side; about
# 8 minutes). BENCH_ARGS adds options (--quick); the figures also go to BENCH_JSON.
# Then the downtime of an upgrade and of its revert: one node, an HA pair, and
# through the coordinator with an automatic revert (bench/downtime.py, about 3.5
# minutes; its figures to BENCH_DOWNTIME_JSON).
BENCH_JSON ?= $(BUILD)/bench/results.json
BENCH_DOWNTIME_JSON ?= $(BUILD)/bench/downtime.json
BENCH_ARGS ?=
bench: deps
	@deploy/install-deps.sh --bench
	@$(MAKE) --no-print-directory all
	@$(BUILD)/bench/bench_proto
	@$(PYTHON) bench/run.py --build $(BUILD) --json $(BENCH_JSON) $(BENCH_ARGS)
	@$(PYTHON) bench/downtime.py --build $(BUILD) --json $(BENCH_DOWNTIME_JSON)

vectors: $(BUILD)/tools/vectors
	$(BUILD)/tools/vectors gen > tests/vectors/proto-v2.json.tmp
	mv tests/vectors/proto-v2.json.tmp tests/vectors/proto-v2.json

# Every C file git tracks: make format applies .clang-format to them; make lint fails when one
# differs from it or calls a banned function (tests/tools/lint.sh; make test runs it too).
format:
	@tests/tools/lint.sh --format

format-check lint:
	@tests/tools/lint.sh

# The checked-in vectors are what the C code generates now (make test checks it too).
vectors-check: $(BUILD)/tools/vectors
	@$(BUILD)/tools/vectors gen | cmp -s - tests/vectors/proto-v2.json || \
		{ echo "tests/vectors/proto-v2.json differs from 'vectors gen': make vectors" >&2; exit 1; }

# Installs the programs, the systemd units (with their paths set to PREFIX),
# the sysusers.d snippet, the example configurations and the README. Creates
# nothing under /etc or /var: the units' StateDirectory= and RuntimeDirectory=
# do that, and the configuration is the administrator's (see README,
# "Deploying on real hosts"). No chown, so DESTDIR works without root; safe to
# run again.
SBINDIR     := $(PREFIX)/sbin
BINDIR      := $(PREFIX)/bin
DOCDIR      := $(PREFIX)/share/doc/odc-fleet
UNITDIR     := $(PREFIX)/lib/systemd/system
SYSUSERSDIR := $(PREFIX)/lib/sysusers.d
MANDIR      := $(PREFIX)/share/man
COMPLETIONDIR := $(PREFIX)/share/bash-completion/completions

install: $(PROGRAMS)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DOCDIR)/examples \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(COMPLETIONDIR)
	install -m 0755 $(BUILD)/odc-agent $(BUILD)/odc-coordinator $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/odcctl $(DESTDIR)$(BINDIR)/
	install -m 0644 deploy/agent.conf.example deploy/coordinator.conf.example \
		deploy/odcctl.conf.example deploy/prometheus/odc-fleet.rules.yml $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 deploy/systemd/odc-fleet.sysusers $(DESTDIR)$(SYSUSERSDIR)/odc-fleet.conf
	install -m 0644 deploy/man/odcctl.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 deploy/man/odc-agent.conf.5 deploy/man/odc-coordinator.conf.5 \
		deploy/man/odcctl.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 deploy/man/odc-agent.8 deploy/man/odc-coordinator.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 deploy/completion/odcctl $(DESTDIR)$(COMPLETIONDIR)/odcctl
	for u in odc-agent odc-coordinator; do \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
			deploy/systemd/$$u.service > $(DESTDIR)$(UNITDIR)/$$u.service.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u.service.tmp && \
		mv -f $(DESTDIR)$(UNITDIR)/$$u.service.tmp $(DESTDIR)$(UNITDIR)/$$u.service || exit 1; \
	done

# Debian packages (deploy/debian): odc-fleet-agent, and odc-fleet-coordinator
# with odcctl. Built by dpkg-buildpackage in a clean copy of the sources under
# DEB_DIR (the tree itself is not written to), then checked by lintian; the
# .deb files end up in DEB_DIR. Installs what it needs first.
DEB_DIR ?= $(BUILD)/deb
deb:
	@deploy/install-deps.sh --deb
	@deploy/build-debs.sh $(DEB_DIR)

# Container images (deploy/build-image.sh): odc-fleet-agent and odc-fleet-coordinator, a Debian 12
# root file system with the packages (make deb into DEB_DIR first; IMAGE_DEBS=DIR takes the
# packages already there instead), imported into the engine DOCKER_HOST names (default: the
# local one); the tarballs `docker load -i` reads end up in IMAGE_DIR. Needs root and the Debian
# mirror.
IMAGE_DIR ?= $(BUILD)/image
image:
	@deploy/install-deps.sh --image
	@$(if $(IMAGE_DEBS),,deploy/build-debs.sh $(DEB_DIR) &&) \
		deploy/build-image.sh $(or $(IMAGE_DEBS),$(DEB_DIR)) $(IMAGE_DIR)

# odcctl alone, for a workstation of any Linux (deploy/build-odcctl.sh): the program with its
# libraries and their dynamic loader, in ODCCTL_DIR/odcctl-VERSION-linux-ARCH.tar.gz.
ODCCTL_DIR ?= $(BUILD)/dist
odcctl-tarball: $(BUILD)/odcctl
	@deploy/build-odcctl.sh $(BUILD)/odcctl $(ODCCTL_DIR)

clean:
	rm -rf build build-san build-fuzz

# The compilers' dependency files; not those of make deb's copy of the sources.
-include $(shell find $(BUILD) -path '$(DEB_DIR)' -prune -o -type f -name '*.d' -print 2>/dev/null)
