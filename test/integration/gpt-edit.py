#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""gpt-edit.py IMAGE [--table=primary|backup|both] N FIELD=VALUE...

Change entry N (1-based) of the GPT of IMAGE (512-byte sectors) and recompute the
entry-array and header CRCs of the table(s) edited, so that each table stays valid on
its own: the way to make images that sfdisk refuses to write (overlapping partitions,
a partition beyond the end of the disk, a backup table that disagrees with the primary).
FIELD: first, last (LBA), attrs (integer), type, uuid (GUID strings)."""

import struct
import sys
import uuid
import zlib

SECTOR = 512


def guid_bytes(s):
    return uuid.UUID(s).bytes_le


def edit_table(f, header_lba, n, changes):
    f.seek(header_lba * SECTOR)
    hdr = bytearray(f.read(SECTOR))
    if hdr[:8] != b"EFI PART":
        sys.exit(f"gpt-edit.py: no GPT header at LBA {header_lba}")
    hsize = struct.unpack_from("<I", hdr, 12)[0]
    entries_lba, n_entries, entry_size = struct.unpack_from("<QII", hdr, 72)
    if not 1 <= n <= n_entries:
        sys.exit(f"gpt-edit.py: no entry {n}")
    f.seek(entries_lba * SECTOR)
    ents = bytearray(f.read(n_entries * entry_size))
    off = (n - 1) * entry_size
    for key, val in changes:
        if key == "type":
            ents[off:off + 16] = guid_bytes(val)
        elif key == "uuid":
            ents[off + 16:off + 32] = guid_bytes(val)
        elif key == "first":
            struct.pack_into("<Q", ents, off + 32, int(val, 0))
        elif key == "last":
            struct.pack_into("<Q", ents, off + 40, int(val, 0))
        elif key == "attrs":
            struct.pack_into("<Q", ents, off + 48, int(val, 0))
        else:
            sys.exit(f"gpt-edit.py: unknown field {key}")
    struct.pack_into("<I", hdr, 88, zlib.crc32(ents) & 0xffffffff)
    struct.pack_into("<I", hdr, 16, 0)
    struct.pack_into("<I", hdr, 16, zlib.crc32(bytes(hdr[:hsize])) & 0xffffffff)
    f.seek(entries_lba * SECTOR)
    f.write(ents)
    f.seek(header_lba * SECTOR)
    f.write(hdr)


def main(argv):
    table = "both"
    args = []
    for a in argv[1:]:
        if a.startswith("--table="):
            table = a.split("=", 1)[1]
        else:
            args.append(a)
    if len(args) < 3 or table not in ("primary", "backup", "both"):
        sys.exit(__doc__)
    image, n = args[0], int(args[1])
    changes = [a.split("=", 1) for a in args[2:]]
    with open(image, "r+b") as f:
        f.seek(SECTOR)
        primary = f.read(SECTOR)
        backup_lba = struct.unpack_from("<Q", primary, 32)[0]
        if table in ("primary", "both"):
            edit_table(f, 1, n, changes)
        if table in ("backup", "both"):
            edit_table(f, backup_lba, n, changes)


if __name__ == "__main__":
    main(sys.argv)
