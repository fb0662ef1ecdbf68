# wackamole — build, check and test. `make test` is what CI runs.

CARGO      ?= cargo
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(PREFIX)/etc
SAMPLE     ?= wackamole.conf.sample

# Compiled into the binaries as the default config directory.
BUILD_ENV = WACKAMOLE_SYSCONFDIR=$(SYSCONFDIR)

.PHONY: all build test check-config demo bench lint-man clean

all: build

build:
	$(BUILD_ENV) $(CARGO) build --release --locked

# Everything CI checks: formatting, lints, then every test (unit,
# integration, man page lint).
test:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets --locked -- -D warnings
	$(CARGO) test --locked

# The main job until the multi-host demo exists: check the sample config
# and print what it means.
check-config:
	$(CARGO) run --quiet --locked --bin wackamole -- -t -c $(SAMPLE)

# The main job: a local multi-host cluster in network namespaces, a
# failover and a rebalance, all cleaned up afterwards (root).
demo:
	$(CARGO) build --release --locked --bins --examples
	./contrib/demo.sh

bench:
	$(CARGO) bench --locked

lint-man:
	for m in man/*.[0-9]; do groff -ww -z -mandoc $$m || exit 1; done

clean:
	$(CARGO) clean
