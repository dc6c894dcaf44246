#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd's OpenMachineShell/Login/PTY and berthctl shell/login on berth-spawn machines of a
# busybox tree (no systemd, no D-Bus inside): the command's exit status comes back; the
# shell is entirely the machine's (namespaces, cgroup, bounding set, system call filter,
# user from the guest's /etc/passwd, -U's UID map) and holds nothing of berthd; busybox's
# own login prompt over the pty; poweroff and reboot of a busybox init with its signals.

source "$(dirname "$0")/lib.sh"
setup
[ -x "${BERTH_SPAWN:-}" ] || { echo "Bail out! berth-spawn not found at ${BERTH_SPAWN:-}"; exit 1; }
[ -x "${BERTHCTL:-}" ] || { echo "Bail out! berthctl not found at ${BERTHCTL:-}"; exit 1; }
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
PTY_DRIVER=$MD_SRCDIR/test/integration/pty-driver.py
"$TOOLS/make-busybox-tree.sh" "$TMP/tree" >/dev/null || { echo "Bail out! no busybox tree"; exit 1; }
# an init for --boot: busybox's, with an inittab that starts nothing
ln -s ../bin/busybox "$TMP/tree/usr/sbin/init"
printf '::sysinit:/bin/true\n::shutdown:/bin/true\n' >"$TMP/tree/etc/inittab"
# a login that lets root in without a password
sed -i 's/^root:x:/root::/' "$TMP/tree/etc/passwd"

if start_berthd; then pass "berthd started"; else fail "berthd started"; finish; fi

# machine1's signatures, untouched; berth's own method on its own interface
intro=$(busctl introspect "$DEST" "$MGR_PATH" "$MGR")
for m in "OpenMachinePTY s hs" "OpenMachineLogin s hs" "OpenMachineShell sssasas hs"; do
    set -- $m
    ok_if "Manager.$1 has signature $2 -> $3" grep -qE "^\.$1 +method +$2 +$3 " <<<"$intro"
done
ok_if "io.berth.Manager1.OpenMachineShellWithStatus sssasas -> hsh" \
    grep -qE "^\.OpenMachineShellWithStatus +method +sssasas +hsh " <<<"$(busctl introspect "$DEST" "$MGR_PATH" io.berth.Manager1)"

SPAWNS=()
# spawn NAME ARGS...: a registered berth-spawn machine in the background; $SPAWN, $LEADER
spawn() {
    local name=$1
    shift
    timeout -k 5 120 "$BERTH_SPAWN" -q --register=yes -M "$name" "$@" </dev/null >"$TMP/$name.out" 2>&1 &
    SPAWN=$!
    SPAWNS+=("$SPAWN")
    wait_until 10 mgr GetMachine s "$name"
    LEADER=$(mprop "$name" Leader | awk '{ print $2 }')
}
status_field() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"
}

M=$P-sh
spawn "$M" -D "$TMP/tree" /bin/sleep 1000
ok_if "a busybox machine is registered" test -n "$LEADER"

in_shell "$M" /bin/sh -c 'exit 3' >/dev/null
expect_eq "berthctl shell NAME /bin/sh -c 'exit 3': exits 3" 3 "$?"
in_shell "$M" /bin/sh -c 'kill -TERM $$' >/dev/null
expect_eq "a command killed by SIGTERM: 128+15" 143 "$?"
OUT=$(in_shell "$M" /bin/echo hello)
expect_eq "the command's output comes over the pty" hello "$OUT"
OUT=$(in_shell "$M" /bin/sh -c 'printf "%s %s" "$0" "$1"' a1 -b2)
expect_eq "arguments after NAME (options too) go to the command" "a1 -b2" "$OUT"

# the shell's namespaces, cgroups, bounding set, filter: the leader's (seen from the host,
# on a shell that sleeps with a mark of its own)
proc_view() {
    local n
    for n in cgroup ipc mnt net pid user uts; do readlink "/proc/$1/ns/$n"; done
    cat "/proc/$1/cgroup"
    grep -E "^(CapBnd|Seccomp|Seccomp_filters|NoNewPrivs):" "/proc/$1/status"
    readlink "/proc/$1/root"
}
in_shell "$M" /bin/sleep 4.321 >/dev/null &
SHJOB=$!
wait_until 5 pgrep -x -f "/bin/sleep 4.321"
SH=$(pgrep -x -f "/bin/sleep 4.321")
diag "the shell's command is PID $SH, the leader $LEADER"
expect_eq "the shell's namespaces, cgroups, CapBnd, Seccomp, NoNewPrivs, root equal the leader's" \
    "$(proc_view "$LEADER")" "$(proc_view "$SH")"
ok_if "the machine filters system calls (the comparison means something)" \
    test "$(status_field "$LEADER" Seccomp)" = 2
expect_eq "the shell's parent is berthd's child (in the host's PID namespace, outside the machine)" \
    "$BERTHD_PID" "$(ps -o ppid= -p "$(ps -o ppid= -p "$SH" | tr -d ' ')" | tr -d ' ')"
wait "$SHJOB"
expect_eq "... and it exits 0 when the command does" 0 "$?"

FDS=$(in_shell "$M" /bin/sh -c 'ls /proc/self/fd | tr "\n" " "')
expect_eq "the shell has only its pty open (0 1 2, and ls's own directory fd)" "0 1 2 3 " "$FDS"
TTY=$(in_shell "$M" /bin/sh -c 'readlink /proc/self/fd/0; ls /dev/pts')
ok_if "the pty is the machine's own devpts' (/dev/pts/N inside)" \
    bash -c "grep -qx '/dev/pts/[0-9]*' <<<'$(head -1 <<<"$TTY")'"

OUT=$(in_shell "berthtest@$M" /bin/sh -c 'id -u; id -g; echo $HOME $USER')
expect_eq "USER@NAME: the guest's user (uid, gid, home from the guest's passwd)" \
    "1000
1000
/home/berthtest berthtest" "$OUT"
OUT=$(timeout 20 "$BERTHCTL" -q --uid=berthtest -E FOO=bar shell "$M" /bin/sh -c 'echo $(id -u) $FOO' </dev/null | tr -d '\r')
expect_eq "--uid= and -E NAME=VALUE" "1000 bar" "$OUT"
OUT=$(in_shell "berthtest@$M" /bin/sh -c 'grep ^CapEff: /proc/self/status')
expect_eq "a non-root user has no capabilities" "CapEff:	0000000000000000" "$OUT"
expect_fail "a user that only the host has is refused" "No user 'daemon'" in_shell "daemon@$M" /bin/true
OUT=$(echo 'echo "[$0]"; exit 7' | timeout 30 "$BERTHCTL" -q shell "$M" | tr -d '\r'; echo "rc=${PIPESTATUS[1]}")
ok_if "without a command: the user's login shell (-sh), its status (input from a pipe)" \
    bash -c "grep -q '^\[-sh\]$' <<<'$OUT' && grep -q '^rc=7$' <<<'$OUT'"
[ "$(tail -1 <<<"$OUT")" = rc=7 ] || diag "$OUT"

# berthctl login: busybox's /bin/login prompts on the machine's pty
OUT=$(timeout 30 python3 "$PTY_DRIVER" --timeout 20 'expect:login: ' 'send:root\n' 'expect:# ' \
      'send:echo in-$((6*7))\n' 'expect:in-42' 'send:\x1d\x1d\x1d' -- "$BERTHCTL" login "$M" 2>&1)
RC=$?
expect_eq "login: busybox login prompt, root logs in, ^]^]^] leaves" 0 "$RC"
[ "$RC" = 0 ] || diag "$(tail -5 <<<"$OUT")"

if command -v machinectl >/dev/null; then
    OUT=$(timeout 20 bash -c "$(declare -f mctl); mctl shell $M /bin/sh -c 'echo via-machinectl; id -u'" </dev/null | tr -d '\r')
    expect_eq "the real machinectl shell works against berthd" "via-machinectl
0" "$OUT"
else
    skip "the real machinectl shell works against berthd" "no machinectl"
fi

# -U: the shell is in the machine's user namespace
MU=$P-shu
spawn "$MU" -D "$TMP/tree" -U /bin/sleep 1000
OUT=$(in_shell "$MU" /bin/sh -c 'cat /proc/self/uid_map; id -u')
LMAP=$(cat /proc/$LEADER/uid_map)
diag "-U: the shell printed: $OUT"
ok_if "-U: the shell's UID map is the machine's, root inside" \
    test "$OUT" = "$LMAP
0" -a "$(awk '{print $2}' <<<"$LMAP")" != 0
OUT=$(in_shell "$MU" /bin/readlink /proc/self/ns/user)
ok_if "-U: user namespace is the leader's, not the host's" \
    test -n "$OUT" -a "$OUT" = "$(readlink /proc/$LEADER/ns/user)" -a "$OUT" != "$(readlink /proc/self/ns/user)"

# poweroff and reboot of busybox init: SIGUSR2 and SIGTERM, not systemd's signals
MB=$P-bb
spawn "$MB" -D "$TMP/tree" -b
LEADER1=$LEADER
timeout 10 "$BERTHCTL" reboot "$MB"
wait_until 10 bash -c "[ \"\$(busctl get-property $DEST \$(busctl call $DEST $MGR_PATH $MGR GetMachine s $MB | cut -d'\"' -f2) $MACH Leader 2>/dev/null | awk '{print \$2}')\" != $LEADER1 ]"
LEADER2=$(mprop "$MB" Leader 2>/dev/null | awk '{ print $2 }')
ok_if "reboot of a busybox init: a new init runs in the same machine" test -n "$LEADER2" -a "$LEADER2" != "$LEADER1"
timeout 10 "$BERTHCTL" poweroff "$MB"
wait_until 10 machine_gone "$MB"
ok_if "poweroff of a busybox init: the machine is gone" machine_gone "$MB"
wait "$SPAWN"
expect_eq "poweroff of a busybox init: berth-spawn exits 0" 0 "$?"
grep -q "instead of" "$TMP/berthd.log"
ok_if "berthd logged the translated signals" grep -q "busybox init: sending signal 12" "$TMP/berthd.log"

for s in "${SPAWNS[@]}"; do kill -TERM "$s" 2>/dev/null; done
for s in "${SPAWNS[@]}"; do wait "$s" 2>/dev/null; done
wait_until 5 machine_gone "$M"
finish
