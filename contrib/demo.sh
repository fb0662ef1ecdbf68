#!/usr/bin/env bash
# The wackamole demo: three hosts and a client in network namespaces on a
# bridge, Spread simulated by spread-sim, six VIPs. MEMBERSHIP=corosync
# (make demo MEMBERSHIP=corosync) runs a real corosync on each host
# instead, in its own network and mount namespace. It shows the
# allocation, kills a host while the client pings one of its VIPs (and
# measures the outage), brings the host back and shows the rebalance.
# Everything is removed at the end, also on Ctrl-C or failure. Never
# touches the host's own interfaces. Run as root (make demo).
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
bin="$here/target/release"
tag="wkdemo$$"
dir="$(mktemp -d /tmp/wackamole-demo.XXXXXX)"
hosts=(h1 h2 h3)
pids=()
membership="${MEMBERSHIP:-spread}"
case "$membership" in
    spread|corosync) ;;
    *) echo "MEMBERSHIP must be spread or corosync, not '$membership'" >&2; exit 2 ;;
esac
# corosync's token timeout (ms) in the demo, with token_coefficient 0 (by
# default corosync adds 650 ms per node beyond two): a dead host is
# noticed after about token + consensus (1.2 x token). The default token
# is 3000 ms.
token=1000
cpids=()

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
    set +e
    for f in "$dir"/h*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
    for p in "${pids[@]}"; do [ -n "$p" ] && kill -TERM "$p" 2>/dev/null; done
    sleep 0.5
    for f in "$dir"/h*.pid; do [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done
    for p in "${pids[@]}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
    [ -n "${sim:-}" ] && kill "$sim" 2>/dev/null
    for p in "${cpids[@]}"; do [ -n "$p" ] && { kill -KILL "$p"; wait "$p"; } 2>/dev/null; done
    [ -n "${pinger:-}" ] && kill "$pinger" 2>/dev/null
    for ns in sw "${hosts[@]}" client; do ip netns del "$tag-$ns" 2>/dev/null; done
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[ "$(id -u)" = 0 ] || { echo "make demo needs root (network namespaces)" >&2; exit 1; }
for b in wackamole wackatrl spread-sim; do
    [ -x "$bin/$b" ] || { echo "missing $bin/$b: run 'make demo' (it builds first)" >&2; exit 1; }
done
if [ "$membership" = corosync ]; then
    command -v corosync >/dev/null || { echo "corosync is missing: run 'make demo MEMBERSHIP=corosync' (it installs it)" >&2; exit 1; }
    "$bin/wackamole" -v | grep -q 'membership backends:.*corosync' ||
        { echo "$bin/wackamole has no corosync backend: run 'make demo MEMBERSHIP=corosync' (it builds one)" >&2; exit 1; }
fi
if ! command -v ping >/dev/null; then
    echo "installing ping (iputils-ping) for the client..."
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iputils-ping) >/dev/null
fi

ns() { ip netns exec "$tag-$1" "${@:2}"; }
ctl() { "$bin/spread-sim" --ctl "$dir/sim.ctl" "$@" >/dev/null; }

say "Network: a bridge, hosts h1 h2 h3 (10.90.0.1-3) and a client (10.90.0.50)"
ip netns add "$tag-sw"
ip -n "$tag-sw" link add br0 type bridge
ip -n "$tag-sw" link set br0 up
i=0
for h in "${hosts[@]}" client; do
    i=$((i + 1))
    ip netns add "$tag-$h"
    ip -n "$tag-$h" link set lo up
    ip link add e0 netns "$tag-$h" type veth peer name "p$i" netns "$tag-sw"
    ip -n "$tag-sw" link set "p$i" master br0 up
    ip -n "$tag-$h" link set e0 up
done
for i in 1 2 3; do ip -n "$tag-h$i" addr add "10.90.0.$i/24" dev e0; done
ip -n "$tag-client" addr add 10.90.0.50/24 dev e0

corosync_conf() {
    cat <<CONF
totem {
    version: 2
    cluster_name: wkdemo
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: $token
    token_coefficient: 0
}
nodelist {
    node {
        nodeid: 1
        name: h1
        ring0_addr: 10.90.0.1
    }
    node {
        nodeid: 2
        name: h2
        ring0_addr: 10.90.0.2
    }
    node {
        nodeid: 3
        name: h3
        ring0_addr: 10.90.0.3
    }
}
logging {
    to_logfile: yes
    logfile: $dir/corosync-\$HOST.log
    to_syslog: no
    to_stderr: no
    timestamp: on
    blackbox: off
}
CONF
}

start_corosync() { # host number
    # One corosync per host: its own network namespace (the libqb IPC
    # sockets are per namespace) and a private /run, /var/lib/corosync
    # and /var/log/corosync (lock and state files have fixed names).
    sed "s/\\\$HOST/h$1/" "$dir/corosync.conf" >"$dir/corosync-h$1.conf"
    ip netns exec "$tag-h$1" unshare -m --propagation private sh -c \
        "mount -t tmpfs none /run && mount -t tmpfs none /var/lib/corosync &&
         mount -t tmpfs none /var/log/corosync && exec corosync -f -c '$dir/corosync-h$1.conf'" \
        >>"$dir/corosync-h$1.out" 2>&1 &
    cpids[$1]=$!
}

ring() { # host number: how many nodes its corosync sees joined
    ns "h$1" corosync-cmapctl -b runtime.members 2>/dev/null | grep -c 'status (str) = joined' || true
}

wait_ring() { # host numbers
    local want=$# i
    for _ in $(seq 300); do
        local ok=1
        for i in "$@"; do [ "$(ring "$i")" = "$want" ] || ok=; done
        [ -n "$ok" ] && return 0
        sleep 0.1
    done
    echo "corosync did not form a ring of $*" >&2
    tail -n 20 "$dir"/corosync-h* >&2
    return 1
}

if [ "$membership" = corosync ]; then
    say "Membership: Corosync $(corosync -v | sed -n "s/.*version '\(.*\)'.*/\1/p") on each host (knet over the bridge, token $token ms)"
    corosync_conf >"$dir/corosync.conf"
    for i in 1 2 3; do start_corosync "$i"; done
    wait_ring 1 2 3
    echo "one corosync ring of h1 h2 h3"
elif command -v spread >/dev/null; then
    say "Spread: spread-sim (a real 'spread' is on PATH, but the demo keeps to the test double: no spread.conf needed)"
else
    say "Spread: spread-sim, the test double (production clusters run real Spread)"
fi
if [ "$membership" = spread ]; then
    "$bin/spread-sim" -d "d1=$dir/d1.sock" -d "d2=$dir/d2.sock" -d "d3=$dir/d3.sock" -c "$dir/sim.ctl" 2>"$dir/sim.log" &
    sim=$!
    for _ in $(seq 100); do [ -S "$dir/sim.ctl" ] && break; sleep 0.05; done
fi

conf() { # host number
    if [ "$membership" = corosync ]; then
        echo "Membership = corosync"
    else
        echo "Spread = $dir/d$1.sock"
    fi
    cat <<CONF
Group = demo
Control = $dir/h$1.ctl
NodeAddress = 10.90.0.$1
Mature = 1s
SpreadRetryInterval = 1s
Balance { AcquisitionsPerRound = all }
VirtualInterfaces {
    e0:10.90.0.101/32 e0:10.90.0.102/32 e0:10.90.0.103/32
    e0:10.90.0.104/32 e0:10.90.0.105/32 e0:10.90.0.106/32
}
Notify { e0:10.90.0.50/32  arp-cache }
CONF
}

start() { # host number
    conf "$1" >"$dir/h$1.conf"
    ns "h$1" "$bin/wackamole" -d -c "$dir/h$1.conf" -p "$dir/h$1.pid" 2>>"$dir/h$1.log" &
    pids[$1]=$!
}

daemon_pid() { cat "$dir/h$1.pid" 2>/dev/null || true; }
alive() { local p; p=$(daemon_pid "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

allocation() {
    for i in 1 2 3; do
        if alive "$i"; then
            echo "-- h$i (wackatrl -l):"
            "$bin/wackatrl" -c "$dir/h$i.conf" -l | grep -A1 "Owner: 10.90.0.$i\$" | grep -v -- '^--$' || true
        else
            echo "-- h$i: down"
        fi
    done
}

held() { ip -n "$tag-h$1" -o -4 addr show dev e0 | grep -c 'inet 10.90.0.1[0-9][0-9]/' || true; }

counts() { # the VIPs held on each live host; "-" for a dead one
    local out=() i
    for i in 1 2 3; do
        if alive "$i"; then out+=("$(held "$i")"); else out+=("-"); fi
    done
    echo "${out[*]}"
}

settle() { # expected counts, e.g. "2 2 2" or "- 3 3"
    local until=$((SECONDS + 20))
    while [ "$SECONDS" -lt "$until" ]; do
        [ "$(counts)" = "$1" ] && return 0
        sleep 0.05
    done
    echo "not settled: $(counts), wanted $1" >&2
    tail -n 20 "$dir"/h*.log >&2
    return 1
}

say "Starting wackamole on h1 h2 h3 (Mature = 1s)"
t0=$(date +%s.%N)
for i in 1 2 3; do start "$i"; done
settle "2 2 2"
printf 'every VIP up exactly once, 2/2/2, after %.1f s\n' "$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo 0)"
allocation

victim=1
vip=$(ip -n "$tag-h$victim" -o -4 addr show dev e0 | grep -o '10\.90\.0\.1[0-9][0-9]' | head -n1)
say "The client pings $vip (held by h$victim) every 20 ms"
ns client ping -n -D -i 0.02 "$vip" >"$dir/ping.log" 2>&1 &
pinger=$!
sleep 1

say "Killing h$victim: its link goes down, wackamole gets SIGKILL, its $([ "$membership" = corosync ] && echo corosync || echo "Spread daemon") dies"
echo "(a dead host: its link goes first, so nothing it says reaches the others; its addresses"
echo " stay in its namespace, which nobody can reach)"
ip -n "$tag-h$victim" link set e0 down
{ kill -KILL "$(daemon_pid "$victim")"; wait "${pids[$victim]}"; } 2>/dev/null || true
rm -f "$dir/h$victim.pid"
pids[$victim]=
if [ "$membership" = corosync ]; then
    { kill -KILL "${cpids[$victim]}"; wait "${cpids[$victim]}"; } 2>/dev/null || true
    cpids[$victim]=
else
    ctl crash "d$victim"
fi
settle "- 3 3"
allocation
sleep 1
kill "$pinger"; wait "$pinger" 2>/dev/null || true; pinger=
outage=$(awk -F'[][]' '/bytes from/ { t = $2; if (last != "" && t - last > max) max = t - last; last = t }
                       END { printf "%.0f", max * 1000 }' "$dir/ping.log")
new=$(for i in 2 3; do if ip -n "$tag-h$i" -o -4 addr show dev e0 | grep -q "inet $vip/"; then echo "h$i"; fi; done)
echo "the client's pings to $vip resumed on $new: longest gap between replies ${outage} ms"
if [ "$membership" = corosync ]; then
    echo "(corosync noticed the dead host after about token + consensus = 2.2 x $token ms; with corosync's"
    echo " defaults, token 3000 ms + 650 ms per node beyond two, it takes about 8 s on three nodes)"
else
    echo "(spread-sim reports the failure at once; real Spread takes about 3 s with LAN defaults)"
fi

say "h$victim comes back: link up, $([ "$membership" = corosync ] && echo corosync || echo "Spread daemon") restarted, wackamole started"
ip -n "$tag-h$victim" link set e0 up
if [ "$membership" = corosync ]; then
    start_corosync "$victim"
    wait_ring 1 2 3
else
    ctl restart "d$victim"
fi
start "$victim"
settle "2 2 2"
echo "rebalanced: 2/2/2"
allocation

say "Done: cleaning up"
