#!/usr/bin/env bash
# silent-member.sh — one measurement, over real Spread 5.0.1: three hosts
# in network namespaces (10.85.0.1-3 on a bridge), each with its own
# Spread daemon and a wackamole sharing six VIPs; a silent spuser joins
# the group (SILENT=0: none); host 3 is killed (wackamole, its Spread
# daemon, its link); prints how long until its VIPs are on hosts 1 and 2.
# Root only; everything lives in namespaces it creates and removes.
#
#   TP   the reference build of ../shared/thirdparty/build.sh PREFIX
#        (default target/thirdparty, which tests/mixed.rs builds)
#   W    the wackamole binary (default target/debug/wackamole)
#   EXTRA  more config lines (EXTRA="GatherTimeout = 0s": wait as C)
#
# Each Spread daemon gets a private /tmp (its Unix socket is always
# /tmp/4803), so wackamole reaches it over TCP.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
TP=${TP:-$here/target/thirdparty}
W=${W:-$here/target/debug/wackamole}
D=${D:-/var/tmp/wkm-silent-member}
SILENT=${SILENT:-1}
[ -x "$TP/spread/sbin/spread" ] || { echo "no Spread build in $TP (run ../shared/thirdparty/build.sh $TP)" >&2; exit 2; }
[ -x "$W" ] || { echo "no $W (cargo build)" >&2; exit 2; }
rm -rf "$D"; mkdir -p -m 0755 "$D"  # the control sockets: only root writes it
cleanup() {
  for p in $(cat $D/pids 2>/dev/null); do kill -9 $p 2>/dev/null; done
  for n in sw h1 h2 h3; do ip netns del spr$n 2>/dev/null; done
}
trap 'cleanup; rm -rf "$D"' EXIT
: > $D/pids
mkdir -p $D/run
ip netns add sprsw; ip -n sprsw link add br0 type bridge; ip -n sprsw link set br0 up
for i in 1 2 3; do
  ip netns add sprh$i
  ip link add e0 netns sprh$i type veth peer name p$i netns sprsw
  ip -n sprsw link set p$i master br0; ip -n sprsw link set p$i up
  ip -n sprh$i addr add 10.85.0.$i/24 dev e0; ip -n sprh$i link set e0 up; ip -n sprh$i link set lo up
done
cat > $D/spread.conf <<C
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
  ip netns exec sprh$i unshare -m --propagation private sh -c "mount -t tmpfs none /tmp && exec stdbuf -oL $TP/spread/sbin/spread -n h$i -c $D/spread.conf" > $D/spread$i.log 2>&1 &
  echo $! >> $D/pids
  cat > $D/h$i.conf <<C
Spread = 4803@10.85.0.$i
SpreadRetryInterval = 1s
Group = wack
Control = $D/h$i.ctl
NodeAddress = 10.85.0.$i
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
${EXTRA:-}
C
done
sleep 3
for i in 1 2 3; do
  ip netns exec sprh$i $W -d -c $D/h$i.conf > $D/w$i.log 2>&1 &
  echo $! >> $D/pids
done
held() { ip -n sprh$1 -4 -o addr show dev e0 | awk '{print $4}' | grep -o '^10\.85\.0\.10[1-6]' ; }
settled() { # all six once among the hosts given
  local all=$(for h in "$@"; do held $h; done | sort)
  [ "$(echo "$all" | sort -u | grep -c .)" = 6 ] && [ "$(echo "$all" | grep -c .)" = 6 ]
}
t0=$(date +%s%N)
until settled 1 2 3; do sleep 0.05; [ $(( ($(date +%s%N)-t0)/1000000 )) -gt 30000 ] && { echo "never settled: $(held 1) / $(held 2) / $(held 3)"; ip -n sprh1 -4 -o addr show dev e0; exit 1; }; done
echo "settled: h1 $(held 1|tr '\n' ' ') h2 $(held 2|tr '\n' ' ') h3 $(held 3|tr '\n' ' ')"
if [ "$SILENT" = 1 ]; then
  # A silent member: joins, never sends (its stdin stays open).
  (echo "j wack"; sleep 120) | ip netns exec sprh1 unshare -m --propagation private sh -c "mount -t tmpfs none /tmp && exec $TP/spread/bin/spuser -u silent -s 4803@10.85.0.1" > $D/spuser.log 2>&1 &
  echo $! >> $D/pids
  sleep 5
  echo "with the silent member: h1 $(held 1|tr '\n' ' ') h2 $(held 2|tr '\n' ' ') h3 $(held 3|tr '\n' ' ')"
fi
lost=$(held 3 | tr '\n' ' ')
# Kill host 3: its wackamole, its Spread daemon, its link.
pkill -9 -f "$D/h3.conf"; pkill -9 -f "spread -n h3"; ip -n sprh3 link set e0 down
t0=$(date +%s%N)
until settled 1 2; do sleep 0.02; [ $(( ($(date +%s%N)-t0)/1000000 )) -gt ${GIVE_UP_MS:-60000} ] && { echo "VIPs of h3 ($lost) not on h1/h2 after ${GIVE_UP_MS:-60000} ms"; exit 1; }; done
echo "VIPs of h3 ($lost) on h1/h2 after $(( ($(date +%s%N)-t0)/1000000 )) ms"
