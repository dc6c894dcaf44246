#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz-dhcp-packet-seeds.sh DIR — write the seed corpus of fuzz-dhcp-packet into DIR: one
# client message of each kind (DISCOVER, REQUEST in SELECTING, INIT-REBOOT and RENEWING,
# INFORM, DECLINE, RELEASE, options overloaded into file and sname), each as the bare
# BOOTP message and as the IPv4/UDP datagram around it. The client MAC and the addresses
# are those fuzz-dhcp-packet.c serves (02:11:22:33:44:55, 10.231.0.2 from 10.231.0.1).
set -eu

[ "$#" -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
exec python3 - "$1" <<'PY'
import os, struct, sys

out = sys.argv[1]
MAC = bytes.fromhex("021122334455")
ADDR, SERVER = bytes([10, 231, 0, 2]), bytes([10, 231, 0, 1])

def bootp(opts, ciaddr=b"\0" * 4, flags=0, file=b"", sname=b""):
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, 0xdeadbeef, 0, flags, ciaddr,
                       b"\0" * 4, b"\0" * 4, b"\0" * 4, MAC.ljust(16, b"\0"), sname.ljust(64, b"\0"),
                       file.ljust(128, b"\0"))
    return head + b"\x63\x82\x53\x63" + opts + b"\xff"

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff

def datagram(payload, src=b"\0" * 4, dst=b"\xff" * 4):
    udp = struct.pack("!HHHH", 68, 67, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0, 0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    c = csum(src + dst + struct.pack("!BBH", 0, 17, len(udp)) + udp) or 0xffff
    return ip + udp[:6] + struct.pack("!H", c) + udp[8:]

def opt(code, data):
    return bytes([code, len(data)]) + data

client_id = opt(61, b"\x01" + MAC)
prl = opt(55, bytes([1, 3, 6, 15, 28, 51, 58, 59]))
seeds = {
    "discover": bootp(opt(53, b"\x01") + client_id + prl + opt(57, b"\x05\xdc")),
    "discover-broadcast": bootp(opt(53, b"\x01") + prl, flags=0x8000),
    "request-selecting": bootp(opt(53, b"\x03") + opt(54, SERVER) + opt(50, ADDR) + client_id),
    "request-init-reboot": bootp(opt(53, b"\x03") + opt(50, ADDR)),
    "request-renewing": bootp(opt(53, b"\x03"), ciaddr=ADDR),
    "inform": bootp(opt(53, b"\x08") + prl, ciaddr=ADDR),
    "decline": bootp(opt(53, b"\x04") + opt(54, SERVER) + opt(50, ADDR)),
    "release": bootp(opt(53, b"\x07") + opt(54, SERVER), ciaddr=ADDR),
    "overload": bootp(opt(52, b"\x03"), file=opt(53, b"\x03") + b"\xff", sname=opt(50, ADDR) + b"\xff"),
}
for name, msg in seeds.items():
    with open(os.path.join(out, "msg-" + name), "wb") as f:
        f.write(msg)
    with open(os.path.join(out, "datagram-" + name), "wb") as f:
        f.write(datagram(msg, src=ADDR if name in ("request-renewing", "inform", "release") else b"\0" * 4))
PY
