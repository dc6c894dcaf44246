#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz-uid-map-seeds.sh DIR — write the seed corpus of fuzz-uid-map into DIR: uid_map
# texts as the kernel prints them (the host's identity map, a -U range, several lines)
# and near misses (root unmapped, a range of 0, too few fields, a host UID above 2^32).
set -eu

[ "$#" -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
cd "$1"
printf '         0          0 4294967295\n' >host
printf '         0     524288      65536\n' >picked
printf '         0    1000000      65536\n     65536    2000000          1\n' >two-lines
printf '      1000          0          1\n' >root-unmapped
printf '         0     524288          0\n' >empty-range
printf '         0     524288\n' >two-fields
printf '         0 4294967296      65536\n' >above-32-bit
printf '' >empty
