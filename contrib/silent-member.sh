#!/usr/bin/env bash
# silent-member.sh — one measurement, over real Spread 5.0.1: three hosts
# in network namespaces (10.85.0.1-3 on a bridge), each with its own
# Spread daemon and a wackamole sharing six VIPs; a silent spuser joins
# the group (SILENT=0: none); host 3 is killed (wackamole, its Spread
# daemon, its link); prints how long until its VIPs are on hosts 1 and 2.
# Root only; everything lives in namespaces it creates and removes.
#
#   TP, W  see real-spread-lib.sh
#   EXTRA  more config lines (EXTRA="GatherTimeout = 0s": wait as C)
#
# The harness (namespaces, Spread daemons, configs) is real-spread-lib.sh.
set -u
D=${D:-/var/tmp/wkm-silent-member}
NS=spr
SILENT=${SILENT:-1}
. "$(dirname "$0")/real-spread-lib.sh"
rs_setup
for i in 1 2 3; do rs_conf $i "${EXTRA:-}"; done
rs_start_wackamole
t0=$(now_ms)
until settled 1 2 3; do sleep 0.05; [ "$(since $t0)" -gt 30000 ] && { echo "never settled: $(show)"; exit 1; }; done
echo "settled: $(show)"
if [ "$SILENT" = 1 ]; then
  # A silent member: joins, never sends (its stdin stays open).
  (echo "j wack"; sleep 120) | ip netns exec sprh1 unshare -m --propagation private sh -c "mount -t tmpfs none /tmp && exec $TP/spread/bin/spuser -u silent -s 4803@10.85.0.1" > $D/spuser.log 2>&1 &
  echo $! >> $D/pids
  sleep 5
  echo "with the silent member: $(show)"
fi
lost=$(held 3 | tr '\n' ' ')
# Kill host 3: its wackamole, its Spread daemon, its link.
pkill -9 -f "$D/h3.conf"; pkill -9 -f "spread -n h3"; ip -n sprh3 link set e0 down
ms=$(wait_for "settled 1 2" "${GIVE_UP_MS:-60000}") || exit 1
echo "VIPs of h3 ($lost) on h1/h2 after $ms ms"
