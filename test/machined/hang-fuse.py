#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hang-fuse.py DIR READY-FILE: mount a FUSE file system on DIR that answers FUSE_INIT and
then never answers anything else, the way a stuck network file system (or a hostile FUSE
server) behaves: every stat, open or read below DIR blocks until this process dies.
Writes READY-FILE once mounted and stays in the foreground; killing it (any signal)
closes /dev/fuse, which aborts the connection and makes every blocked call fail."""
import ctypes
import os
import struct
import sys

FUSE_INIT = 26
MS_NOSUID, MS_NODEV = 2, 4

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 4 + [ctypes.c_ulong, ctypes.c_char_p]
libc.mount.argtypes[3] = ctypes.c_ulong
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def main():
    target, ready = sys.argv[1], sys.argv[2]
    fd = os.open("/dev/fuse", os.O_RDWR)
    opts = f"fd={fd},rootmode=40755,user_id=0,group_id=0,allow_other".encode()
    if libc.mount(b"hang-fuse", target.encode(), b"fuse", MS_NOSUID | MS_NODEV, opts) != 0:
        e = ctypes.get_errno()
        sys.exit(f"mount {target}: {os.strerror(e)}")
    with open(ready, "w") as f:
        f.write(f"{os.getpid()}\n")
    while True:
        req = os.read(fd, 1 << 20)
        # struct fuse_in_header: len, opcode, unique, nodeid, uid, gid, pid, padding
        _len, opcode, unique = struct.unpack_from("<IIQ", req)
        if opcode != FUSE_INIT:
            continue   # never answered: the caller blocks
        major, minor = struct.unpack_from("<II", req, 40)
        # struct fuse_init_out (protocol 7.31): major, minor, max_readahead, flags,
        # max_background, congestion_threshold, max_write, time_gran, max_pages,
        # map_alignment, flags2, unused[7]
        body = struct.pack("<IIIIHHIIHHI7I", 7, 31, 0, 0, 16, 12, 4096, 1, 1, 0, 0, *([0] * 7))
        os.write(fd, struct.pack("<IiQ", 16 + len(body), 0, unique) + body)


main()
