#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The last options of systemd-nspawn 252: --bind-user= (and BindUser=), -Z/--selinux-context=,
# -L/--selinux-apifs-context=, and $SYSTEMD_NSPAWN_USE_CGNS / _UNIFIED_HIERARCHY.
# --root-hash-sig= needs dm-verity and is tested in test-vm-dm.sh.
. "$(dirname "$0")/lib.sh"
setup

# ---------------------------------------------------------------- -Z / -L
CTX=system_u:system_r:container_t:s0:c1,c2
FCTX=system_u:object_r:container_file_t:s0:c1,c2
if [ -d /sys/fs/selinux ] && [ "$(stat -f -c %T /sys/fs/selinux)" = selinuxfs ]; then
    run_spawn -P -D "$TREE" -Z "$CTX" /bin/sh -c 'cat /proc/self/attr/current'
    expect_line "-Z: the payload runs with the context" "$CTX"
    run_spawn -P -D "$TREE" -L "$FCTX" /bin/sh -c 'grep -E " /(dev|run|tmp|dev/shm|dev/pts) " /proc/self/mounts'
    expect_eq "-L: /dev, /dev/pts, /dev/shm, /run and /tmp carry the context" 5 "$(grep -c "context=\"\\?$FCTX" <<<"$OUTPUT")"
else
    # systemd-nspawn 252 fails here too: setexeccon() and the context= mount option give
    # EINVAL on a kernel without SELinux; a label asked for is never silently dropped
    diag "SELinux is not enabled on this host: the labels themselves need an SELinux host"
    run_spawn -P -D "$TREE" -Z "$CTX" /bin/sh -c 'echo ran'
    expect_rc "-Z without SELinux: refused, as systemd-nspawn" 1
    expect_no_line "-Z without SELinux: the payload did not run" ran
    expect_match "-Z: the error names the context and why" \
        "Failed to set the SELinux exec context '$CTX' \\(SELinux is not enabled on this host\\)" "$ERROUT"
    BERTH_LOG_LEVEL=debug run_spawn -P -D "$TREE" -L "$FCTX" /bin/sh -c 'echo ran'
    expect_rc "-L without SELinux: refused, as systemd-nspawn" 1
    expect_match "-L: the context, quoted (MCS commas), is in the options given to the kernel" \
        "Mounting tmpfs on /dev with options '[^']*,context=\"$FCTX\"'" "$ERROUT"
    expect_match "-L: the kernel's refusal names the options" \
        "Failed to create a tmpfs for /dev with options '[^']*context=\"$FCTX\"' \\(SELinux is not enabled on this host\\)" "$ERROUT"
fi
run_spawn -P -D "$TREE" -Z 'a"b' true
expect_rc "-Z with a quote: invalid" 1
run_spawn -P -D "$TREE" --selinux-apifs-context= true
expect_rc "--selinux-apifs-context= empty: invalid" 1

# ---------------------------------------------------------------- --bind-user=
BU=berthbu$$
BU=${BU:0:31}
BUHOME=$SCRATCH/home-$BU
bu_cleanup() {
    userdel "$BU" >/dev/null 2>&1
    groupdel "$BU" >/dev/null 2>&1
}
# the script's own exit status reaches cleanup()
trap '_rc=$?; bu_cleanup; (exit $_rc); cleanup' EXIT
if ! useradd -M -d "$BUHOME" -U -s /bin/sh "$BU" >"$SCRATCH/state/useradd.log" 2>&1; then
    echo "Bail out! useradd $BU failed: $(cat "$SCRATCH/state/useradd.log")"
    exit 1
fi
HUID=$(id -u "$BU")
HGID=$(id -g "$BU")
mkdir -m 0755 "$BUHOME"
echo from-the-host >"$BUHOME/hello"
chown -R "$BU:$BU" "$BUHOME"
before=$(tree_state "$TREE")

run_spawn -P -D "$TREE" -U --bind-user="$BU" /bin/sh -c "
    id $BU; grep '^$BU:' /etc/passwd /etc/group; cat /proc/self/uid_map /proc/self/gid_map
    stat -c 'owner=%u:%g' /run/host/home/$BU/hello; cat /run/host/home/$BU/hello
    cat /run/host/userdb/$BU.user; readlink /run/host/userdb/60514.user; readlink /run/host/userdb/60514.group
    su $BU -c 'id -u; echo from-the-machine >/run/host/home/$BU/written' && echo written"
expect_rc "--bind-user: the machine runs" 0
expect_line "--bind-user: id NAME inside: UID and private group 60514" "uid=60514($BU) gid=60514($BU) groups=60514($BU)"
expect_line "--bind-user: passwd entry with the home in /run/host/home" "/etc/passwd:$BU:x:60514:60514::/run/host/home/$BU:/bin/sh"
expect_line "--bind-user: group entry" "/etc/group:$BU:x:60514:"
expect_match "--bind-user: uid_map maps 60514 to the host user, the rest to the range" \
    "^ +0 +[0-9]+ +60514\$" "$OUTPUT"
if [ "$(grep -cE "^ +60514 +$HUID +1\$" <<<"$OUTPUT")" -ge 1 ] && grep -qE "^ +60514 +$HGID +1\$" <<<"$OUTPUT" &&
    grep -qE '^ +60515 +[0-9]+ +5021$' <<<"$OUTPUT"; then
    pass "--bind-user: 60514 is the host UID/GID $HUID/$HGID, 60515... the range again"
else
    fail "--bind-user: 60514 is the host UID/GID $HUID/$HGID, 60515... the range again" "$(last_run)"
fi
expect_line "--bind-user: the host's files in the bound home belong to the user inside" "owner=60514:60514"
expect_line "--bind-user: the home's content" from-the-host
expect_line "--bind-user: JSON record in /run/host/userdb" \
    "{\"userName\":\"$BU\",\"uid\":60514,\"gid\":60514,\"homeDirectory\":\"/run/host/home/$BU\",\"service\":\"io.systemd.NSpawn\"}"
expect_line "--bind-user: UID.user links to NAME.user" "$BU.user"
expect_line "--bind-user: GID.group links to NAME.group" "$BU.group"
expect_line "--bind-user: the user writes in the home" written
expect_eq "--bind-user: written as the user, the file belongs to the host user" \
    "$HUID:$HGID from-the-machine" "$(stat -c %u:%g "$BUHOME/written" 2>&1) $(cat "$BUHOME/written" 2>&1)"
expect_eq "--bind-user: the tree on disk is unchanged (/etc/passwd, /etc/group)" "$before" "$(tree_state "$TREE")"

run_spawn -P -D "$TREE" -U --bind-user="$BU" -u "$BU" /bin/sh -c 'id -un; pwd; echo "HOME=$HOME"'
expect_eq "--bind-user with -u NAME: runs as the user in its home" \
    "$BU /run/host/home/$BU HOME=/run/host/home/$BU" "$(tr '\n' ' ' <<<"$OUTPUT" | sed 's/ $//')"

# BindUser= of a trusted settings file
printf '[Exec]\nPrivateUsers=pick\n[Files]\nBindUser=%s\n' "$BU" >"$SCRATCH/berthbox.nspawn"
run_spawn -P -D "$TREE" --settings=trusted /bin/sh -c "id -u $BU"
expect_line "BindUser= in a trusted settings file" 60514
run_spawn -P -D "$TREE" /bin/sh -c "id -u $BU || echo no-user"
expect_line "BindUser= in an untrusted file next to the tree is ignored" no-user
expect_match "... with a warning" "BindUser" "$ERROUT"
rm -f "$SCRATCH/berthbox.nspawn"

# what systemd-nspawn refuses
run_spawn -P -D "$TREE" --bind-user="$BU" true
expect_rc "--bind-user without -U: refused" 1
expect_match "... saying it needs --private-users" "requires --private-users" "$ERROUT"
run_spawn -P -D "$TREE" -U --bind-user=root true
expect_rc "--bind-user=root: refused" 1
run_spawn -P -D "$TREE" -U --bind-user=berth-no-such-user true
expect_rc "--bind-user= of an unknown user: refused" 1
expect_match "... naming the user" "berth-no-such-user" "$ERROUT"
run_spawn -P -D "$TREE" -U --bind-user='bad:name' true
expect_rc "--bind-user= with an invalid name: refused" 1
TREE2=$(new_tree clash)
echo "$BU:x:1234:1234::/home:/bin/sh" >>"$TREE2/etc/passwd"
run_spawn -P -D "$TREE2" -U --bind-user="$BU" true
expect_rc "--bind-user: a user of that name in the tree: refused" 1
expect_match "... as systemd-nspawn says it" "the user '$BU' already exists in the container" "$ERROUT"
# 60514 taken in the tree: the next free UID
TREE3=$(new_tree taken)
echo "someone:x:60514:60514::/:/bin/sh" >>"$TREE3/etc/passwd"
run_spawn -P -D "$TREE3" -U --bind-user="$BU" /bin/sh -c "id -u $BU"
expect_line "--bind-user: a UID the tree uses is skipped" 60515

# a guest whose nsswitch.conf asks nss-systemd: the userdb records only, as systemd-nspawn,
# and /etc/passwd stays the tree's own file (a booted systemd may replace it)
TREE4=$(new_tree nsssd)
printf 'passwd: files systemd\ngroup: files systemd\n' >"$TREE4/etc/nsswitch.conf"
run_spawn -P -D "$TREE4" -U --bind-user="$BU" /bin/sh -c "
    grep -c '^$BU:' /etc/passwd; cat /run/host/userdb/$BU.group; grep -c ' /etc/passwd ' /proc/self/mountinfo"
expect_eq "--bind-user with nss-systemd in the guest: userdb records, /etc/passwd not covered" \
    "0 {\"groupName\":\"$BU\",\"gid\":60514,\"service\":\"io.systemd.NSpawn\"} 0" "$(tr '\n' ' ' <<<"$OUTPUT" | sed 's/ $//')"

# ---------------------------------------------------------------- cgroup variables
# (--property= gives the machine a cgroup of its own, machine.slice/machine-NAME.scope)
CGPROBE='grep "^0::" /proc/self/cgroup; test -d /sys/fs/cgroup/machine.slice && echo host-tree
    mkdir /sys/fs/cgroup/berth-x 2>/dev/null || echo read-only'
run_spawn -P -D "$TREE" --property=TasksMax=100 /bin/sh -c "$CGPROBE"
expect_line "default: a cgroup namespace, the machine's cgroup is /" "0::/"
expect_no_line "default: the host's tree is not visible" host-tree
SYSTEMD_NSPAWN_USE_CGNS=0 run_spawn -P -D "$TREE" --property=TasksMax=100 /bin/sh -c "$CGPROBE"
expect_line "SYSTEMD_NSPAWN_USE_CGNS=0: no cgroup namespace, the host's path" "0::/machine.slice/machine-$MACHINE.scope"
expect_line "SYSTEMD_NSPAWN_USE_CGNS=0: the host's cgroup tree is visible" host-tree
expect_line "SYSTEMD_NSPAWN_USE_CGNS=0: ... read-only" read-only
# booted: the machine's own cgroup is writable on top (an init that creates a child)
BOOT=$(new_tree cgboot)
rm -f "$BOOT/sbin/init"
cat >"$BOOT/sbin/init" <<'INIT'
#!/bin/sh
d=$(sed -n 's/^0:://p' /proc/self/cgroup)
echo "cg=$d"
mkdir "/sys/fs/cgroup$d/child" && echo own-writable && rmdir "/sys/fs/cgroup$d/child"
mkdir /sys/fs/cgroup/berth-x 2>/dev/null || echo host-read-only
INIT
chmod 0755 "$BOOT/sbin/init"
for u in "" -U; do
    SYSTEMD_NSPAWN_USE_CGNS=0 run_spawn -P -D "$BOOT" $u -b
    expect_line "SYSTEMD_NSPAWN_USE_CGNS=0 -b${u:+ $u}: the init sees its host path" "cg=/machine.slice/machine-cgboot.scope"
    expect_line "SYSTEMD_NSPAWN_USE_CGNS=0 -b${u:+ $u}: its own cgroup is writable" own-writable
    expect_line "SYSTEMD_NSPAWN_USE_CGNS=0 -b${u:+ $u}: the rest of the host's tree is not" host-read-only
done
if [ -e /sys/fs/cgroup/berth-x ] || [ -e /sys/fs/cgroup/unified/berth-x ]; then
    fail "no cgroup was created outside the machine's"
    rmdir /sys/fs/cgroup/berth-x /sys/fs/cgroup/unified/berth-x 2>/dev/null
else
    pass "no cgroup was created outside the machine's"
fi
SYSTEMD_NSPAWN_USE_CGNS=bogus run_spawn -P -D "$TREE" true
expect_rc "SYSTEMD_NSPAWN_USE_CGNS=bogus: invalid" 1
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 run_spawn -P -D "$TREE" /bin/sh -c 'echo ran'
expect_rc "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0: refused" 1
