#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Files into and out of a running -U machine through berthd: CopyToMachine/CopyFromMachine
# (+WithFlags) with ownership mapped through the machine's user namespace, a sparse file
# past 2 GiB and a dense one of 300 MB copied completely, BindMountMachine (read-only,
# mkdir) visible inside, hostile paths (.., /, empty, too long, guest symlinks pointing at
# host paths) refused or kept inside the machine, the real machinectl's copy-to and bind,
# MapFrom/MapTo user and group, OpenMachineRootDirectory.

source "$(dirname "$0")/lib.sh"
setup
[ -x "${BERTH_SPAWN:-}" ] || { echo "Bail out! berth-spawn not found at ${BERTH_SPAWN:-}"; exit 1; }
TOOLS=$(cd "$(dirname "$0")/../../tools" && pwd)
"$TOOLS/make-busybox-tree.sh" "$TMP/tree" >/dev/null || { echo "Bail out! no busybox tree"; exit 1; }

if start_berthd; then pass "berthd started"; else fail "berthd started"; finish; fi

NAME=$P-files
timeout 300 "$BERTH_SPAWN" -q -P -U --register=yes -D "$TMP/tree" -M "$NAME" /bin/sleep 1000 \
    </dev/null >"$TMP/spawn.out" 2>&1 &
SPAWN=$!
wait_until 10 mgr GetMachine s "$NAME" || { fail "the -U machine is registered"; finish; }
L=$(mprop "$NAME" Leader | awk '{print $2}')
SHIFT=$(awk 'NR == 1 { print $2 }' "/proc/$L/uid_map")
ok_if "the machine runs in a user namespace (shift $SHIFT)" test "$SHIFT" -gt 0
# inside CMD...: run in the machine (its user and mount namespaces): what the guest sees
inside() { nsenter -t "$L" -U -m -- "$@"; }
mcall() { mgr "$@" 2>&1; }

# ---- copy-to: contents and ownership mapped
HOST=$TMP/host
mkdir -p "$HOST/dir/sub"
echo hello >"$HOST/file"
chown 1000:1001 "$HOST/file"
chmod 0640 "$HOST/file"
echo deep >"$HOST/dir/sub/f"
ln -s ../file "$HOST/dir/link"
chown -R 1002:1003 "$HOST/dir"
ok_if "CopyToMachine of a file" mgr CopyToMachine sss "$NAME" "$HOST/file" /root/file
expect_eq "... contents inside" hello "$(inside cat /root/file)"
expect_eq "... owner and mode as the machine sees them" "1000:1001 640" "$(inside stat -c '%u:%g %a' /root/file)"
expect_eq "... owner as the host sees it (shifted)" "$((SHIFT + 1000)):$((SHIFT + 1001))" \
    "$(stat -c '%u:%g' "/proc/$L/root/root/file")"
ok_if "CopyToMachine of a tree" mgr CopyToMachine sss "$NAME" "$HOST/dir" /root/dir
expect_eq "... contents" deep "$(inside cat /root/dir/sub/f)"
expect_eq "... symlinks stay symlinks" ../file "$(inside readlink /root/dir/link)"
expect_eq "... owners as the machine sees them" "1002:1003 1002:1003 1002:1003" \
    "$(inside stat -c '%u:%g' /root/dir /root/dir/sub /root/dir/sub/f | tr '\n' ' ' | sed 's/ $//')"
ok_if "... no temporary left behind" bash -c "! ls -a /proc/$L/root/root | grep -q '^\.#'"

# ---- copy-from: ownership mapped back
inside sh -c 'echo from-guest >/root/g && chown 1001:1002 /root/g && chmod 604 /root/g'
ok_if "CopyFromMachine of a file" mgr CopyFromMachine sss "$NAME" /root/g "$HOST/g"
expect_eq "... contents on the host" from-guest "$(cat "$HOST/g")"
expect_eq "... owner and mode on the host are the machine's IDs" "1001:1002 604" "$(stat -c '%u:%g %a' "$HOST/g")"
ok_if "CopyFromMachine of a tree" mgr CopyFromMachine sss "$NAME" /root/dir "$HOST/back"
expect_eq "... round trip of the tree" "deep 1002:1003" "$(cat "$HOST/back/sub/f") $(stat -c '%u:%g' "$HOST/back/sub/f")"
mkdir "$HOST/same"
inside sh -c "mkdir -p '$HOST/same' && echo same >'$HOST/same/f'"
ok_if "CopyFromMachine with an empty destination" mgr CopyFromMachine sss "$NAME" "$HOST/same/f" ""
expect_eq "... copies to the source's path on the host" same "$(cat "$HOST/same/f")"

# ---- the replace flag
echo new >"$HOST/file2"
expect_fail "CopyToMachine onto an existing file fails" "File exists" mgr CopyToMachine sss "$NAME" "$HOST/file2" /root/file
expect_eq "... and leaves it alone" hello "$(inside cat /root/file)"
ok_if "CopyToMachineWithFlags (replace) onto an existing file" mgr CopyToMachineWithFlags ssst "$NAME" "$HOST/file2" /root/file 1
expect_eq "... replaced" new "$(inside cat /root/file)"
ok_if "CopyToMachineWithFlags (replace) of a file onto a non-empty directory" \
    mgr CopyToMachineWithFlags ssst "$NAME" "$HOST/file2" /root/dir 1
expect_eq "... replaced the tree" new "$(inside cat /root/dir)"
expect_fail "CopyFromMachine onto an existing host file fails" "File exists" mgr CopyFromMachine sss "$NAME" /root/file "$HOST/g"
ok_if "CopyFromMachineWithFlags (replace)" mgr CopyFromMachineWithFlags ssst "$NAME" /root/file "$HOST/g" 1
expect_eq "... replaced on the host" new "$(cat "$HOST/g")"
expect_fail "an unknown flag is refused" "Invalid .flags. parameter" mgr CopyToMachineWithFlags ssst "$NAME" "$HOST/file2" /root/x 2

# ---- large files copied completely (machinectl's copy-to has left them empty)
truncate -s 3G "$HOST/sparse"
printf 'start' | dd of="$HOST/sparse" conv=notrunc status=none
printf 'middle' | dd of="$HOST/sparse" bs=1M seek=2100 conv=notrunc status=none
printf 'end' | dd of="$HOST/sparse" bs=1 seek=$((3 * 1024 * 1024 * 1024 - 3)) conv=notrunc status=none
head -c 300M /dev/urandom >"$HOST/dense"
ok_if "CopyToMachine of a 3 GiB sparse file" timeout 120 busctl --timeout=120 call -- "$DEST" "$MGR_PATH" "$MGR" CopyToMachine sss "$NAME" "$HOST/sparse" /root/sparse
expect_eq "... same size and contents" "$(stat -c %s "$HOST/sparse") $(md5sum <"$HOST/sparse")" \
    "$(stat -c %s "/proc/$L/root/root/sparse") $(md5sum <"/proc/$L/root/root/sparse")"
ok_if "... and still sparse (under 1 MiB allocated)" test "$(du -k "/proc/$L/root/root/sparse" | cut -f1)" -lt 1024
ok_if "CopyToMachine of a 300 MB dense file" timeout 120 busctl --timeout=120 call -- "$DEST" "$MGR_PATH" "$MGR" CopyToMachine sss "$NAME" "$HOST/dense" /root/dense
expect_eq "... same contents" "$(md5sum <"$HOST/dense")" "$(md5sum <"/proc/$L/root/root/dense")"
ok_if "CopyFromMachine of the 3 GiB sparse file" timeout 120 busctl --timeout=120 call -- "$DEST" "$MGR_PATH" "$MGR" CopyFromMachine sss "$NAME" /root/sparse "$HOST/sparse-back"
expect_eq "... same contents" "$(md5sum <"$HOST/sparse")" "$(md5sum <"$HOST/sparse-back")"
rm -f "$HOST/sparse" "$HOST/sparse-back" "$HOST/dense"
inside rm -f /root/sparse /root/dense

# ---- hostile paths: refused, or resolved inside the machine
for bad in "../etc/x" "/root/../etc/x" "/root/./x" "/" "//" "relative" "/$(head -c 5000 /dev/zero | tr '\0' a)"; do
    expect_fail "CopyToMachine to '${bad:0:20}' is refused" "must be|must not be|too long" \
        mgr CopyToMachine sss "$NAME" "$HOST/file2" "$bad"
done
expect_fail "CopyToMachine from an empty path is refused" "must be" mgr CopyToMachine sss "$NAME" "" /root/x
expect_fail "CopyFromMachine from / is refused" "must not be the root" mgr CopyFromMachine sss "$NAME" / "$HOST/root"
expect_fail "CopyToMachine from a host path with .. is refused" "must be" mgr CopyToMachine sss "$NAME" "$HOST/../x" /root/x
expect_fail "BindMountMachine to a path with .. is refused" "must be" mgr BindMountMachine sssbb "$NAME" "$HOST" /root/../x false true
EVIL=$TMP/evil
mkdir -p "$EVIL"
inside ln -s "$EVIL" /root/abs
inside ln -s "../../../../../../../..$EVIL" /root/rel
inside ln -s "$EVIL/target" /root/lastlink
mcall CopyToMachine sss "$NAME" "$HOST/file2" /root/abs/x >/dev/null
mcall CopyToMachine sss "$NAME" "$HOST/file2" /root/rel/x >/dev/null
mcall CopyToMachineWithFlags ssst "$NAME" "$HOST/file2" /root/lastlink 1 >/dev/null
mcall BindMountMachine sssbb "$NAME" "$HOST" /root/abs/mnt false true >/dev/null
expect_eq "guest symlinks to host paths (absolute, ../.., last component): nothing written on the host" \
    "" "$(ls -A "$EVIL")"
ok_if "... the replaced last component is a file inside the machine" bash -c "[ -f /proc/$L/root/root/lastlink ] && [ ! -L /proc/$L/root/root/lastlink ]"
inside ln -s /etc/shadow /root/shadowlink
ok_if "CopyFromMachine of a guest symlink to a host file" mgr CopyFromMachine sss "$NAME" /root/shadowlink "$HOST/shadow"
ok_if "... copies the symlink, not the host's file" bash -c "[ -L '$HOST/shadow' ] && [ \"\$(readlink '$HOST/shadow')\" = /etc/shadow ]"

# ---- bind mounts
mkdir "$TMP/share"
echo shared >"$TMP/share/f"
chown 1000:1000 "$TMP/share/f"
ok_if "BindMountMachine read-only with mkdir" mgr BindMountMachine sssbb "$NAME" "$TMP/share" /mnt/share true true
expect_eq "... visible inside" shared "$(inside cat /mnt/share/f)"
expect_eq "... with the host's IDs (ID-mapped)" 1000 "$(inside stat -c %u /mnt/share/f)"
expect_fail "... read-only inside" "Read-only" inside sh -c 'echo x >/mnt/share/new'
ok_if "... not mounted on the host" bash -c "! mountpoint -q '$TMP/tree/mnt/share'"
mkdir "$TMP/share2"
expect_fail "BindMountMachine without mkdir onto a missing directory fails" "No such file" \
    mgr BindMountMachine sssbb "$NAME" "$TMP/share2" /mnt/missing false false
ok_if "BindMountMachine read-write" mgr BindMountMachine sssbb "$NAME" "$TMP/share2" /mnt/share2 false true
inside sh -c 'echo written >/mnt/share2/w'
expect_eq "... a write inside lands in the host directory" written "$(cat "$TMP/share2/w")"
echo single >"$TMP/single"
ok_if "BindMountMachine of a file with mkdir" mgr BindMountMachine sssbb "$NAME" "$TMP/single" /mnt/single true true
expect_eq "... visible inside" single "$(inside cat /mnt/single)"

# ---- the real machinectl against berthd
mctl() {
    unshare -m --propagation private sh -c 'mount -t tmpfs tmpfs /run/systemd && mkdir /run/systemd/system &&
                                           exec machinectl --no-pager "$@"' mctl "$@"
}
if command -v machinectl >/dev/null; then
    ok_if "machinectl copy-to" mctl copy-to "$NAME" "$HOST/file2" /root/mctl
    expect_eq "... arrived" "new 0:0" "$(inside cat /root/mctl) $(inside stat -c %u:%g /root/mctl)"
    ok_if "machinectl copy-to --force onto it" mctl copy-to --force "$NAME" "$HOST/g" /root/mctl
    ok_if "machinectl copy-from" mctl copy-from "$NAME" /root/mctl "$HOST/mctl-back"
    expect_eq "... arrived" new "$(cat "$HOST/mctl-back")"
    mkdir "$TMP/share3" && echo m >"$TMP/share3/m"
    ok_if "machinectl bind --mkdir --read-only" mctl bind --mkdir --read-only "$NAME" "$TMP/share3" /mnt/share3
    expect_eq "... visible inside" m "$(inside cat /mnt/share3/m)"
else
    skip "machinectl copy-to/bind" "machinectl not installed"
fi

# ---- berthctl bind, copy-to, copy-from
BC=${BERTHCTL:-$MD_SRCDIR/build/src/berthctl/berthctl}
(cd "$HOST" && "$BC" copy-to "$NAME" file2 /root/bc) && pass "berthctl copy-to (relative host path)" || fail "berthctl copy-to (relative host path)"
expect_eq "... arrived, owner mapped" "new 0:0" "$(inside cat /root/bc) $(inside stat -c %u:%g /root/bc)"
expect_fail "berthctl copy-to onto an existing file fails" "Failed to copy: .*File exists" "$BC" copy-to "$NAME" "$HOST/g" /root/bc
ok_if "berthctl copy-to --force replaces it" "$BC" copy-to --force "$NAME" "$HOST/g" /root/bc
expect_eq "... replaced" "$(cat "$HOST/g")" "$(inside cat /root/bc)"
ok_if "berthctl copy-from with one path (the same on both sides)" bash -c "inside() { nsenter -t $L -U -m -- \"\$@\"; }; inside sh -c 'echo one >$HOST/same/one' && '$BC' copy-from '$NAME' '$HOST/same/one'"
expect_eq "... arrived" one "$(cat "$HOST/same/one")"
expect_fail "berthctl copy-from with a relative machine path" "not absolute" "$BC" copy-from "$NAME" root/bc "$HOST/x"
mkdir "$TMP/share4" && echo four >"$TMP/share4/f"
ok_if "berthctl bind --read-only --mkdir" "$BC" bind --read-only --mkdir "$NAME" "$TMP/share4" /mnt/four
expect_eq "... visible inside" four "$(inside cat /mnt/four/f)"
expect_fail "... read-only" "Read-only" inside sh -c 'echo x >/mnt/four/x'
expect_fail "berthctl bind without --mkdir onto a missing directory" "Failed to bind mount: .*No such file" \
    "$BC" bind "$NAME" "$TMP/share4" /mnt/nope
# a long copy on a terminal shows a progress bar (script(1) gives berthctl a pty): 40000
# files of 2 KiB take the worker a few seconds, a 1 GiB file only a fraction of one
if command -v script >/dev/null; then
    python3 -c 'import os, sys
d = sys.argv[1]
os.mkdir(d)
for i in range(40000):
    with open("%s/f%d" % (d, i), "wb") as f:
        f.write(b"x" * 2048)' "$HOST/many"
    T0=$(date +%s%N)
    script -qec "'$BC' copy-to '$NAME' '$HOST/many' /root/many" /dev/null >"$TMP/bar.out" 2>&1
    MS=$(( ($(date +%s%N) - T0) / 1000000 ))
    expect_eq "berthctl copy-to of 40000 files on a terminal: complete" 40000 "$(ls "/proc/$L/root/root/many" | wc -l)"
    if [ "$MS" -ge 1500 ]; then
        ok_if "... and a progress bar was drawn (the copy took $MS ms)" grep -qaE '\[#*-*\] +[0-9]+% ' "$TMP/bar.out"
    else
        skip "progress bar" "the copy took only $MS ms, under the bar's 1 s delay"
    fi
    "$BC" copy-to --force "$NAME" "$HOST/many" /root/many 2>"$TMP/nobar.err"
    expect_eq "... never on a non-terminal" "" "$(cat "$TMP/nobar.err")"
    rm -rf "$HOST/many"
    inside rm -rf /root/many
else
    skip "progress bar" "no script(1)"
fi

# ---- user and group mapping
expect_eq "MapFromMachineUser 1000" "u $((SHIFT + 1000))" "$(mcall MapFromMachineUser su "$NAME" 1000)"
expect_eq "MapFromMachineGroup 1001" "u $((SHIFT + 1001))" "$(mcall MapFromMachineGroup su "$NAME" 1001)"
expect_eq "MapToMachineUser of its result: the round trip" \
    "sou \"$NAME\" \"$(mpath "$NAME")\" 1000" "$(mcall MapToMachineUser u $((SHIFT + 1000)))"
expect_eq "MapToMachineGroup" "sou \"$NAME\" \"$(mpath "$NAME")\" 1001" "$(mcall MapToMachineGroup u $((SHIFT + 1001)))"
expect_fail "MapToMachineUser of a host UID" "belongs to host UID range" mgr MapToMachineUser u 1000
expect_fail "MapFromMachineUser past the machine's range" "no matching user mappings" mgr MapFromMachineUser su "$NAME" 70000
expect_fail "MapFromMachineGroup of an unknown machine" "No machine .nosuchmachine. known" mgr MapFromMachineGroup su nosuchmachine 0
expect_eq "MapFromMachineUser of .host is the identity" "u 1000" "$(mcall MapFromMachineUser su .host 1000)"

# ---- OpenMachineRootDirectory
expect_match "OpenMachineRootDirectory returns a file descriptor" '^h [0-9]+$' "$(mcall OpenMachineRootDirectory s "$NAME")"
expect_fail "OpenMachineRootDirectory of an unknown machine" "No machine .nosuchmachine. known" mgr OpenMachineRootDirectory s nosuchmachine

mgr TerminateMachine s "$NAME" >/dev/null
wait "$SPAWN"
wait_until 5 machine_gone "$NAME"
ok_if "the machine is gone" machine_gone "$NAME"
ok_if "no bind mount left on the host" bash -c "! grep -qF '$TMP' /proc/self/mountinfo"

finish
