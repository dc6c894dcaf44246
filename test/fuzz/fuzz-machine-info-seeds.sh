#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz-machine-info-seeds.sh DIR — write the seed corpus of fuzz-machine-info into DIR:
# state files as berthd writes them (/run/berth/machines/NAME): a container with every
# field, a minimal vm, one with a systemd scope, and a torn one.
set -eu

[ "$#" -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
out=$1
mkdir -p "$out"

cat >"$out/full" <<'STATE'
VERSION=1
NAME=web-1
ID=0123456789abcdef0123456789abcdef
CLASS=container
SERVICE=berth
UNIT=machine-web-1.scope
ROOT=/var/lib/machines/web-1
LEADER=4242
LEADER_STARTTIME=123456789
TIMESTAMP=1700000000000000
TIMESTAMP_MONOTONIC=99999999
NETIF=3 17
CGROUP=machine.slice/machine-web-1.scope
SUPERVISOR=4241
SUPERVISOR_STARTTIME=123456700
STATE

cat >"$out/minimal" <<'STATE'
VERSION=1
NAME=vm0
CLASS=vm
LEADER=2
LEADER_STARTTIME=0
STATE

cat >"$out/scope" <<'STATE'
VERSION=1
NAME=s
CLASS=container
UNIT=machine-s.scope
LEADER=100
LEADER_STARTTIME=5
SYSTEMD_SCOPE=1
STATE

printf 'VERSION=1\nNAME=torn\nCLASS=container\nLEADER=7\nLEADER_START' >"$out/torn"
