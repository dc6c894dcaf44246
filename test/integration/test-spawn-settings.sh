#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Settings files (berth.nspawn(5), systemd.nspawn(5)'s format): NAME.nspawn next to the
# tree (untrusted) and in /run/berth (trusted), each key's effect inside the machine, the
# keys an untrusted file cannot set, the command line's precedence, --settings=override,
# trusted and no, malformed values and unknown keys, the file in the state file, and
# --ephemeral/--template= finding the original tree's file.
. "$(dirname "$0")/lib.sh"
setup

# Files this test puts in the shared trusted directory, removed whatever happens.
TRUSTED_DIR=/run/berth
TRUSTED_FILES=()
trap 'rc_=$?; rm -f "${TRUSTED_FILES[@]}"; (exit $rc_); cleanup' EXIT

NEXT=$SCRATCH/$MACHINE.nspawn     # next to the tree: untrusted
cap_field() { awk -v k="Cap$1:" '$1 == k { print $2 }' <<<"$OUTPUT"; }
HOSTDIR=$SCRATCH/hostdir
mkdir -p "$HOSTDIR"
echo from-the-host >"$HOSTDIR/marker"

# ---- untrusted file next to the tree: the safe keys apply
cat >"$NEXT" <<EOF2
# a comment
[Exec]
Environment=FROM_FILE=yes "SPACED=a b"
Hostname=fromfile
WorkingDirectory=/etc
Capability=CAP_SYS_TIME
DropCapability=CAP_MKNOD

[Files]
Bind=$HOSTDIR:/mnt/host
EOF2
run_payload -- env
expect_rc "untrusted file: runs" 0
expect_line "Environment= is in the payload's environment" FROM_FILE=yes
expect_line "Environment= with a quoted value" "SPACED=a b"
expect_match "the file in use is logged" "Using settings file $NEXT \\(untrusted\\)" "$ERROUT"
run_payload -- hostname
expect_line "Hostname= sets the machine's hostname" hostname=fromfile
run_payload -- cwd
expect_eq "WorkingDirectory= is the payload's cwd" cwd=/etc "$OUTPUT"
run_payload -- caps
expect_eq "untrusted: Capability= is ignored, DropCapability= applies" \
    "$(caps_mask ${DEFAULT_CAPS/MKNOD/})" "$(cap_field Bnd)"
expect_match "untrusted: one warning for Capability=" "Ignoring Capability= setting, file $NEXT is not trusted" "$ERROUT"
expect_match "untrusted: one warning for Bind=" "Ignoring Bind= setting, file $NEXT is not trusted" "$ERROUT"
expect_eq "untrusted: exactly one warning per ignored key" 2 "$(grep -c 'is not trusted' <<<"$ERROUT")"
run_spawn -P -D "$TREE" /bin/sh -c 'cat /mnt/host/marker 2>&1 || echo no-bind'
expect_line "untrusted: Bind= is not mounted" no-bind

# ---- --settings=trusted: the same file, all of it
run_spawn -P --settings=trusted -D "$TREE" /bin/sh -c 'cat /mnt/host/marker'
expect_line "--settings=trusted: Bind= file visible inside" from-the-host
expect_no_match "--settings=trusted: no trust warnings" 'not trusted' "$ERROUT"
run_payload --settings=trusted -- caps
expect_eq "--settings=trusted: Capability= adds CAP_SYS_TIME, DropCapability= drops MKNOD" \
    "$(caps_mask ${DEFAULT_CAPS/MKNOD/} SYS_TIME)" "$(cap_field Bnd)"

# ---- the command line wins, per group; --settings=override lets the file win
run_payload --hostname=cmdline -- hostname
expect_line "--hostname= beats Hostname=" hostname=cmdline
run_payload -E ONLY=cmdline -- env
expect_line "-E replaces the file's Environment=" ONLY=cmdline
expect_no_line "-E: the file's Environment= is not used" FROM_FILE=yes
run_payload --settings=override --hostname=cmdline -- hostname
expect_line "--settings=override: Hostname= beats --hostname=" hostname=fromfile
run_payload --settings=override -E ONLY=cmdline -- env
expect_line "--settings=override: the file's Environment=" FROM_FILE=yes
expect_no_line "--settings=override: -E is replaced, not merged" ONLY=cmdline
run_payload --settings=no -- hostname
expect_line "--settings=no: the file is not read" "hostname=$MACHINE"
expect_no_match "--settings=no: not logged either" 'settings file' "$ERROUT"

# ---- malformed values, unknown keys and sections
printf '[Exec]\nHostname=ok\n\nKillSignal=SIGNOPE\n' >"$NEXT"
run_spawn -P -D "$TREE" /bin/true
expect_rc "a malformed value: exit status 1" 1
expect_match "a malformed value names file:line" "$NEXT:4: .*SIGNOPE" "$ERROUT"
printf '[Files]\nReadOnly=perhaps\n' >"$NEXT"
run_spawn -P -D "$TREE" /bin/true
expect_rc "a malformed boolean: exit status 1" 1
expect_match "a malformed boolean names file:line and the key" "$NEXT:2: Invalid boolean 'perhaps' for ReadOnly=" "$ERROUT"
printf '[Exec]\nNoSuchKey=1\nHostname=stillread\n[Nope]\nHostname=ignored\n' >"$NEXT"
run_payload -- hostname
expect_rc "unknown key and section: runs" 0
expect_match "unknown key: a warning with file:line" "$NEXT:2: Unknown key NoSuchKey= in section \\[Exec\\]" "$ERROUT"
expect_match "unknown section: a warning with file:line" "$NEXT:4: Unknown section \\[Nope\\]" "$ERROUT"
expect_line "the known keys still apply, the unknown section's do not" hostname=stillread

# ---- flags: ReadOnly=, ProcessTwo= with Parameters=
cat >"$NEXT" <<'EOF2'
[Exec]
ProcessTwo=yes
Parameters=/bin/sh -c "echo pid=$$; touch /x 2>/dev/null && echo writable || echo read-only"
[Files]
ReadOnly=yes
EOF2
run_spawn -P -D "$TREE"
expect_line "ProcessTwo=yes: the payload (from Parameters=) is PID 2" pid=2
expect_line "ReadOnly=yes: the root is read-only" read-only
run_spawn -P -D "$TREE" /bin/sh -c 'echo pid=$$'
expect_line "a command on the command line masks ProcessTwo= and Parameters= (as nspawn)" pid=1

# ---- a trusted file in /run/berth is found first, and applies Bind=
# (a machine name of this run's own: a file left behind by a killed run must not change
# the machines of other tests)
TNAME=settings-t$$
T=$TRUSTED_DIR/$TNAME.nspawn
NEXT_T=$SCRATCH/$TNAME.nspawn
mkdir -p "$TRUSTED_DIR"
TRUSTED_FILES+=("$T")
printf '[Exec]\nHostname=trusted\n[Files]\nBindReadOnly=%s:/mnt/host\n' "$HOSTDIR" >"$T"
printf '[Exec]\nHostname=untrusted\n' >"$NEXT_T"
run_spawn -P -D "$TREE" -M "$TNAME" /bin/sh -c 'hostname; cat /mnt/host/marker; touch /mnt/host/x 2>/dev/null || echo ro'
expect_line "the trusted directory comes before the file next to the tree" trusted
expect_line "trusted: BindReadOnly= file visible inside" from-the-host
expect_line "BindReadOnly=: read-only" ro
expect_match "the trusted file is logged as trusted" "Using settings file $T \\(trusted\\)" "$ERROUT"
expect_no_match "trusted: no warnings" 'not trusted' "$ERROUT"

# the state file names the file in use
spawn_bg "$SCRATCH/state/bg.out" "$SCRATCH/state/bg.err" -P -D "$TREE" -M "$TNAME" /bin/sh -c 'echo started; sleep 30'
wait_for "$SCRATCH/state/bg.out" '^started' 10
expect_eq "state file: SETTINGS= is the file in use" "$T" "$(sed -n 's/^SETTINGS=//p' /run/berth/spawn/"$TNAME")"
expect_eq "state file: SETTINGS_TRUSTED=yes" yes "$(sed -n 's/^SETTINGS_TRUSTED=//p' /run/berth/spawn/"$TNAME")"
kill -TERM "$BG_PID"
wait_bg "$SCRATCH/state/bg.out" "$SCRATCH/state/bg.err" 10
rm -f "$T" "$NEXT_T"
ok_if "the trusted file is removed again" test ! -e "$T"

# ---- --ephemeral and --template= find the original tree's file
printf '[Exec]\nHostname=original\n' >"$NEXT"
run_payload -x -- hostname
expect_line "--ephemeral: the original tree's settings" hostname=original
run_payload -x -M other-name -- hostname
expect_line "--ephemeral -M: still the original tree's settings" hostname=original
NEWDIR=$SCRATCH/fresh/made-from-template
mkdir -p "$SCRATCH/fresh"
run_spawn -P -D "$NEWDIR" --template="$TREE" "$PAYLOAD" hostname
expect_line "--template=: the template's settings" hostname=original
rm -rf "$NEWDIR"

# ---- LimitXXX= and OOMScoreAdjust=: trusted only (they are --rlimit= and --oom-score-adjust=)
printf '[Exec]\nLimitNOFILE=1000:2000\nOOMScoreAdjust=300\n' >"$NEXT"
run_spawn -P --settings=trusted -D "$TREE" /bin/sh -c 'echo soft=$(ulimit -n) hard=$(ulimit -Hn) oom=$(cat /proc/self/oom_score_adj)'
expect_line "trusted: LimitNOFILE= and OOMScoreAdjust= apply inside" "soft=1000 hard=2000 oom=300"
run_spawn -P -D "$TREE" /bin/sh -c 'echo soft=$(ulimit -n) oom=$(cat /proc/self/oom_score_adj)'
expect_no_line "untrusted: LimitNOFILE= and OOMScoreAdjust= do not apply" "soft=1000 oom=300"
expect_match "untrusted: LimitNOFILE= warned about" "Ignoring LimitNOFILE= setting, file $NEXT is not trusted" "$ERROUT"
expect_match "untrusted: OOMScoreAdjust= warned about" "Ignoring OOMScoreAdjust= setting, file $NEXT is not trusted" "$ERROUT"
run_spawn -P --settings=trusted --rlimit=NOFILE=500 -D "$TREE" /bin/sh -c 'echo soft=$(ulimit -n) oom=$(cat /proc/self/oom_score_adj)'
expect_line "--rlimit=NOFILE= beats LimitNOFILE=, OOMScoreAdjust= still applies" "soft=500 oom=300"

# ---- Parameters=: the command when none is given
printf '[Exec]\nParameters=%s hostname\n' "$PAYLOAD" >"$NEXT"
run_spawn -P --hostname=viaparams -D "$TREE"
expect_line "Parameters= is the command without one on the command line" hostname=viaparams
rm -f "$NEXT"
