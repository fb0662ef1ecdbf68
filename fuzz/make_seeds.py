#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (fuzz/seeds/TARGET/) from the
project's own golden data: the Spread 5.0.1 and wackamole 2.1.4
captures, the sample and test configs, and hand-built frames. Run from
the repository root; the output is committed."""

import glob
import hashlib
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "seeds")


def put(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# Configs as written.
for p in [os.path.join(ROOT, "wackamole.conf.sample")] + sorted(
    glob.glob(os.path.join(ROOT, "tests", "data", "*.conf"))
):
    put("config_parse", open(p, "rb").read())

# Spread: what each client of each capture received, whole (the first
# byte is the split size the target uses).
for p in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "spread-5.0.1", "*.txt"))):
    streams = {}
    lines = open(p).read().splitlines()
    for head, body in zip(lines, lines[1:]):
        m = re.match(r"\S+ S->C\s+client:(\S+) len=\d+", head)
        if m and re.fullmatch(r"\s+[0-9a-f]+", body):
            streams.setdefault(m.group(1), bytearray()).extend(bytes.fromhex(body.strip()))
    for s in streams.values():
        # Skip the handshake's first bytes: messages start after it.
        for split in (1, 7, 48):
            put("spread_decoder", bytes([split]) + bytes(s))

# The engine: each capture's deliveries as a program (a view of three,
# then each message AGREED, or RELIABLE for ARPCACHE).
for p in sorted(glob.glob(os.path.join(ROOT, "tests", "data", "wackamole-2.1.4", "*.decoded.txt"))):
    prog = bytearray([0, 2])
    for line in open(p):
        m = re.search(r"(AGREED|RELIABLE) from=\S+#tb(\d) type=(\d+)\(\w+\) len=(\d+) body=([0-9a-f]*)", line)
        if not m:
            continue
        body = bytes.fromhex(m.group(5))[:255]
        how = 0 if m.group(1) == "AGREED" else 1
        prog += bytes([1, int(m.group(2)) - 1, int(m.group(3)), how, len(body)]) + body
    prog += bytes([2, 3, 2, 0, 2, 1])
    put("engine_messages", bytes(prog))

# Control: request bytes, a C state reply (one VIF, 900 bytes), JSON.
put("control_protocol", bytes([0, 1, 2, 3, 4, 5]))
vif = struct.pack(">i", 2) + (b"eth0" + b"\0" * 12 + bytes([10, 0, 0, 1]) + struct.pack(">I", 32) + b"\0" * 4) * 32
put("control_protocol", vif[:900].ljust(900, b"\0"))
put("control_protocol", b'{"ok":true,"message":"reloaded: nothing changed"}')
put("control_protocol", b'{"node":"10.0.0.1","vifs":[{"id":"192.0.2.10","addresses":["eth0:192.0.2.10/24"],"owner":null,"held_here":false}],"counts":{"vifs":1}}')

# Frames: an ARP reply, an ICMP echo request and an IPv6 NA.
mac_a, mac_b = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
ip_a, ip_b = bytes([10, 0, 0, 100]), bytes([10, 0, 0, 2])
arp = b"\xff" * 6 + mac_a + b"\x08\x06" + struct.pack(">HHBBH", 1, 0x0800, 6, 4, 2) + mac_a + ip_a + b"\xff" * 6 + ip_b
put("frames", arp)
ip = struct.pack(">BBHHHBBH", 0x45, 0, 28, 0, 0, 64, 1, 0) + ip_a + ip_b
put("frames", mac_b + mac_a + b"\x08\x00" + ip + struct.pack(">BBHHH", 8, 0, 0, 1, 1))
na = struct.pack(">BBHI", 136, 0, 0, 0x20000000) + bytes(16) + bytes([2, 1]) + mac_a
ip6 = struct.pack(">IHBB", 0x60000000, len(na), 58, 255) + bytes(16) + bytes.fromhex("ff02" + "00" * 13 + "01")
put("frames", b"\x33\x33\x00\x00\x00\x01" + mac_a + b"\x86\xdd" + ip6 + na)

# /proc/net/arp.
put("proc_net_arp", b"""IP address       HW type     Flags       HW address            Mask     Device
192.168.78.3     0x1         0x2         e2:26:dc:4f:1d:5a     *        eth0
192.168.78.2     0x1         0x0         00:00:00:00:00:00     *        eth0
10.0.0.1         0x1         0x6         52:54:00:12:34:56     *        eth1
""")
