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

# ---------------------------------------------------------------- $SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0
# the legacy layout: a read-only tmpfs, one v1 mount per host hierarchy rooted at the
# machine's cgroup, symlinks for co-mounted controllers. A co-mount is made for the test
# from two controllers no hierarchy holds, when there are such (this host has none).
LGPROBE='sed -n "s/^[^ ]* \(\/sys\/fs\/cgroup[^ ]*\) \([^ ]*\) \([^ ,]*\).*/\1 \2 \3/p" /proc/self/mounts
    grep -q " /sys/fs/cgroup tmpfs [^ ]*nosuid,nodev,noexec" /proc/self/mounts && echo tmpfs-flags
    echo "pids.max=$(cat /sys/fs/cgroup/pids/pids.max)"
    for l in /sys/fs/cgroup/*; do [ -L "$l" ] && echo "link ${l##*/} -> $(readlink "$l")"; done
    mkdir /sys/fs/cgroup/pids/berth-x 2>/dev/null && echo pids-writable && rmdir /sys/fs/cgroup/pids/berth-x
    mkdir /sys/fs/cgroup/berth-x 2>/dev/null && echo tmpfs-writable
    grep -q "^0::/$" /proc/self/cgroup && echo in-cgns'
# The co-mount is made in this test's own mount namespace only: a tmpfs over /sys/fs/cgroup
# with the host's hierarchies bound into it, and net_cls,net_prio mounted beside them.
COMOUNT=
CGSTASH=$SCRATCH/cgstash
if ! grep -qE '^[^ ]+ /sys/fs/cgroup/[^ ]* cgroup [^ ]*net_(cls|prio)' /proc/self/mounts &&
   [ "$(awk '$1 == "net_cls" { print $2 }' /proc/cgroups)" = "$(awk '$1 == "net_prio" { print $2 }' /proc/cgroups)" ] &&
   [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] && mkdir "$CGSTASH" &&
   mount --rbind /sys/fs/cgroup "$CGSTASH" && mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup; then
    for d in "$CGSTASH"/*; do
        mountpoint -q "$d" || continue
        mkdir "/sys/fs/cgroup/${d##*/}" && mount --rbind "$d" "/sys/fs/cgroup/${d##*/}"
    done
    COMOUNT=/sys/fs/cgroup/net_cls,net_prio
    err=
    mkdir "$COMOUNT" && err=$(mount -t cgroup -o net_cls,net_prio cgroup "$COMOUNT" 2>&1) ||
        { diag "no co-mount made: $err"; COMOUNT=; }
else
    diag "no co-mount made: $(grep net_ /proc/cgroups | tr "\n\t" "  ")"
fi
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 run_spawn -P -D "$TREE" --property=TasksMax=50 /bin/sh -c "$LGPROBE"
expect_rc "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0: runs" 0
expect_line "UNIFIED_HIERARCHY=0: /sys/fs/cgroup is a read-only tmpfs" "/sys/fs/cgroup tmpfs ro"
expect_line "UNIFIED_HIERARCHY=0: ... nosuid,nodev,noexec" tmpfs-flags
expect_line "UNIFIED_HIERARCHY=0: pids is a read-only v1 mount" "/sys/fs/cgroup/pids cgroup ro"
expect_line "UNIFIED_HIERARCHY=0: name=systemd is mounted at systemd" "/sys/fs/cgroup/systemd cgroup ro"
expect_no_line "UNIFIED_HIERARCHY=0: no cgroup2 mount" "/sys/fs/cgroup cgroup2 ro"
expect_no_line "UNIFIED_HIERARCHY=0: ... nor a writable one" "/sys/fs/cgroup cgroup2 rw"
expect_line "UNIFIED_HIERARCHY=0: the pids view is rooted at the machine's cgroup (TasksMax=50)" pids.max=50
expect_no_line "UNIFIED_HIERARCHY=0: the pids hierarchy is read-only" pids-writable
expect_no_line "UNIFIED_HIERARCHY=0: the tmpfs is read-only" tmpfs-writable
# (a hierarchy unmounted again lingers in /proc/self/cgroup: only the mounted ones count)
for h in $(sed -n 's/^[0-9]*:\([^:]*,[^:]*\):.*/\1/p' /proc/self/cgroup); do
    [ "$(stat -f -c %T "/sys/fs/cgroup/${h#name=}" 2>/dev/null)" = cgroupfs ] || continue
    for c in ${h//,/ }; do
        expect_line "UNIFIED_HIERARCHY=0: co-mounted $c is a symlink to $h" "link $c -> $h"
    done
done
[ -n "$COMOUNT" ] || skip "UNIFIED_HIERARCHY=0: co-mounted symlinks" "no co-mounted hierarchy on this host, and no free controllers to make one"
[ -z "$COMOUNT" ] || expect_line "UNIFIED_HIERARCHY=0: the test's co-mount is mounted" "$COMOUNT cgroup ro"
# booted: the machine's own cgroup (the root of each view) is writable, the tmpfs is not
rm -f "$BOOT/sbin/init"
printf '#!/bin/sh\n%s\n' "$LGPROBE" >"$BOOT/sbin/init"
chmod 0755 "$BOOT/sbin/init"
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 run_spawn -P -D "$BOOT" -b
expect_line "UNIFIED_HIERARCHY=0 -b: pids is writable" "/sys/fs/cgroup/pids cgroup rw"
expect_line "UNIFIED_HIERARCHY=0 -b: the init creates a cgroup below its own" pids-writable
expect_no_line "UNIFIED_HIERARCHY=0 -b: the tmpfs is read-only" tmpfs-writable
if [ -n "$(find /sys/fs/cgroup/pids /sys/fs/cgroup/systemd -maxdepth 1 -name berth-x)" ]; then
    fail "UNIFIED_HIERARCHY=0 -b: the cgroup was made inside the machine's, not at the host's root"
else
    pass "UNIFIED_HIERARCHY=0 -b: the cgroup was made inside the machine's, not at the host's root"
fi
if mountpoint -q "$CGSTASH" 2>/dev/null; then
    # berth-spawn leaves slices, as systemd does; this hierarchy is the test's own
    [ -z "$COMOUNT" ] || rmdir "$COMOUNT/machine.slice"
    umount -R /sys/fs/cgroup && umount -R "$CGSTASH" || fail "the test's /sys/fs/cgroup was removed"
fi
for v in 1 ""; do
    if [ -n "$v" ]; then export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=$v; else unset SYSTEMD_NSPAWN_UNIFIED_HIERARCHY; fi
    run_spawn -P -D "$TREE" --property=TasksMax=50 /bin/sh -c "$LGPROBE"
    expect_line "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=${v:-(unset)}: cgroup2 at /sys/fs/cgroup" "/sys/fs/cgroup cgroup2 ro"
done
unset SYSTEMD_NSPAWN_UNIFIED_HIERARCHY
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 SYSTEMD_NSPAWN_USE_CGNS=0 run_spawn -P -D "$TREE" true
expect_rc "UNIFIED_HIERARCHY=0 with USE_CGNS=0: refused" 1
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=bogus run_spawn -P -D "$TREE" true
expect_rc "SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=bogus: invalid" 1
