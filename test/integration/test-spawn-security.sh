#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn security: capability sets, --capability/--drop-capability, --user,
# --no-new-privileges, the default seccomp filter, --system-call-filter, TIOCSTI.
. "$(dirname "$0")/lib.sh"
setup

# cap_field NAME: hex value of CapNAME: from the last `caps` run
cap_field() {
    awk -v k="Cap$1:" '$1 == k { print $2 }' <<<"$OUTPUT"
}

# shellcheck disable=SC2086
DEFAULT_MASK=$(caps_mask $DEFAULT_CAPS)
ALL_MASK=$(all_caps_mask)
ZERO=0000000000000000
diag "caller's bounding set: $(printf '%016x' "$CALLER_BND") (expected sets are limited to it)"

# ---- capabilities
run_payload -- caps
expect_rc "payload 'caps' runs" 0
expect_eq "default bounding set" "$DEFAULT_MASK" "$(cap_field Bnd)"
expect_eq "root payload: effective set = default set" "$DEFAULT_MASK" "$(cap_field Eff)"
expect_eq "root payload: permitted set = default set" "$DEFAULT_MASK" "$(cap_field Prm)"
expect_eq "inheritable set is empty" "$ZERO" "$(cap_field Inh)"
expect_eq "ambient set is empty" "$ZERO" "$(cap_field Amb)"

run_payload --as-pid2 -- caps
expect_eq "--as-pid2: bounding set of the payload is the default set" "$DEFAULT_MASK" "$(cap_field Bnd)"
expect_eq "--as-pid2: effective set of the payload is the default set" "$DEFAULT_MASK" "$(cap_field Eff)"

# shellcheck disable=SC2086
run_payload --capability=CAP_NET_ADMIN -- caps
expect_eq "--capability=CAP_NET_ADMIN adds it to the bounding set" "$(caps_mask $DEFAULT_CAPS NET_ADMIN)" "$(cap_field Bnd)"
# shellcheck disable=SC2086
expect_eq "--capability=CAP_NET_ADMIN: effective too" "$(caps_mask $DEFAULT_CAPS NET_ADMIN)" "$(cap_field Eff)"

# shellcheck disable=SC2086
run_payload --capability=CAP_SYS_TIME,CAP_IPC_LOCK -- caps
expect_eq "--capability=A,B adds both" "$(caps_mask $DEFAULT_CAPS SYS_TIME IPC_LOCK)" "$(cap_field Bnd)"

run_payload --capability=all -- caps
expect_eq "--capability=all: every capability the kernel knows" "$ALL_MASK" "$(cap_field Bnd)"
expect_eq "--capability=all: effective too" "$ALL_MASK" "$(cap_field Eff)"

caps_without() {
    local c out=()
    # shellcheck disable=SC2086
    for c in $DEFAULT_CAPS; do
        case " $* " in *" $c "*) ;; *) out+=("$c") ;; esac
    done
    caps_mask "${out[@]}"
}
run_payload --drop-capability=CAP_SYS_ADMIN -- caps
expect_eq "--drop-capability=CAP_SYS_ADMIN" "$(caps_without SYS_ADMIN)" "$(cap_field Bnd)"
expect_eq "--drop-capability=CAP_SYS_ADMIN: not effective either" "$(caps_without SYS_ADMIN)" "$(cap_field Eff)"

run_payload --drop-capability=CAP_MKNOD,CAP_NET_RAW,CAP_SYS_PTRACE -- caps
expect_eq "--drop-capability=A,B,C" "$(caps_without MKNOD NET_RAW SYS_PTRACE)" "$(cap_field Bnd)"

run_payload --capability=CAP_NET_ADMIN --drop-capability=CAP_CHOWN -- caps
# shellcheck disable=SC2086,SC2046
expect_eq "--capability and --drop-capability together" \
    "$(caps_mask $(for c in $DEFAULT_CAPS NET_ADMIN; do [ "$c" = CHOWN ] || echo "$c"; done))" "$(cap_field Bnd)"

run_payload --drop-capability=CAP_SYS_ADMIN -- syscall swapoff
expect_eq "a dropped capability is really gone (swapoff without CAP_SYS_ADMIN: EPERM)" swapoff=EPERM "$OUTPUT"

# ---- --user
run_payload --user=berthtest -- caps
expect_eq "--user=berthtest: effective set empty" "$ZERO" "$(cap_field Eff)"
expect_eq "--user=berthtest: permitted set empty" "$ZERO" "$(cap_field Prm)"
expect_eq "--user=berthtest: inheritable set empty" "$ZERO" "$(cap_field Inh)"
expect_eq "--user=berthtest: ambient set empty" "$ZERO" "$(cap_field Amb)"

run_payload --user=berthtest --capability=all -- caps
expect_eq "--user=berthtest --capability=all: still no effective capabilities" "$ZERO" "$(cap_field Eff)"

run_payload --user=berthtest -- uid
expect_match "--user=berthtest: uid/euid 1000, gid/egid 1000" '^uid=1000 euid=1000 gid=1000 egid=1000 groups='
expect_match "--user=berthtest: no supplementary groups beyond its own" '^uid=.* groups=(1000)?$'

run_payload -u 1000 -- uid
expect_match "-u 1000 (numeric)" '^uid=1000 euid=1000 gid=1000 egid=1000 '

run_payload --user=root -- uid
expect_match "--user=root" '^uid=0 euid=0 gid=0 egid=0 '

run_payload -- uid
expect_match "default user is root" '^uid=0 euid=0 gid=0 egid=0 '

run_payload --user=berthtest -- write /etc/berth-user-test
expect_eq "--user=berthtest cannot write to root-owned /etc" EACCES "$OUTPUT"

# ---- --no-new-privileges
run_payload -- nnp
expect_eq "no_new_privs is off by default" nnp=0 "$OUTPUT"
run_payload --no-new-privileges=yes -- nnp
expect_eq "--no-new-privileges=yes" nnp=1 "$OUTPUT"
run_payload --no-new-privileges=true -- nnp
expect_eq "--no-new-privileges=true" nnp=1 "$OUTPUT"
run_payload --no-new-privileges=1 -- nnp
expect_eq "--no-new-privileges=1" nnp=1 "$OUTPUT"
run_payload --no-new-privileges=no -- nnp
expect_eq "--no-new-privileges=no" nnp=0 "$OUTPUT"
run_payload --no-new-privileges=yes --user=berthtest -- nnp
expect_eq "--no-new-privileges=yes with --user" nnp=1 "$OUTPUT"

# ---- seccomp
run_payload -- status
expect_match "a seccomp filter is installed (Seccomp: 2)" '^Seccomp:[[:space:]]+2$'

# Probes of default-denied syscalls (see payload.c for the harmless arguments used).
DENIED="keyctl add_key request_key clock_settime settimeofday clock_adjtime adjtimex kexec_load
kexec_file_load open_by_handle_at bpf perf_event_open swapon swapoff init_module finit_module
delete_module acct iopl ioperm syslog lookup_dcookie uselib nfsservctl"
# Probes whose kernel code checks a capability outside the default set before anything
# else: in the machine they give EPERM even when the filter allows them.
CAPGATED="acct"
[ "$(cat /proc/sys/kernel/dmesg_restrict 2>/dev/null)" = 1 ] && CAPGATED="$CAPGATED syslog"

# shellcheck disable=SC2086
HOST=$("$BERTH_PAYLOAD" syscall $DENIED reboot userfaultfd getpid 2>&1)
diag "host results: $(echo $HOST)"
host_result() { value "$1" "$HOST"; }
# modules and kexec: without CAP_SYS_MODULE the kernel says EPERM first, unless the
# kernel has no such syscall at all (ENOSYS)
for p in init_module finit_module delete_module; do
    [ "$(host_result "$p")" = ENOSYS ] || CAPGATED="$CAPGATED $p"
done

# shellcheck disable=SC2086
run_payload -- syscall $DENIED reboot userfaultfd getpid
INSIDE=$OUTPUT
for p in $DENIED; do
    h=$(host_result "$p")
    if [ "$h" = EPERM ]; then
        skip "default filter denies $p with EPERM" "the host gives EPERM too (not conclusive)"
        continue
    fi
    expect_eq "default filter denies $p with EPERM (host: $h)" EPERM "$(value "$p" "$INSIDE")"
done
expect_eq "reboot is not in the default deny list (EINVAL for a bad magic)" EINVAL "$(value reboot "$INSIDE")"
expect_eq "userfaultfd is allowed (EINVAL for bad flags)" EINVAL "$(value userfaultfd "$INSIDE")"
expect_eq "getpid is allowed" ok "$(value getpid "$INSIDE")"

# The default filter is an allow list (systemd-nspawn's): a call in none of its groups is
# denied even though no deny list names it. fanotify_init is the example nspawn refuses.
run_payload -- syscall fanotify_init getpid
expect_eq "fanotify_init is denied (not in the allow list; host: $("$BERTH_PAYLOAD" syscall fanotify_init))" \
    "fanotify_init=EPERM getpid=ok" "$(echo $OUTPUT)"
run_payload --system-call-filter=fanotify_init -- syscall fanotify_init
expect_eq "--system-call-filter=fanotify_init allows it again (EINVAL for bad flags)" \
    "fanotify_init=EINVAL" "$(echo $OUTPUT)"
run_payload --capability=CAP_SYS_TIME -- syscall clock_settime keyctl
expect_eq "--capability=CAP_SYS_TIME allows @clock, as in nspawn" \
    "clock_settime=EINVAL keyctl=EPERM" "$(echo $OUTPUT)"

# every ABI the host runs: a payload must not get around the filter with another ABI's
# system call numbers. The filter runs before the kernel dispatches the call, so a
# denied call gives EPERM even where the kernel lacks the ABI; there (ENOSYS on the
# host) the filter refuses the ABI as a whole rather than building rules for it.
host_x32=$("$BERTH_PAYLOAD" syscall x32_getpid | cut -d= -f2)
if [ "$host_x32" = ENOSYS ]; then want_x32=EPERM; else want_x32=$host_x32; fi
run_payload -- syscall x32_fanotify_init x32_getpid
expect_eq "x32 ABI: fanotify_init is denied (host x32 getpid: $host_x32)" \
    "x32_fanotify_init=EPERM x32_getpid=$want_x32" "$(echo $OUTPUT)"
if "$BERTH_PAYLOAD" syscall i386_getpid >/dev/null 2>&1; then
    run_payload -- syscall i386_fanotify_init i386_getpid
    expect_eq "i386 ABI (int 0x80): fanotify_init is denied, getpid is allowed" \
        "i386_fanotify_init=EPERM i386_getpid=ok" "$(echo $OUTPUT)"
else
    skip "i386 ABI (int 0x80): fanotify_init is denied" "this kernel runs no i386 code (int 0x80 faults: IA32 emulation is off)"
fi

run_payload --as-pid2 -- syscall keyctl bpf
expect_eq "--as-pid2: the payload has the filter too" "keyctl=EPERM bpf=EPERM" "$(echo $OUTPUT)"

# ---- the compiled filter is cached in /run/berth/seccomp (root's, 0700; files 0600)
CACHE=/run/berth/seccomp
rm -rf "$CACHE"
# cache_state: "inode mtime size checksum" of the only entry, or why there is none
cache_state() {
    local f n
    n=$(find "$CACHE" -maxdepth 1 -name '*.bpf' | wc -l)
    [ "$n" = 1 ] || { echo "$n entries"; return; }
    f=$(find "$CACHE" -maxdepth 1 -name '*.bpf')
    echo "$(stat -c '%i %y %s' "$f") $(sha256sum <"$f" | cut -d' ' -f1)"
}
run_payload -- syscall fanotify_init getpid
expect_eq "first start: the filter denies fanotify_init" "fanotify_init=EPERM getpid=ok" "$(echo $OUTPUT)"
expect_eq "first start: the cache directory is root's, mode 0700" "700 root" "$(stat -c '%a %U' "$CACHE" 2>&1)"
ENTRY=$(find "$CACHE" -maxdepth 1 -name '*.bpf' 2>/dev/null)
expect_eq "first start: one entry, a 0600 file of root's" "600 root regular file" \
    "$(stat -c '%a %U %F' "$ENTRY" 2>&1)"
FIRST=$(cache_state)

if command -v strace >/dev/null 2>&1; then
    LAST_CMD="strace -o TRACE berth-spawn -P -D TREE payload syscall fanotify_init getpid"
    strace -f -qq -e trace=openat,rename,renameat,renameat2 -o "$SCRATCH/state/strace" \
        "$BERTH_SPAWN" -P -D "$TREE" "$PAYLOAD" syscall fanotify_init getpid \
        </dev/null >"$SCRATCH/state/out" 2>"$SCRATCH/state/err"
    RC=$?
    OUTPUT=$(tr -d '\r' <"$SCRATCH/state/out")
    ERROUT=$(tr -d '\r' <"$SCRATCH/state/err")
    expect_eq "second start: the filter still denies fanotify_init" "fanotify_init=EPERM getpid=ok" "$(echo $OUTPUT)"
    ok_if "second start: the entry is read" grep -q "openat(.*\"$(basename "$ENTRY")\", O_RDONLY" "$SCRATCH/state/strace"
    ok_if "second start: nothing is written to the cache" \
        bash -c "! grep -E 'rename.*\\.bpf|\\.bpf\\.[0-9]+\\.tmp' '$SCRATCH/state/strace'"
else
    skip "second start: the entry is read" "strace not installed"
fi
run_payload -- status
expect_match "second start: two filters are installed (Seccomp_filters: 2)" '^Seccomp_filters:[[:space:]]+2$'
expect_eq "second start: the entry is unchanged (same inode, mtime, content)" "$FIRST" "$(cache_state)"

# a damaged entry is never loaded: it is rebuilt, and the machine still gets the filter
python3 - "$ENTRY" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    data = bytearray(f.read())
    data[-3] ^= 0x40   # inside the allow list program
    f.seek(0)
    f.write(data)
PY
run_payload -- syscall fanotify_init getpid keyctl
expect_eq "damaged entry: the filter still denies fanotify_init and keyctl" \
    "fanotify_init=EPERM getpid=ok keyctl=EPERM" "$(echo $OUTPUT)"
expect_eq "damaged entry: rewritten with the original content" "$(cut -d' ' -f5- <<<"$FIRST")" \
    "$(cache_state | cut -d' ' -f5-)"
ok_if "damaged entry: replaced by a new file" test "$(cut -d' ' -f1 <<<"$FIRST")" != "$(cache_state | cut -d' ' -f1)"
head -c 100 "$ENTRY" >"$ENTRY.cut" && mv "$ENTRY.cut" "$ENTRY"
run_payload -- syscall fanotify_init getpid
expect_eq "truncated entry: the filter still denies fanotify_init" "fanotify_init=EPERM getpid=ok" "$(echo $OUTPUT)"
expect_eq "truncated entry: rewritten with the original content" "$(cut -d' ' -f5- <<<"$FIRST")" \
    "$(cache_state | cut -d' ' -f5-)"
rm -rf "$CACHE"

# --system-call-filter=NAMES: allow names that are denied by default
ALLOWABLE=
for p in $DENIED; do
    case " $CAPGATED " in *" $p "*) continue ;; esac
    [ "$(host_result "$p")" = EPERM ] && continue
    ALLOWABLE="$ALLOWABLE $p"
done
ALLOWABLE=${ALLOWABLE# }
run_payload "--system-call-filter=$ALLOWABLE" -- syscall $ALLOWABLE
for p in $ALLOWABLE; do
    expect_eq "--system-call-filter=... allows $p" "$(host_result "$p")" "$(value "$p")"
done

run_payload --system-call-filter=keyctl -- syscall keyctl add_key bpf
expect_eq "--system-call-filter=keyctl allows only keyctl" "keyctl=EOPNOTSUPP add_key=EPERM bpf=EPERM" "$(echo $OUTPUT)"

run_payload --system-call-filter=@keyring -- syscall keyctl add_key request_key bpf
expect_eq "--system-call-filter=@keyring allows the group" \
    "keyctl=EOPNOTSUPP add_key=EINVAL request_key=EINVAL bpf=EPERM" "$(echo $OUTPUT)"

run_payload --system-call-filter=@clock -- syscall clock_settime settimeofday clock_adjtime keyctl
expect_eq "--system-call-filter=@clock allows the group (the kernel then checks the arguments)" \
    "clock_settime=EINVAL settimeofday=EINVAL clock_adjtime=EINVAL keyctl=EPERM" "$(echo $OUTPUT)"

run_payload "--system-call-filter=bpf perf_event_open" -- syscall bpf perf_event_open keyctl
expect_eq "--system-call-filter with a space-separated list" \
    "bpf=$(host_result bpf) perf_event_open=$(host_result perf_event_open) keyctl=EPERM" "$(echo $OUTPUT)"

run_payload --system-call-filter=keyctl --system-call-filter=bpf -- syscall keyctl bpf add_key
expect_eq "--system-call-filter given twice: both lists apply" \
    "keyctl=EOPNOTSUPP bpf=$(host_result bpf) add_key=EPERM" "$(echo $OUTPUT)"

# --system-call-filter=~NAMES: deny more
run_payload "--system-call-filter=~reboot" -- syscall reboot getpid keyctl
expect_eq "--system-call-filter=~reboot denies reboot, defaults still denied" \
    "reboot=EPERM getpid=ok keyctl=EPERM" "$(echo $OUTPUT)"

run_payload "--system-call-filter=~@reboot" -- syscall reboot kexec_load getpid
expect_eq "--system-call-filter=~@reboot denies the group" "reboot=EPERM kexec_load=EPERM getpid=ok" "$(echo $OUTPUT)"

run_payload "--system-call-filter=~userfaultfd reboot" -- syscall userfaultfd reboot getpid
expect_eq "--system-call-filter=~A B denies both" "userfaultfd=EPERM reboot=EPERM getpid=ok" "$(echo $OUTPUT)"

# ---- TIOCSTI / TIOCLINUX with the caller's tty on stdin (pipe mode passes it through)
q() { printf '%q ' "$@"; }
HOST_STI=$(script -qefc "$(q "$BERTH_PAYLOAD" tiocsti)" /dev/null </dev/null 2>&1 | tr -d '\r')
diag "host: TIOCSTI on a pty: $HOST_STI"

run_tty "$(q "$BERTH_SPAWN" -q -P -D "$TREE" "$PAYLOAD" tty)"
if grep -qx 'tty0=1.*' <<<"$OUTPUT"; then
    pass "pipe mode under script: the payload's stdin is the caller's tty"
else
    fail "pipe mode under script: the payload's stdin is the caller's tty" "$(last_run)"
fi
run_tty "$(q "$BERTH_SPAWN" -q -P -D "$TREE" "$PAYLOAD" tiocsti)"
expect_line "TIOCSTI on the caller's tty (pipe mode) fails with EPERM" "blocked errno=1"
run_tty "$(q "$BERTH_SPAWN" -q -P -D "$TREE" "$PAYLOAD" tioclinux)"
expect_line "TIOCLINUX on the caller's tty (pipe mode) fails with EPERM" "tioclinux blocked errno=1 EPERM"
run_tty "$(q "$BERTH_SPAWN" -q -P -D "$TREE" --system-call-filter=ioctl "$PAYLOAD" tiocsti)"
expect_line "TIOCSTI stays blocked even with --system-call-filter=ioctl" "blocked errno=1"
run_tty "$(q "$BERTH_SPAWN" -q -D "$TREE" "$PAYLOAD" tiocsti)"
expect_line "TIOCSTI on the machine's own console (interactive) fails with EPERM" "blocked errno=1"
