#!/usr/bin/env bash
# operator-features.sh — health checks, Quorum and ArpRefresh measured
# over real Spread 5.0.1 (issue 13's "done when"): three hosts in
# network namespaces, each with its own Spread daemon and a wackamole
# sharing six VIPs with
#
#   Quorum = 2, ArpRefresh = 2s and
#   Check { Run = $D/checkN  Interval = 1s  Fall = 2  Rise = 1 }
#
# where host N's check passes while $D/okN exists. It prints, in turn:
#   1. how long until host 1 holds nothing and hosts 2 and 3 hold every
#      VIP once after its check starts failing, and until the VIPs are
#      back in balance after it passes again;
#   2. how long until host 1, cut off alone, holds nothing while hosts 2
#      and 3 hold every VIP once, and that it stays empty;
#   3. how many ARP announcements of each VIP a client on the bridge
#      hears in 7 s (with ArpRefresh = 2s: at least 2 each).
# Root only; everything lives in namespaces it creates and removes.
# Needs tcpdump (installed with apt-get when missing).
#
#   TP, W  see real-spread-lib.sh
set -u
D=${D:-/var/tmp/wkm-operator-features}
NS=wof
. "$(dirname "$0")/real-spread-lib.sh"
command -v tcpdump >/dev/null || { apt-get update -qq && apt-get install -y -qq tcpdump >/dev/null; } || {
  echo "tcpdump is needed" >&2; exit 2; }
rs_setup
for i in 1 2 3; do
  printf '#!/bin/sh\ntest -e %s/ok%s\n' "$D" $i > "$D/check$i"; chmod 0755 "$D/check$i"
  touch "$D/ok$i"
  rs_conf $i "Quorum = 2
ArpRefresh = 2s
Check {
  Run = $D/check$i
  Interval = 1s
  Fall = 2
  Rise = 1
}"
done
rs_start_wackamole
wait_for "settled 1 2 3" 30000 >/dev/null || exit 1
balanced() { [ "$(held 1|grep -c .)" = 2 ] && [ "$(held 2|grep -c .)" = 2 ] && [ "$(held 3|grep -c .)" = 2 ]; }
wait_for balanced 30000 >/dev/null || exit 1
echo "settled: $(show)"

echo "== 1. a failing check (Interval 1s, Fall 2, Rise 1)"
rm "$D/ok1"
ms=$(wait_for '[ -z "$(held 1)" ] && settled 2 3' 30000) || exit 1
echo "check of h1 failing: h1 empty, h2+h3 hold every VIP once after $ms ms ($(show))"
touch "$D/ok1"
ms=$(wait_for balanced 30000) || exit 1
echo "check of h1 passing again: back in balance after $ms ms ($(show))"

echo "== 2. Quorum = 2: h1 cut off alone"
ip -n "${NS}sw" link set p1 down
ms=$(wait_for '[ -z "$(held 1)" ] && settled 2 3' 30000) || exit 1
echo "h1 alone: empty, h2+h3 hold every VIP once after $ms ms"
for _ in $(seq 50); do
  [ -z "$(held 1)" ] && settled 2 3 || { echo "broken while cut off: $(show)"; exit 1; }
  sleep 0.1
done
echo "still so 5 s later ($(show))"
ip -n "${NS}sw" link set p1 up
ms=$(wait_for balanced 30000) || exit 1
echo "healed: back in balance after $ms ms ($(show))"

echo "== 3. ArpRefresh = 2s: what a client hears in 7 s"
ip netns add "${NS}cl"
ip link add e0 netns "${NS}cl" type veth peer name pc netns "${NS}sw"
ip -n "${NS}sw" link set pc master br0; ip -n "${NS}sw" link set pc up
ip -n "${NS}cl" addr add 10.85.0.50/24 dev e0; ip -n "${NS}cl" link set e0 up
sleep 1
ip netns exec "${NS}cl" timeout 7 tcpdump -l -n -i e0 arp 2>/dev/null > "$D/arp.txt"
fail=0
for v in 101 102 103 104 105 106; do
  n=$(grep -c "Reply 10.85.0.$v is-at" "$D/arp.txt")
  echo "10.85.0.$v: $n announcements"
  [ "$n" -ge 2 ] || fail=1
done
[ $fail = 0 ] || { echo "a VIP was heard fewer than twice"; exit 1; }
echo "every VIP heard at least twice in 7 s"
