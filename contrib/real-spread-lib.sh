# real-spread-lib.sh — sourced by the contrib scripts that run wackamole
# over real Spread 5.0.1: three hosts in network namespaces (10.85.0.1-3
# on a bridge in namespace ${NS}sw), each with its own Spread daemon (a
# private /tmp, so wackamole reaches it over TCP) and, once started, its
# own wackamole. Root only; everything lives in namespaces and in $D,
# removed on exit.
#
# The sourcing script sets D (a scratch directory) and NS (a namespace
# prefix), then calls rs_setup, writes $D/h$i.conf (rs_conf helps) and
# calls rs_start_wackamole.
#
#   TP   the reference build of ../shared/thirdparty/build.sh PREFIX
#        (default target/thirdparty, which the real-engine tests build:
#        make test-real)
#   W    the wackamole binary (default target/debug/wackamole)
here=$(cd "$(dirname "$0")/.." && pwd)
TP=${TP:-$here/target/thirdparty}
W=${W:-$here/target/debug/wackamole}
[ -x "$TP/spread/sbin/spread" ] || { echo "no Spread build in $TP (run ../shared/thirdparty/build.sh $TP)" >&2; exit 2; }
[ -x "$W" ] || { echo "no $W (cargo build)" >&2; exit 2; }

rs_cleanup() {
  for p in $(cat "$D/pids" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
  for n in sw h1 h2 h3 cl; do ip netns del "$NS$n" 2>/dev/null; done
}

# The bridge, three hosts and their Spread daemons.
rs_setup() {
  rs_cleanup
  rm -rf "$D"; mkdir -p -m 0755 "$D"  # the control sockets: only root writes it
  trap 'rs_cleanup; rm -rf "$D"' EXIT
  : > "$D/pids"
  mkdir -p "$D/run"
  ip netns add "${NS}sw"; ip -n "${NS}sw" link add br0 type bridge; ip -n "${NS}sw" link set br0 up
  for i in 1 2 3; do
    ip netns add "$NS"h$i
    ip link add e0 netns "$NS"h$i type veth peer name p$i netns "${NS}sw"
    ip -n "${NS}sw" link set p$i master br0; ip -n "${NS}sw" link set p$i up
    ip -n "$NS"h$i addr add 10.85.0.$i/24 dev e0; ip -n "$NS"h$i link set e0 up; ip -n "$NS"h$i link set lo up
  done
  cat > "$D/spread.conf" <<C
Spread_Segment 10.85.0.255:4803 {
  h1 10.85.0.1
  h2 10.85.0.2
  h3 10.85.0.3
}
DaemonUser = root
DaemonGroup = root
RuntimeDir = $D/run
C
  for i in 1 2 3; do
    ip netns exec "$NS"h$i unshare -m --propagation private sh -c "mount -t tmpfs none /tmp && exec stdbuf -oL $TP/spread/sbin/spread -n h$i -c $D/spread.conf" > "$D/spread$i.log" 2>&1 &
    echo $! >> "$D/pids"
  done
  sleep 3
}

# The config of host $1 with six VIPs, then any lines in $2.
rs_conf() {
  cat > "$D/h$1.conf" <<C
Spread = 4803@10.85.0.$1
SpreadRetryInterval = 1s
Group = wack
Control = $D/h$1.ctl
NodeAddress = 10.85.0.$1
Mature = 1s
Balance { AcquisitionsPerRound = all  Interval = 4s }
VirtualInterfaces {
  e0:10.85.0.101/32
  e0:10.85.0.102/32
  e0:10.85.0.103/32
  e0:10.85.0.104/32
  e0:10.85.0.105/32
  e0:10.85.0.106/32
}
${2:-}
C
}

rs_start_wackamole() {
  for i in 1 2 3; do
    ip netns exec "$NS"h$i "$W" -d -c "$D/h$i.conf" > "$D/w$i.log" 2>&1 &
    echo $! >> "$D/pids"
  done
}

# The VIPs host $1 holds, one a line.
held() { ip -n "$NS"h$1 -4 -o addr show dev e0 | awk '{print $4}' | grep -o '^10\.85\.0\.10[1-6]' ; }
# All six once among the hosts given.
settled() {
  local all; all=$(for h in "$@"; do held "$h"; done | sort)
  [ "$(echo "$all" | sort -u | grep -c .)" = 6 ] && [ "$(echo "$all" | grep -c .)" = 6 ]
}
# Milliseconds since $1 (from now_ms).
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
since() { echo $(( $(now_ms) - $1 )); }
# Waits (polling every 20 ms, at most $2 ms) until the command $1 holds;
# prints how long it took, or fails the script.
wait_for() {
  local t0; t0=$(now_ms)
  until eval "$1"; do
    sleep 0.02
    if [ "$(since "$t0")" -gt "$2" ]; then
      echo "not after $2 ms: $1 (h1: $(held 1|tr '\n' ' ') h2: $(held 2|tr '\n' ' ') h3: $(held 3|tr '\n' ' '))" >&2
      exit 1
    fi
  done
  since "$t0"
}
show() { echo "h1: $(held 1|tr '\n' ' ')| h2: $(held 2|tr '\n' ' ')| h3: $(held 3|tr '\n' ' ')"; }
