#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn options of systemd-nspawn 252 beyond the basic set: OPTION=help, -a, -S,
# --no-pager, --rlimit, --oom-score-adjust, --cpu-affinity, --personality,
# --ambient-capability. Each asserts the effect inside the machine.
. "$(dirname "$0")/lib.sh"
setup

# has_cap NAME: the caller holds this capability (a sandboxed CI may lack some)
has_cap() {
    [ $(( CALLER_BND >> $(cap_number "$1") & 1 )) = 1 ]
}

# in_machine [SPAWN-OPTIONS...] -- SHELL-COMMAND: run a /bin/sh command line in the tree
in_machine() {
    local opts=()
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    shift
    run_spawn -P -D "$TREE" "${opts[@]}" /bin/sh -c "$1"
}

# ---- OPTION=help lists the choices and exits 0, without a tree
help_lists() {
    local opt=$1 want=$2
    run_spawn "--$opt=help"
    if [ "$RC" = 0 ] && [ "$(tr '\n' ' ' <<<"$OUTPUT")" = "$want " ]; then
        pass "--$opt=help lists the choices and exits 0"
    else
        fail "--$opt=help lists the choices and exits 0" "expected: '$want'
$(last_run)"
    fi
}
help_lists resolv-conf "off copy-host copy-static copy-uplink copy-stub replace-host replace-static replace-uplink replace-stub bind-host bind-static bind-uplink bind-stub delete auto"
help_lists timezone "off copy bind symlink delete auto"
help_lists volatile "no yes state overlay"
help_lists link-journal "no host try-host guest try-guest auto"
help_lists private-users-ownership "off chown map auto"
help_lists console "interactive read-only passive pipe autopipe"
help_lists rlimit "CPU FSIZE DATA STACK CORE RSS NPROC NOFILE MEMLOCK AS LOCKS SIGPENDING MSGQUEUE NICE RTPRIO RTTIME"
for o in capability drop-capability ambient-capability; do
    run_spawn "--$o=help"
    n=$(grep -c '^cap_' <<<"$OUTPUT")
    if [ "$RC" = 0 ] && [ "$n" = $(( $(cat /proc/sys/kernel/cap_last_cap) + 1 )) ] && grep -qx cap_sys_admin <<<"$OUTPUT"; then
        pass "--$o=help lists every capability the kernel knows"
    else
        fail "--$o=help lists every capability the kernel knows" "$(last_run)"
    fi
done
run_spawn --kill-signal=help
expect_rc "--kill-signal=help exits 0" 0
expect_line "--kill-signal=help lists TERM" TERM
expect_line "--kill-signal=help lists RTMIN+3" RTMIN+3
run_spawn --resolv-conf=bogus
expect_rc "--resolv-conf=bogus still fails" 1

# ---- short options and --no-pager
run_payload -a -- pid
expect_match "-a is --as-pid2: the payload is PID 2" '^pid=2 ' "$OUTPUT"
run_payload --no-pager -- pid
expect_match "--no-pager is accepted" '^pid=1 ' "$OUTPUT"

# ---- --rlimit
in_machine --rlimit=NOFILE=123:456 -- 'ulimit -Sn; ulimit -Hn'
expect_eq "--rlimit=NOFILE=123:456: soft and hard limit inside" "123
456" "$OUTPUT"
in_machine --rlimit=RLIMIT_CORE=1M -- 'grep "core file size" /proc/self/limits'
expect_match "--rlimit=RLIMIT_CORE=1M: 1048576 bytes in /proc/self/limits" '^Max core file size +1048576 +1048576 +bytes' "$OUTPUT"
in_machine --rlimit=LimitNPROC=300:400 -- 'grep -E "processes" /proc/self/limits'
expect_match "--rlimit=LimitNPROC=300:400" '^Max processes +300 +400' "$OUTPUT"
# raising a hard limit needs CAP_SYS_RESOURCE of the host's user namespace, which
# berth-spawn still has when it sets the limits (before the machine's user namespace)
if has_cap SYS_RESOURCE; then
    in_machine --rlimit=NICE=-5 -- 'grep -E "nice" /proc/self/limits'
    expect_match "--rlimit=NICE=-5 is the raw limit 25" '^Max nice priority +25 +25' "$OUTPUT"
    host_hard=$(ulimit -Hn)
    in_machine -U --rlimit=NOFILE=1024:$((host_hard + 1)) -- 'ulimit -Hn'
    expect_eq "--rlimit with -U: the hard limit can be raised above the caller's" "$((host_hard + 1))" "$OUTPUT"
else
    skip "--rlimit=NICE=-5 and raised hard limits" "the caller lacks CAP_SYS_RESOURCE"
    in_machine --rlimit=NICE=+10 -- 'grep -E "nice" /proc/self/limits'
    expect_rc "--rlimit=NICE=+10 above the caller's hard limit: refused without CAP_SYS_RESOURCE" 1
    expect_match "... with the limit's name" 'resource limit NICE' "$ERROUT"
fi
in_machine -U --rlimit=NOFILE=100:200 -- 'ulimit -Sn; ulimit -Hn'
expect_eq "--rlimit with -U" "100
200" "$OUTPUT"
run_spawn -D "$TREE" --rlimit=NOFILE=10:5 true
expect_rc "--rlimit: soft above hard is refused" 1
run_spawn -D "$TREE" --rlimit=BOGUS=1 true
expect_rc "--rlimit: an unknown limit is refused" 1

# ---- --oom-score-adjust
if has_cap SYS_RESOURCE; then
    in_machine -U --oom-score-adjust=-300 -- 'cat /proc/self/oom_score_adj'
    expect_eq "--oom-score-adjust=-300 with -U (lowering needs the host's CAP_SYS_RESOURCE)" -300 "$OUTPUT"
else
    skip "--oom-score-adjust=-300" "the caller lacks CAP_SYS_RESOURCE"
fi
in_machine --oom-score-adjust=250 -- 'cat /proc/self/oom_score_adj'
expect_eq "--oom-score-adjust=250" 250 "$OUTPUT"
in_machine -U --oom-score-adjust=500 -- 'cat /proc/self/oom_score_adj'
expect_eq "--oom-score-adjust=500 with -U" 500 "$OUTPUT"
run_spawn -D "$TREE" --oom-score-adjust=1001 true
expect_rc "--oom-score-adjust=1001 is refused" 1

# ---- --cpu-affinity
in_machine --cpu-affinity=0 -- 'grep Cpus_allowed_list /proc/self/status'
expect_match "--cpu-affinity=0: only CPU 0 allowed" '^Cpus_allowed_list:[[:space:]]+0$' "$OUTPUT"
if [ "$(nproc --all)" -ge 2 ]; then
    in_machine --cpu-affinity=1 -- 'grep Cpus_allowed_list /proc/self/status'
    expect_match "--cpu-affinity=1: only CPU 1 allowed" '^Cpus_allowed_list:[[:space:]]+1$' "$OUTPUT"
else
    skip "--cpu-affinity=1" "one CPU only"
fi
run_spawn -D "$TREE" --cpu-affinity=2-1 true
expect_rc "--cpu-affinity=2-1 is refused" 1

# ---- --personality
if [ "$(uname -m)" = x86_64 ]; then
    in_machine --personality=x86 -- 'uname -m'
    expect_eq "--personality=x86: uname -m inside is i686" i686 "$OUTPUT"
    in_machine --personality=x86-64 -- 'uname -m'
    expect_eq "--personality=x86-64: uname -m inside is x86_64" x86_64 "$OUTPUT"
    in_machine -- 'uname -m'
    expect_eq "no --personality: the host's" x86_64 "$OUTPUT"
else
    skip "--personality=x86" "not an x86-64 host"
fi
run_spawn -D "$TREE" --personality=mips true
expect_rc "--personality=mips is refused on this host" 1

# ---- --ambient-capability
cap_field() {
    awk -v k="Cap$1:" '$1 == k { print $2 }' <<<"$OUTPUT"
}
run_payload --user=berthtest --ambient-capability=CAP_NET_RAW,CAP_KILL -- caps
expect_eq "--ambient-capability as a user: CapAmb" "$(caps_mask NET_RAW KILL)" "$(cap_field Amb)"
expect_eq "--ambient-capability as a user: effective after execve()" "$(caps_mask NET_RAW KILL)" "$(cap_field Eff)"
run_payload --user=berthtest -- caps
expect_eq "without it a user has no capabilities" 0000000000000000 "$(cap_field Eff)"
run_payload --ambient-capability=CAP_NET_RAW -- caps
expect_eq "--ambient-capability as root: CapAmb" "$(caps_mask NET_RAW)" "$(cap_field Amb)"
run_spawn -D "$TREE" --ambient-capability=CAP_SYS_MODULE true
expect_rc "--ambient-capability outside the bounding set is refused" 1
expect_match "... and says why" 'not fully covered' "$ERROUT"
run_spawn -D "$TREE" --capability=CAP_SYS_MODULE --ambient-capability=CAP_SYS_MODULE -- /bin/sh -c 'grep CapAmb /proc/self/status'
expect_rc "--ambient-capability with --capability= of the same" 0
run_spawn -D "$TREE" -b --ambient-capability=CAP_NET_RAW
expect_rc "--ambient-capability with --boot is refused" 1
run_spawn -D "$TREE" --ambient-capability=all true
expect_rc "--ambient-capability=all is refused" 1

# ---- --set-credential / --load-credential
printf 'from a file\n' >"$SCRATCH/cred-file"
chmod 0600 "$SCRATCH/cred-file"
in_machine --set-credential=plain:hello --set-credential='esc:a\nb\x41' --load-credential=file:"$SCRATCH/cred-file" -- \
    'echo "dir=$CREDENTIALS_DIRECTORY"; cd "$CREDENTIALS_DIRECTORY" && for f in *; do echo "$f=$(od -An -c "$f" | tr -s " " | tr -d "\n")"; done; stat -c "%a %U" plain; touch new 2>/dev/null && echo writable || echo read-only'
expect_line "credentials: \$CREDENTIALS_DIRECTORY=/run/host/credentials" dir=/run/host/credentials
expect_line "--set-credential=plain:hello" "plain= h e l l o"
expect_line "--set-credential with C escapes" "esc= a \\n b A"
expect_line "--load-credential from a file" "file= f r o m a f i l e \\n"
expect_line "credential files are 0400 root" "400 root"
expect_line "the credentials directory is read-only" read-only
in_machine -U --set-credential=k:v -- 'cat "$CREDENTIALS_DIRECTORY/k"; echo; stat -c %U "$CREDENTIALS_DIRECTORY/k"'
expect_eq "credentials with -U: readable, owned by the machine's root" "v
root" "$OUTPUT"
in_machine -- 'echo "dir=${CREDENTIALS_DIRECTORY-unset}"; ls /run/host/credentials 2>&1 >/dev/null | head -c 0; [ -e /run/host/credentials ] && echo exists || echo absent'
expect_eq "no credentials: no \$CREDENTIALS_DIRECTORY, no directory" "dir=unset
absent" "$OUTPUT"
# a relative path is taken from berth-spawn's own $CREDENTIALS_DIRECTORY (as under systemd)
mkdir "$SCRATCH/mycreds"
printf 'relayed' >"$SCRATCH/mycreds/token"
CREDENTIALS_DIRECTORY=$SCRATCH/mycreds in_machine --load-credential=tok:token -- 'cat "$CREDENTIALS_DIRECTORY/tok"'
expect_eq "--load-credential=ID:RELATIVE reads berth-spawn's \$CREDENTIALS_DIRECTORY" relayed "$OUTPUT"
# an AF_UNIX stream socket: what the peer sends
sock=$SCRATCH/cred.sock
"$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = s.accept(); c.sendall(b"from a socket"); c.close()' "$sock" &
sockpid=$!
wait_for_file() { local i; for i in $(seq 1 100); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
wait_for_file "$sock.ready"
in_machine --load-credential=sock:"$sock" -- 'cat "$CREDENTIALS_DIRECTORY/sock"'
expect_eq "--load-credential from an AF_UNIX socket" "from a socket" "$OUTPUT"
kill "$sockpid" 2>/dev/null; wait "$sockpid" 2>/dev/null
run_spawn -D "$TREE" --set-credential=a:1 --set-credential=a:2 true
expect_rc "a duplicate credential is refused" 1
run_spawn -D "$TREE" --set-credential=../x:1 true
expect_rc "a credential name with a slash is refused" 1
run_spawn -D "$TREE" --load-credential=x:/nonexistent true
expect_rc "a missing credential file is refused" 1

# ---- --network-namespace-path
netns=$SCRATCH/netns
touch "$netns"
if unshare --net="$netns" true 2>/dev/null; then
    # (a veth pair: the dummy driver is not available on every kernel)
    nsenter --net="$netns" ip link add berthns0 type veth peer name berthns1
    want=net:[$(stat -L -c %i "$netns")]
    run_payload --network-namespace-path="$netns" -- ns
    expect_line "--network-namespace-path: the payload is in that namespace" "net=$want"
    in_machine --network-namespace-path="$netns" -- 'ls /sys/class/net; grep -c berthns0 /proc/net/dev'
    expect_line "--network-namespace-path: its links are seen in /sys/class/net" berthns0
    expect_no_line "... and not the host's" "$(ip -o link show | awk -F': ' '$2 != "lo" { sub(/@.*/, "", $2); print $2; exit }')"
    in_machine -U --network-namespace-path="$netns" -- 'readlink /proc/self/ns/net'
    expect_eq "--network-namespace-path with -U" "$want" "$OUTPUT"
    for o in --private-network -n --network-zone=z --network-veth-extra=a:b --network-interface=lo; do
        run_spawn -D "$TREE" --network-namespace-path="$netns" "$o" true
        expect_rc "--network-namespace-path with $o is refused (as nspawn 252)" 1
    done
    expect_match "... with nspawn's message" 'cannot be combined with other network options' "$ERROUT"
    run_spawn -D "$TREE" --network-namespace-path=/proc/self/ns/mnt true
    expect_rc "--network-namespace-path= of a mount namespace is refused" 1
    run_spawn -D "$TREE" --network-namespace-path="$SCRATCH/cred-file" true
    expect_rc "--network-namespace-path= of a plain file is refused" 1
    umount "$netns"
else
    skip "--network-namespace-path" "cannot create a persistent network namespace here"
fi

# ---- the environment and /run/host/os-release, as systemd-nspawn provides them
host_os_release=/etc/os-release
[ -r "$host_os_release" ] || host_os_release=/usr/lib/os-release
# the host's ID fields, as the shell sees them
host_field() { (. "$host_os_release" && eval "printf '%s' \"\${$1-}\""); }
run_payload -- env
for f in ID VERSION_ID BUILD_ID VARIANT_ID; do
    lower=$(tr 'A-Z' 'a-z' <<<"$f")
    v=$(host_field "$f")
    if [ -n "$v" ]; then
        expect_line "\$container_host_$lower is the host's $f" "container_host_$lower=$v"
    else
        expect_no_match "no \$container_host_$lower: the host's os-release has no $f" "^container_host_$lower=" "$OUTPUT"
    fi
done
in_machine -- 'md5sum </run/host/os-release; echo x >>/run/host/os-release && echo writable || echo read-only'
expect_eq "/run/host/os-release is the host's, read-only" "$(md5sum <"$host_os_release")
read-only" "$OUTPUT"
in_machine -U -- 'echo x >>/run/host/os-release && echo writable || echo read-only'
expect_eq "/run/host/os-release is read-only with -U too" read-only "$OUTPUT"

# no user database in the tree: root's variables as systemd-nspawn sets them
nopw=$(new_tree nopasswd)
rm -f "$nopw/etc/passwd" "$nopw/etc/group"
RUN_TREE=$nopw run_payload -- env
expect_line "no /etc/passwd: HOME=/root" HOME=/root
expect_line "no /etc/passwd: USER=root" USER=root
expect_line "no /etc/passwd: LOGNAME=root" LOGNAME=root

# ---- /run/host/notify in every machine, not only with --boot
run_payload -- env
expect_line "NOTIFY_SOCKET is set without --boot" NOTIFY_SOCKET=/run/host/notify
# notify_collect SOCKET SECONDS: a private supervisor socket; every message received within
# SECONDS goes to SOCKET.log, one assignment a line
notify_collect() {
    rm -f "$1" "$1.log"
    "$PYTHON" - "$1" "$2" <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
end = time.time() + float(sys.argv[2])
with open(sys.argv[1] + ".log", "w") as log:
    while time.time() < end:
        s.settimeout(max(0.01, end - time.time()))
        try:
            m = s.recv(4096).decode()
        except socket.timeout:
            break
        log.write(m + "\n")
        log.flush()
PY
    COLLECT_PID=$!
    for i in $(seq 1 100); do [ -S "$1" ] && break; sleep 0.02; done
}
nsock=$SCRATCH/state/notify.sock
notify_collect "$nsock" 6
NOTIFY_SOCKET=$nsock in_machine --notify-ready=yes -- \
    "berth-payload notify 'STATUS=half way'; sleep 1; berth-payload notify 'READY=1'; sleep 1"
wait "$COLLECT_PID"
expect_rc "payload notifying without --boot runs" 0
expect_line "the payload's STATUS= is relayed" "STATUS=Container running: half way" "$(cat "$nsock.log")"
expect_line "--notify-ready=yes without --boot: the payload's READY=1 is relayed" READY=1 "$(cat "$nsock.log")"
notify_collect "$nsock" 4
NOTIFY_SOCKET=$nsock in_machine --notify-ready=yes -- 'sleep 1'
wait "$COLLECT_PID"
expect_no_line "--notify-ready=yes: no READY=1 while the payload sends none" READY=1 "$(cat "$nsock.log")"
notify_collect "$nsock" 4
NOTIFY_SOCKET=$nsock in_machine -- 'sleep 1'
wait "$COLLECT_PID"
expect_line "--notify-ready=no: READY=1 once the machine started" READY=1 "$(cat "$nsock.log")"

# ---- systemd-nspawn's environment variables
in_machine -- 'grep " /tmp " /proc/self/mountinfo | grep -c tmpfs'
expect_eq "by default /tmp is a tmpfs" 1 "$OUTPUT"
echo "tree's own" >"$TREE/tmp/berth-marker"
SYSTEMD_NSPAWN_TMPFS_TMP=0 in_machine -- 'cat /tmp/berth-marker; grep -c " /tmp " /proc/self/mountinfo'
expect_eq "\$SYSTEMD_NSPAWN_TMPFS_TMP=0: the tree's own /tmp" "tree's own
0" "$OUTPUT"
rm -f "$TREE/tmp/berth-marker"
in_machine -- 'awk "\$5 == \"/sys\" || \$5 == \"/proc/sys\" { print \$5, substr(\$6, 1, 2) }" /proc/self/mountinfo | sort -u'
expect_eq "by default /sys and /proc/sys are read-only" "/proc/sys ro
/sys ro" "$OUTPUT"
SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 in_machine -- 'awk "\$5 == \"/sys\" || \$5 == \"/proc/sys\" { print \$5, substr(\$6, 1, 2) }" /proc/self/mountinfo | sort -u'
expect_eq "\$SYSTEMD_NSPAWN_API_VFS_WRITABLE=1: /sys writable, /proc/sys not a read-only mount" "/sys rw" "$OUTPUT"
SYSTEMD_NSPAWN_API_VFS_WRITABLE=network in_machine --private-network -- 'awk "\$5 == \"/sys\" { print \$5, substr(\$6, 1, 2) }" /proc/self/mountinfo | sort -u'
expect_eq "\$SYSTEMD_NSPAWN_API_VFS_WRITABLE=network with --private-network: /sys writable" "/sys rw" "$OUTPUT"
SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 run_spawn -D "$TREE" -U true
expect_rc "\$SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 with -U is refused, as by nspawn" 1
expect_match "... with nspawn's message" 'Cannot combine --private-users with read-write mounts' "$ERROUT"
SYSTEMD_NSPAWN_API_VFS_WRITABLE=network run_spawn -D "$TREE" -U true
expect_rc "\$SYSTEMD_NSPAWN_API_VFS_WRITABLE=network with -U but no network namespace is refused" 1
SYSTEMD_NSPAWN_API_VFS_WRITABLE=maybe run_spawn -D "$TREE" true
expect_rc "an invalid \$SYSTEMD_NSPAWN_API_VFS_WRITABLE is refused" 1
# (SYSTEMD_NSPAWN_USE_CGNS=0 and _UNIFIED_HIERARCHY=0 are tested in test-spawn-nspawn-opts.sh)
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 run_spawn -D "$TREE" true
if grep -q ' /sys/fs/cgroup/[^ ]* cgroup ' /proc/self/mounts; then
    expect_rc "\$SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 runs on a host with v1 hierarchies" 0
else
    expect_rc "\$SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 is refused on a pure cgroup2 host" 1
fi
SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 in_machine -- 'true'
expect_rc "\$SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 is what berth-spawn does anyway" 0
# the image lock: a tree locked exclusively (as berthd does to remove it) is refused...
lockfile=/run/systemd/nspawn/locks/inode-$(stat -c %d:%i "$TREE")
mkdir -p /run/systemd/nspawn/locks
"$PYTHON" -c '
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
open(sys.argv[1] + ".held", "w").close()
time.sleep(4)' "$lockfile" &
lockpid=$!
for i in $(seq 1 100); do [ -e "$lockfile.held" ] && break; sleep 0.05; done
run_payload -- pid
expect_rc "a tree locked exclusively is refused" 1
expect_match "... as busy" 'is busy' "$ERROUT"
# ... unless $SYSTEMD_NSPAWN_LOCK=0
SYSTEMD_NSPAWN_LOCK=0 run_payload -- pid
expect_rc "\$SYSTEMD_NSPAWN_LOCK=0: no lock is taken or checked" 0
kill "$lockpid" 2>/dev/null; wait "$lockpid" 2>/dev/null
rm -f "$lockfile.held"

# ---- bind mount options idmap, noidmap, rootidmap (nspawn 252)
idsrc=$SCRATCH/idmap-src
mkdir -p "$idsrc"
touch "$idsrc/rootfile" "$idsrc/userfile"
chown 1000:1000 "$idsrc/userfile"
chown 1234:1234 "$idsrc"
owners='stat -c "%n %u" /mnt/id /mnt/id/rootfile /mnt/id/userfile'
# (the mount point exists: under -U with an idmapped root, berth-spawn cannot create one,
# a limitation of its own that is not about these options)
mkdir -p "$TREE/mnt/id"
in_machine -U --bind="$idsrc:/mnt/id:noidmap" -- "$owners"
expect_eq "-U, noidmap: host owners show as nobody" "/mnt/id 65534
/mnt/id/rootfile 65534
/mnt/id/userfile 65534" "$OUTPUT"
in_machine -U --bind="$idsrc:/mnt/id:idmap" -- "$owners"
expect_eq "-U, idmap: UID N on disk is N inside" "/mnt/id 1234
/mnt/id/rootfile 0
/mnt/id/userfile 1000" "$OUTPUT"
in_machine -U --bind="$idsrc:/mnt/id:rootidmap" -- "$owners; touch /mnt/id/new && stat -c %u /mnt/id/new"
expect_eq "-U, rootidmap: the source's owner is root inside, others nobody; root creates files" "/mnt/id 0
/mnt/id/rootfile 65534
/mnt/id/userfile 65534
0" "$OUTPUT"
expect_eq "-U, rootidmap: a file root made inside belongs to the source's owner on the host" 1234 "$(stat -c %u "$idsrc/new")"
rm -f "$idsrc/new"
in_machine --bind="$idsrc:/mnt/id:rootidmap" -- "$owners"
expect_eq "no -U, rootidmap: the source's owner is root inside" "/mnt/id 0
/mnt/id/rootfile 65534
/mnt/id/userfile 65534" "$OUTPUT"
in_machine --bind="$idsrc:/mnt/id:idmap" -- "$owners"
expect_eq "no -U, idmap: the identity" "/mnt/id 1234
/mnt/id/rootfile 0
/mnt/id/userfile 1000" "$OUTPUT"
run_spawn -D "$TREE" --bind=+/etc:/mnt/x:idmap true
expect_rc "idmap on a source inside the tree is refused (not implemented)" 1
run_spawn -D "$TREE" --bind="$idsrc:/mnt/id:bogus" true
expect_rc "an unknown bind option is refused" 1
rmdir "$TREE/mnt/id"

# ---- --suppress-sync: the @sync calls succeed without doing anything (a bad fd included)
run_payload -- syscall fsync fdatasync syncfs
expect_eq "without --suppress-sync: fsync() and friends on a bad fd fail" "fsync=EBADF
fdatasync=EBADF
syncfs=EBADF" "$OUTPUT"
run_payload --suppress-sync=yes -- syscall fsync fdatasync syncfs getpid
expect_eq "--suppress-sync=yes: they return 0 without looking at the fd" "fsync=ok
fdatasync=ok
syncfs=ok
getpid=ok" "$OUTPUT"
run_payload --suppress-sync=yes --no-new-privileges=yes -- syscall fsync
expect_eq "--suppress-sync=yes with --no-new-privileges" fsync=ok "$OUTPUT"
run_payload --suppress-sync=yes --as-pid2 -- syscall fsync
expect_eq "--suppress-sync=yes with --as-pid2" fsync=ok "$OUTPUT"
run_payload --suppress-sync=no -- syscall fsync
expect_eq "--suppress-sync=no" fsync=EBADF "$OUTPUT"

# ---- --pivot-root=NEW[:OLD]
outer=$(new_tree pivot-outer)
inner=$(new_tree pivot-inner)
mv "$inner" "$outer/sysroot"
echo outer >"$outer/marker"
echo inner >"$outer/sysroot/marker"
run_spawn -P -D "$outer" --pivot-root=/sysroot /bin/sh -c 'cat /marker; ls -d /oldroot 2>/dev/null || echo no-oldroot'
expect_eq "--pivot-root=/sysroot: the tree's /sysroot is the root, the old root is gone" "inner
no-oldroot" "$OUTPUT"
run_spawn -P -D "$outer" --pivot-root=/sysroot:/oldroot /bin/sh -c 'cat /marker /oldroot/marker'
expect_eq "--pivot-root=/sysroot:/oldroot: the old root below the new one" "inner
outer" "$OUTPUT"
run_spawn -P -D "$outer" --pivot-root=/nonexistent true
expect_rc "--pivot-root= to a missing directory fails" 1
run_spawn -P -D "$outer" --pivot-root=relative true
expect_rc "--pivot-root= with a relative path is refused" 1
