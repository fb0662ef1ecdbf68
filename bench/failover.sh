#!/bin/sh
# The failover benchmark in one command (tests/bench_failover.rs):
#   bench/failover.sh [rust|c|keepalived|footprint|all]...
# Environment: BENCH_V (VIP counts, default 1,64,100,254,1024),
# BENCH_RUNS (runs per V, default 10), BENCH_BIN / BENCH_TEMPLATE (the
# daemon and its config template, for one implementation), BENCH_V6=1
# (one IPv6 VIP too, Rust), BENCH_ADVERT (keepalived's advert_int,
# default 0.3), BENCH_FOOTPRINT_S (default 60), FEATURES (cargo
# features), WACKAMOLE_THIRDPARTY (the reference Spread and C
# wackamole, see tests/common/thirdparty.rs).
# Needs root (network namespaces). Rust is timed as a release build.
set -eu
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
FEATURES=${FEATURES:-}
feat=""
[ -n "$FEATURES" ] && feat="--features $FEATURES"
what=${*:-all}
[ "$what" = all ] && what="rust c keepalived footprint"

# shellcheck disable=SC2086
$CARGO build --release --locked $feat --bin wackamole
rel="${CARGO_TARGET_DIR:-target}/release/wackamole"
# shellcheck disable=SC2086
$CARGO test --locked $feat --test bench_failover --no-run
# The daemon under test is the release build, not the test profile's.
export WACKAMOLE_REQUIRE_THIRDPARTY=1

run() { # IMPL TESTNAME [ENV...]
    impl=$1 test=$2
    shift 2
    out=$(mktemp)
    # shellcheck disable=SC2086
    if env BENCH_IMPL="$impl" "$@" $CARGO test --locked $feat --test bench_failover "$test" \
        -- --ignored --nocapture --exact >"$out" 2>&1; then
        grep -E '^(BENCH|\||$|[a-z].*runs per V|Idle)' "$out" || true
        rm -f "$out"
    else
        grep -E '^(BENCH|\|)' "$out" || true
        echo "bench-failover: $impl failed, its output: $out" >&2
        grep -E -m3 -A2 'panicked' "$out" >&2 || true
        return 1
    fi
}

status=0
for w in $what; do
    case $w in
    rust) run rust bench_failover BENCH_BIN="${BENCH_BIN:-$rel}" || status=1 ;;
    c) run c bench_failover || status=1 ;;
    keepalived)
        if ! command -v keepalived >/dev/null 2>&1; then
            apt-get install -y --no-install-recommends keepalived >/dev/null || {
                echo "bench-failover: keepalived missing and not installable: skipped" >&2
                continue
            }
        fi
        run keepalived bench_failover || status=1 ;;
    footprint) run rust bench_footprint BENCH_BIN="${BENCH_BIN:-$rel}" || status=1 ;;
    *) echo "bench-failover: unknown $w (rust, c, keepalived, footprint, all)" >&2; exit 2 ;;
    esac
done
exit $status
