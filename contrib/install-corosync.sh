#!/bin/sh
# Installs what the Corosync backend needs, if missing (Debian/Ubuntu):
# corosync to run, libcpg-dev to build `--features corosync`. Used by
# `make demo MEMBERSHIP=corosync` and CI; needs root for apt-get.
set -eu
if command -v corosync >/dev/null && [ -e /usr/include/corosync/cpg.h ]; then
    exit 0
fi
command -v apt-get >/dev/null || {
    echo "install corosync and libcpg's development files (Debian: libcpg-dev) first" >&2
    exit 1
}
echo "installing corosync and libcpg-dev..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends corosync libcpg-dev >/dev/null
# Debian starts the packaged service where systemd runs; the demo and
# the tests start their own, one per namespace.
if command -v systemctl >/dev/null && systemctl is-active --quiet corosync 2>/dev/null; then
    echo "note: the packaged corosync service is running; the demo's own run in their namespaces"
fi
