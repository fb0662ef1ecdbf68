# wackamole — build, check and test. `make test` is what CI runs.

CARGO      ?= cargo
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
SAMPLE     ?= wackamole.conf.sample

# Where `make install` puts things (all below $(DESTDIR), a staging
# root for packagers; empty for a live install). See README, Installing.
SBINDIR    ?= $(PREFIX)/sbin
MANDIR     ?= $(PREFIX)/share/man
INITDIR    ?= $(SYSCONFDIR)/init.d
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
INSTALL    ?= install

# Cargo features. `corosync` builds in the Corosync CPG membership
# backend (`Membership = corosync`; links libcpg, Debian's libcpg-dev).
# On by default where libcpg's header is installed; `FEATURES=` builds
# Spread only, `FEATURES=corosync` insists on it.
FEATURES      ?= $(shell test -e /usr/include/corosync/cpg.h && echo corosync)
FEATURE_FLAGS  = $(if $(strip $(FEATURES)),--features "$(strip $(FEATURES))")

# Compiled into the binaries as the default config directory.
BUILD_ENV = WACKAMOLE_SYSCONFDIR=$(SYSCONFDIR)

# Where `make build` leaves the binaries (cargo honours CARGO_TARGET_DIR).
RELEASE_DIR = $(or $(CARGO_TARGET_DIR),target)/release

# contrib/wackamole.init and contrib/wackamole.service name their paths
# as @SBINDIR@ and @SYSCONFDIR@; install fills them in.
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

# Directories uninstall may remove when it leaves them empty, and the
# ones it never removes on a live system (no DESTDIR), empty or not.
INSTALL_DIRS = $(SBINDIR) $(MANDIR)/man5 $(MANDIR)/man8 $(INITDIR) \
               $(SYSCONFDIR) $(SYSTEMDDIR)
KEEP_DIRS    = / /etc /etc/init.d /usr /usr/local /opt /var $(PREFIX) \
               $(PREFIX)/bin $(PREFIX)/sbin $(PREFIX)/etc $(PREFIX)/lib \
               $(PREFIX)/share $(PREFIX)/share/man $(SBINDIR) $(SYSCONFDIR) \
               $(MANDIR)

.PHONY: all build install uninstall test test-real soak check-config demo takeover-table bench-failover bench lint-man fuzz-smoke clean

all: build

build:
	$(BUILD_ENV) $(CARGO) build --release --locked $(FEATURE_FLAGS)

# Depends on build, so the binaries carry this SYSCONFDIR (nothing is
# rebuilt when `make build` ran with the same variables). spread-sim
# (a test double) and the examples are not installed.
install: build
	$(INSTALL) -D -m 0755 $(RELEASE_DIR)/wackamole "$(DESTDIR)$(SBINDIR)/wackamole"
	$(INSTALL) -D -m 0755 $(RELEASE_DIR)/wackatrl "$(DESTDIR)$(SBINDIR)/wackatrl"
	$(INSTALL) -D -m 0644 man/wackamole.8 "$(DESTDIR)$(MANDIR)/man8/wackamole.8"
	$(INSTALL) -D -m 0644 man/wackatrl.8 "$(DESTDIR)$(MANDIR)/man8/wackatrl.8"
	$(INSTALL) -D -m 0644 man/wackamole.conf.5 "$(DESTDIR)$(MANDIR)/man5/wackamole.conf.5"
	$(INSTALL) -D -m 0644 wackamole.conf.sample "$(DESTDIR)$(SYSCONFDIR)/wackamole.conf.sample"
	@if [ -e "$(DESTDIR)$(SYSCONFDIR)/wackamole.conf" ]; then \
	    echo "keeping the existing $(DESTDIR)$(SYSCONFDIR)/wackamole.conf"; \
	else \
	    echo "$(INSTALL) -m 0644 wackamole.conf.sample $(DESTDIR)$(SYSCONFDIR)/wackamole.conf"; \
	    $(INSTALL) -m 0644 wackamole.conf.sample "$(DESTDIR)$(SYSCONFDIR)/wackamole.conf"; \
	fi
	$(INSTALL) -d "$(DESTDIR)$(INITDIR)" "$(DESTDIR)$(SYSTEMDDIR)"
	$(SUBST) contrib/wackamole.init > "$(DESTDIR)$(INITDIR)/wackamole"
	chmod 0755 "$(DESTDIR)$(INITDIR)/wackamole"
	$(SUBST) contrib/wackamole.service > "$(DESTDIR)$(SYSTEMDDIR)/wackamole.service"
	chmod 0644 "$(DESTDIR)$(SYSTEMDDIR)/wackamole.service"

# Removes what install added: wackamole.conf only while it is the
# sample unchanged, then every directory of INSTALL_DIRS (and its
# parents) left empty, up to but never $(DESTDIR) itself, and on a live
# system never one of KEEP_DIRS.
uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/wackamole" "$(DESTDIR)$(SBINDIR)/wackatrl"
	rm -f "$(DESTDIR)$(MANDIR)/man8/wackamole.8" "$(DESTDIR)$(MANDIR)/man8/wackatrl.8"
	rm -f "$(DESTDIR)$(MANDIR)/man5/wackamole.conf.5"
	rm -f "$(DESTDIR)$(INITDIR)/wackamole" "$(DESTDIR)$(SYSTEMDDIR)/wackamole.service"
	@conf="$(DESTDIR)$(SYSCONFDIR)/wackamole.conf"; \
	sample="$(DESTDIR)$(SYSCONFDIR)/wackamole.conf.sample"; \
	if [ -e "$$conf" ]; then \
	    if cmp -s "$$conf" "$$sample" || cmp -s "$$conf" wackamole.conf.sample; then \
	        echo "rm -f $$conf"; rm -f "$$conf"; \
	    else \
	        echo "leaving $$conf: it differs from the sample (edited); remove it by hand"; \
	    fi; \
	fi
	rm -f "$(DESTDIR)$(SYSCONFDIR)/wackamole.conf.sample"
	@for d in $(INSTALL_DIRS); do \
	    while :; do \
	        case "$$d" in /|.|"") break ;; esac; \
	        if [ -z "$(DESTDIR)" ]; then \
	            keep=; for k in $(KEEP_DIRS); do [ "$$d" = "$$k" ] && keep=1; done; \
	            [ -z "$$keep" ] || break; \
	        fi; \
	        if [ -d "$(DESTDIR)$$d" ]; then \
	            rmdir --ignore-fail-on-non-empty "$(DESTDIR)$$d" || break; \
	            [ ! -d "$(DESTDIR)$$d" ] || break; \
	            echo "rmdir $(DESTDIR)$$d"; \
	        fi; \
	        d=$$(dirname "$$d"); \
	    done; \
	done

# Everything CI checks: formatting, lints, then every test (unit,
# integration, man page lint).
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked $(FEATURE_FLAGS) -- -D warnings
	$(CARGO) test --locked $(FEATURE_FLAGS)

# Only the real-engine tests (root): real Spread 5.0.1 and the C
# wackamole 2.1.4 from ../shared/thirdparty, built once into
# target/thirdparty (or WACKAMOLE_THIRDPARTY=PREFIX, an existing build of
# its build.sh). `make test` runs them too, but there they print SKIPPED
# without root or a build; here nothing may skip.
REAL_TESTS = --test real_spread --test mixed --test differential
test-real:
	WACKAMOLE_REQUIRE_THIRDPARTY=1 $(CARGO) test --locked $(FEATURE_FLAGS) $(REAL_TESTS)

# The chaos soak (tests/soak.rs, as root; README, Quick start): five
# namespaced hosts under a seeded random schedule of kills, cut links,
# splits, Spread crashes, wackatrl -f/-s and reloads for SOAK_S
# seconds, checked every 100 ms. Each run prints its seed; SOAK_SEED=N
# replays that schedule. `make test` runs it for 60 s.
SOAK_S    ?= 600
SOAK_SEED ?=
soak:
	SOAK_S=$(SOAK_S) SOAK_SEED=$(SOAK_SEED) $(CARGO) test --locked $(FEATURE_FLAGS) --test soak -- --nocapture

# The main job until the multi-host demo exists: check the sample config
# and print what it means.
check-config:
	$(CARGO) run --quiet --locked $(FEATURE_FLAGS) --bin wackamole -- -t -c $(SAMPLE)

# The main job: a local multi-host cluster in network namespaces, a
# failover and a rebalance, all cleaned up afterwards (root).
# MEMBERSHIP=corosync: on real corosync daemons instead of spread-sim
# (installs corosync and libcpg-dev when missing, as the demo does ping).
MEMBERSHIP ?= spread
demo:
ifeq ($(MEMBERSHIP),corosync)
	./contrib/install-corosync.sh
	$(CARGO) build --release --locked --features corosync --bins --examples
else
	$(CARGO) build --release --locked $(FEATURE_FLAGS) --bins --examples
endif
	MEMBERSHIP=$(MEMBERSHIP) ./contrib/demo.sh

# The README's takeover table (tests/takeover.rs, root, a few minutes):
# a host dies while a client pings its VIP, on real Spread 5.0.1 and on
# Corosync, each at its default and at lowered timeouts; TAKEOVER_RUNS
# runs of each.
TAKEOVER_RUNS ?= 3
takeover-table:
	TAKEOVER_RUNS=$(TAKEOVER_RUNS) $(CARGO) test --locked $(FEATURE_FLAGS) --test takeover -- --ignored --nocapture

# The failover benchmark (bench/failover.sh, tests/bench_failover.rs;
# root, many minutes): 3 hosts on real Spread, V VIPs on one host that
# dies; membership -> first announcement / last VIP up / last
# announcement, the client's outage; Rust, C 2.1.4 and keepalived
# (outage only); the idle footprint. BENCH_IMPLS picks among rust c
# keepalived footprint; BENCH_V, BENCH_RUNS, BENCH_BIN, BENCH_TEMPLATE,
# BENCH_V6 pass through (see bench/failover.sh).
BENCH_IMPLS ?= all
bench-failover:
	CARGO="$(CARGO)" FEATURES="$(strip $(FEATURES))" ./bench/failover.sh $(BENCH_IMPLS)

bench:
	$(CARGO) bench --locked

# Coverage-guided fuzzing (cargo-fuzz, libFuzzer): every target of
# fuzz/ for FUZZ_SECONDS each, from the committed seeds; any crash fails
# (its input is left in fuzz/artifacts/TARGET/). cargo-fuzz needs
# nightly flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = config_parse spread_decoder engine_messages control_protocol frames proc_net_arp
fuzz-smoke:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
	    mkdir -p corpus/$$t && \
	    RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O $$t corpus/$$t seeds/$$t -- \
	        -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 || exit 1; \
	done

lint-man:
	for m in man/*.[0-9]; do groff -ww -z -mandoc $$m || exit 1; done

clean:
	$(CARGO) clean
