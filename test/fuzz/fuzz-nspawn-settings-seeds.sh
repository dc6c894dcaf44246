#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz-nspawn-settings-seeds.sh DIR — write the seed corpus of fuzz-nspawn-settings into
# DIR: a file with every section and a valid value for most keys, one with list values,
# quoting, continuation lines, empty (resetting) assignments and comments, and files with
# what the parser must warn about or refuse (unknown sections and keys, a key outside a
# section, a bad header, an unbalanced quote, a malformed value).
set -eu

[ "$#" -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
out=$1
mkdir -p "$out"

cat >"$out/all" <<'NSPAWN'
[Exec]
Boot=no
ProcessTwo=yes
Ephemeral=no
Parameters=/bin/sh -c "echo hi"
Environment=A=1 B=2
User=root
WorkingDirectory=/tmp
Capability=CAP_NET_ADMIN CAP_SYS_TIME
DropCapability=CAP_MKNOD
NoNewPrivileges=yes
KillSignal=SIGTERM
MachineID=0b6a3c1e8f2d4c5e9a7b123456789abc
PrivateUsers=pick
NotifyReady=no
SystemCallFilter=~@clock
LimitNOFILE=1024:4096
OOMScoreAdjust=100
CPUAffinity=0-1
Hostname=seed
ResolvConf=off
Timezone=off
LinkJournal=no
SuppressSync=yes
Personality=x86-64
PivotRoot=/sysroot

[Files]
ReadOnly=yes
Volatile=no
Bind=/srv:/mnt:norbind
BindReadOnly=/etc
TemporaryFileSystem=/var/tmp:mode=0700
Inaccessible=/proc/kcore
Overlay=/a:/b:/c
OverlayReadOnly=/a:/c
PrivateUsersOwnership=auto
PrivateUsersChown=no
BindUser=nobody

[Network]
Private=yes
VirtualEthernet=yes
VirtualEthernetExtra=ext0:inner0
Interface=dummy0
MACVLAN=eth0
IPVLAN=eth1
Zone=seed
Port=tcp:8080:80
NSPAWN

cat >"$out/lists" <<'NSPAWN'
# comment
; another comment
[Exec]
Environment="SPACED=a b" 'QUOTED=x' ESCAPED=c\ d
Environment=
Environment=AFTER_RESET=1
Capability=CAP_SYS_ADMIN \
    CAP_NET_RAW
  Hostname  =  padded  
[Network]
Interface=a b c
NSPAWN

printf '[Exec]\r\nHostname=crlf\r\n' >"$out/crlf"
printf 'Hostname=outside\n[Bogus]\nX=1\n[Exec]\nNoSuchKey=1\nnot an assignment\n' >"$out/warnings"
printf '[Exec\nHostname=x\n' >"$out/bad-header"
printf '[Exec]\nEnvironment="unbalanced\n' >"$out/bad-quote"
printf '[Exec]\nKillSignal=SIGNOPE\n' >"$out/bad-value"
printf '[Exec]\nEnvironment=NOVALUE\n' >"$out/bad-environment"
printf '[Exec]\nHostname=a\\' >"$out/continuation-at-eof"
