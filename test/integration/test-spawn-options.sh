#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn options: environment, --uuid, -E/--setenv, --chdir, --user lookups,
# no fd leaks, -q, --help/--version, default machine name cleanup, --resolv-conf,
# --timezone.
. "$(dirname "$0")/lib.sh"
setup

UUID_RE='[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}'
STD_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# ---- environment
export BERTH_CALLER_ONLY=should-not-leak
TERM=xterm run_payload -- env
ENV_ROOT=$OUTPUT
expect_rc "payload 'env' runs" 0
expect_line "container=berth" container=berth "$ENV_ROOT"
expect_match "container_uuid is set to a UUID" "^container_uuid=$UUID_RE\$" "$ENV_ROOT"
expect_line "PATH is the standard one" "PATH=$STD_PATH" "$ENV_ROOT"
expect_line "HOME=/root" HOME=/root "$ENV_ROOT"
expect_line "USER=root" USER=root "$ENV_ROOT"
expect_line "LOGNAME=root" LOGNAME=root "$ENV_ROOT"
expect_line "SHELL=/bin/sh (root's shell in the tree)" SHELL=/bin/sh "$ENV_ROOT"
expect_no_match "the caller's environment does not leak in" '^(BERTH_CALLER_ONLY|BERTH_TEST_MARKER|BERTH_SPAWN)=' "$ENV_ROOT"
expect_no_match "pipe mode: no TERM" '^TERM=' "$ENV_ROOT"
unset BERTH_CALLER_ONLY

run_payload --user=berthtest -- env
expect_line "--user: HOME from the tree's passwd" HOME=/home/berthtest
expect_line "--user: USER" USER=berthtest
expect_line "--user: LOGNAME" LOGNAME=berthtest
expect_line "--user: SHELL" SHELL=/bin/sh
expect_line "--user: container=berth" container=berth
expect_line "--user: PATH" "PATH=$STD_PATH"

uuid=0b6a3c1e-8f2d-4c5e-9a7b-123456789abc
run_payload --uuid=$uuid -- env
expect_line "--uuid: container_uuid is the given UUID" "container_uuid=$uuid"

run_payload -- env
u1=$(value container_uuid)
run_payload -- env
u2=$(value container_uuid)
if [ -n "$u1" ] && [ "$u1" != "$u2" ]; then
    pass "default UUID is random (differs between runs)"
else
    fail "default UUID is random (differs between runs)" "first: '$u1', second: '$u2'"
fi

run_payload -E FOO=bar --setenv=BAZ=a=b=c -- env
expect_line "-E NAME=VALUE" FOO=bar
expect_line "--setenv=NAME=VALUE with '=' in the value" BAZ=a=b=c
export BERTH_FROM_CALLER="caller value"
run_payload -E BERTH_FROM_CALLER -- env
expect_line "-E NAME takes the caller's value" "BERTH_FROM_CALLER=caller value"
unset BERTH_FROM_CALLER
run_payload -E FOO=1 -E FOO=2 -- env
expect_line "-E twice: the last one wins" FOO=2
expect_no_line "-E twice: only one value" FOO=1
run_payload -E PATH=/custom/bin:/usr/bin -- env
expect_line "-E PATH=... overrides the default PATH" PATH=/custom/bin:/usr/bin
expect_no_line "-E PATH=...: the default PATH is gone" "PATH=$STD_PATH"
run_payload -E EMPTY= -- env
expect_line "-E NAME= sets an empty value" EMPTY=

# ---- --chdir
run_payload --chdir=/etc -- cwd
expect_eq "--chdir=/etc" cwd=/etc "$OUTPUT"
run_payload --chdir=/home/berthtest --user=berthtest -- cwd
expect_eq "--chdir with --user" cwd=/home/berthtest "$OUTPUT"
run_spawn -P -D "$TREE" --chdir=/usr/bin /bin/sh -c 'pwd'
expect_eq "--chdir: the shell sees it" /usr/bin "$OUTPUT"

# ---- no fd leaks
{ run_payload -- fds; } 3</dev/null 7</dev/null 9>>"$SCRATCH/state/fd9" 100</dev/null
expect_line "pipe mode: only fds 0 1 2 reach the payload (berth-spawn had 3 7 9 100 open)" "fds=0 1 2"
{ run_payload --as-pid2 -- fds; } 3</dev/null 7</dev/null
expect_line "--as-pid2: only fds 0 1 2 reach the payload" "fds=0 1 2"
{ run_spawn --console=read-only -D "$TREE" "$PAYLOAD" fds; } 3</dev/null 7</dev/null
expect_line "read-only console: only fds 0 1 2 reach the payload" "fds=0 1 2"
{ run_payload --user=berthtest -- fds; } 3</dev/null 7</dev/null
expect_line "--user: only fds 0 1 2 reach the payload" "fds=0 1 2"
{ run_spawn -P -D "$TREE" /bin/sh -c 'ls /proc/self/fd | tr "\n" " "'; } 5</dev/null 8</dev/null
expect_eq "the shell sees only fds 0 1 2 (plus ls's own)" "0 1 2 3 " "$OUTPUT"

# ---- -q
run_payload -q -- exit 0
expect_eq "-q: nothing on stderr" "" "$ERROUT"
run_payload --quiet -- exit 0
expect_eq "--quiet: nothing on stderr" "" "$ERROUT"
run_payload -q -- echo hello-quiet
expect_eq "-q: the payload's output is intact" hello-quiet "$OUTPUT"

# ---- --help / --version
run_spawn --help
expect_rc "--help: exit status 0" 0
expect_match "--help: usage on stdout mentions --directory" '--directory'
run_spawn -h
expect_rc "-h: exit status 0" 0
run_spawn --version
expect_rc "--version: exit status 0" 0
expect_match "--version: prints a version" '[0-9]+\.[0-9]+'

# ---- machine name from the directory name
weird=$(new_tree "My Tree!")
RUN_TREE=$weird run_payload -- hostname
expect_rc "a tree whose name is not a valid machine name still runs" 0
expect_match "its machine name (hostname) is cleaned up into a valid one" '^hostname=[A-Za-z0-9_-][A-Za-z0-9._-]{0,62}[A-Za-z0-9_-]$'
long=$(new_tree "$(printf 'x%.0s' $(seq 1 80))")
RUN_TREE=$long run_payload -- hostname
expect_rc "a tree with an 80-character name still runs" 0
expect_match "its machine name is shortened to at most 64 characters" '^hostname=[A-Za-z0-9._-]{1,64}$'

# ---- --resolv-conf / --timezone (from a tree without /etc/resolv.conf and /etc/localtime;
# the other option stays at its default, which may create its file)
rm -f "$TREE/etc/resolv.conf" "$TREE/etc/localtime"
run_payload --resolv-conf=off -- read /etc/resolv.conf
expect_eq "--resolv-conf=off: /etc/resolv.conf not created" ENOENT "$OUTPUT"
if [ -e "$TREE/etc/resolv.conf" ]; then fail "--resolv-conf=off leaves the tree alone"; else pass "--resolv-conf=off leaves the tree alone"; fi
if [ -r /etc/resolv.conf ]; then
    host_len=$(wc -c </etc/resolv.conf)
    run_payload --resolv-conf=copy-host -- read /etc/resolv.conf
    expect_eq "--resolv-conf=copy-host: the host's resolv.conf inside" "len=$host_len" "$OUTPUT"
    run_payload --resolv-conf=bind-host -- write /etc/resolv.conf "nameserver 192.0.2.1"
    expect_eq "--resolv-conf=bind-host: read-only inside" EROFS "$OUTPUT"
    expect_eq "--resolv-conf=bind-host: the host's file is unchanged" "$host_len" "$(wc -c </etc/resolv.conf)"
else
    skip "--resolv-conf=copy-host" "the host has no /etc/resolv.conf"
fi
rm -f "$TREE/etc/resolv.conf"
printf 'nameserver 192.0.2.53\n' >"$TREE/etc/resolv.conf"
run_payload --resolv-conf=delete -- read /etc/resolv.conf
expect_eq "--resolv-conf=delete: no /etc/resolv.conf inside" ENOENT "$OUTPUT"
rm -f "$TREE/etc/resolv.conf" "$TREE/etc/localtime"

run_payload --timezone=off -- stat /etc/localtime
expect_eq "--timezone=off: /etc/localtime not created" "/etc/localtime ENOENT" "$OUTPUT"
if [ -e /etc/localtime ]; then
    run_payload --timezone=copy -- read /etc/localtime
    expect_eq "--timezone=copy: the host's zone file inside" "len=$(wc -c </etc/localtime)" "$OUTPUT"
else
    skip "--timezone=copy" "the host has no /etc/localtime"
fi
rm -f "$TREE/etc/localtime"
