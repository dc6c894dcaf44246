# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034
#
# lib.sh — shared helpers for the berth-spawn integration tests (TAP producers).
#
# Source it, call `setup`, then use the assertion helpers; the EXIT trap checks
# the host for leaked mounts / loop devices / processes, removes the scratch
# directory and prints the TAP plan.
#
# Environment (set by meson; defaults for running a script by hand from the repo):
#   BERTH_SPAWN    berth-spawn executable      (default build/src/spawn/berth-spawn)
#   BERTH_PAYLOAD  static berth-payload helper (default build/test/berth-payload)
#   BERTH_TOOLS    the repo's tools/ directory (default tools)
#   BERTH_SLOW_UNSHARE  LD_PRELOAD shim delaying unshare(CLONE_NEWUSER) (default build/test/slow-unshare.so)
#   BERTH_TEST_TIMEOUT  seconds each berth-spawn run may take (default 20)

set -u
umask 022
export LC_ALL=C

BERTH_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${BERTH_SPAWN:=$BERTH_SRCDIR/build/src/spawn/berth-spawn}"
: "${BERTH_PAYLOAD:=$BERTH_SRCDIR/build/test/berth-payload}"
: "${BERTH_TOOLS:=$BERTH_SRCDIR/tools}"
: "${BERTH_SLOW_UNSHARE:=$BERTH_SRCDIR/build/test/slow-unshare.so}"
: "${BERTH_TEST_TIMEOUT:=20}"
BERTH_TESTDIR=$BERTH_SRCDIR/test/integration
PAYLOAD=/usr/bin/berth-payload       # path of the payload inside the tree

if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi

# The default capability bounding set (cap numbers from linux/capability.h).
DEFAULT_CAPS="AUDIT_CONTROL AUDIT_WRITE CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID IPC_OWNER KILL
LEASE LINUX_IMMUTABLE MKNOD NET_BIND_SERVICE NET_BROADCAST NET_RAW SETFCAP SETGID SETPCAP SETUID SYS_ADMIN
SYS_BOOT SYS_CHROOT SYS_NICE SYS_PTRACE SYS_RESOURCE SYS_TTY_CONFIG"

cap_number() {
    case ${1#CAP_} in
        CHOWN) echo 0 ;; DAC_OVERRIDE) echo 1 ;; DAC_READ_SEARCH) echo 2 ;; FOWNER) echo 3 ;;
        FSETID) echo 4 ;; KILL) echo 5 ;; SETGID) echo 6 ;; SETUID) echo 7 ;; SETPCAP) echo 8 ;;
        LINUX_IMMUTABLE) echo 9 ;; NET_BIND_SERVICE) echo 10 ;; NET_BROADCAST) echo 11 ;;
        NET_ADMIN) echo 12 ;; NET_RAW) echo 13 ;; IPC_LOCK) echo 14 ;; IPC_OWNER) echo 15 ;;
        SYS_MODULE) echo 16 ;; SYS_RAWIO) echo 17 ;; SYS_CHROOT) echo 18 ;; SYS_PTRACE) echo 19 ;;
        SYS_PACCT) echo 20 ;; SYS_ADMIN) echo 21 ;; SYS_BOOT) echo 22 ;; SYS_NICE) echo 23 ;;
        SYS_RESOURCE) echo 24 ;; SYS_TIME) echo 25 ;; SYS_TTY_CONFIG) echo 26 ;; MKNOD) echo 27 ;;
        LEASE) echo 28 ;; AUDIT_WRITE) echo 29 ;; AUDIT_CONTROL) echo 30 ;; SETFCAP) echo 31 ;;
        MAC_OVERRIDE) echo 32 ;; MAC_ADMIN) echo 33 ;; SYSLOG) echo 34 ;; WAKE_ALARM) echo 35 ;;
        BLOCK_SUSPEND) echo 36 ;; AUDIT_READ) echo 37 ;; PERFMON) echo 38 ;; BPF) echo 39 ;;
        CHECKPOINT_RESTORE) echo 40 ;;
        *) echo "cap_number: unknown capability $1" >&2; echo 63 ;;
    esac
}

# The caller's own bounding set: berth-spawn cannot give the machine more than that
# (a sandboxed CI may lack e.g. CAP_SYS_RESOURCE), so expectations are masked with it.
CALLER_BND=$((16#$(awk '$1 == "CapBnd:" { print $2 }' /proc/self/status)))

# caps_mask CAP... -> 16 hex digits, as in /proc/PID/status (limited to the caller's set)
caps_mask() {
    local m=0 c
    for c in "$@"; do
        m=$(( m | (1 << $(cap_number "$c")) ))
    done
    printf '%016x\n' $(( m & CALLER_BND ))
}

# every capability the kernel knows (limited to the caller's set)
all_caps_mask() {
    local last
    last=$(cat /proc/sys/kernel/cap_last_cap)
    printf '%016x\n' $(( ((1 << (last + 1)) - 1) & CALLER_BND ))
}

# ---------------------------------------------------------------- TAP output

# pass, fail, skip, diag, ok_if, expect_eq, expect_fail, expect_match, expect_no_match,
# tap_plan: the one vocabulary of all shell tests
# shellcheck source=test/tap.sh
. "$BERTH_SRCDIR/test/tap.sh"

# every failure shows the last berth-spawn run
tap_context() {
    last_run
}

# last_run: diagnostic text about the last run_spawn
last_run() {
    printf 'command: %s\nexit status: %s\nstdout:\n%s\nstderr:\n%s' \
        "${LAST_CMD:-}" "${RC:-}" "$(head -c 3000 <<<"${OUTPUT:-}")" "$(head -c 3000 <<<"${ERROUT:-}")"
}

# expect_rc DESC EXPECTED   (checks $RC of the last run)
expect_rc() {
    if [ "${RC:-}" = "$2" ]; then
        pass "$1"
    else
        fail "$1" "expected exit status $2, got ${RC:-}
$(last_run)"
    fi
}

# expect_line DESC LINE [TEXT]: TEXT (default $OUTPUT) contains exactly this line
expect_line() {
    if grep -qFx -e "$2" <<<"${3-$OUTPUT}"; then
        pass "$1"
    else
        fail "$1" "expected line: '$2'
$(last_run)"
    fi
}

# expect_no_line DESC LINE [TEXT]
expect_no_line() {
    if grep -qFx -e "$2" <<<"${3-$OUTPUT}"; then
        fail "$1" "unexpected line: '$2'
$(last_run)"
    else
        pass "$1"
    fi
}

# value KEY [TEXT]: print the value of the first "KEY=value" line (or word) of TEXT
value() {
    grep -oE "(^|[[:space:]])$1=[^[:space:]]*" <<<"${2-$OUTPUT}" | head -n1 | sed -E "s/^[[:space:]]*$1=//"
}

# ---------------------------------------------------------------- running berth-spawn

# run_spawn ARGS... : run berth-spawn under timeout; stdin from $SPAWN_STDIN (default
# /dev/null). Sets RC, OUTPUT (stdout, CRs removed) and ERROUT (stderr).
run_spawn() {
    local t=${SPAWN_TIMEOUT:-$BERTH_TEST_TIMEOUT}
    LAST_CMD="berth-spawn $(printf '%q ' "$@")"
    timeout -k 3 "$t" "$BERTH_SPAWN" "$@" <"${SPAWN_STDIN:-/dev/null}" \
        >"$SCRATCH/state/out" 2>"$SCRATCH/state/err"
    RC=$?
    OUTPUT=$(tr -d '\r' <"$SCRATCH/state/out")
    ERROUT=$(tr -d '\r' <"$SCRATCH/state/err")
    [ "$RC" = 124 ] && diag "berth-spawn timed out after ${t}s: $LAST_CMD"
    return 0
}

# run_payload [SPAWN-OPTIONS...] -- PAYLOAD-ARGS... : berth-spawn -P -D $TREE ... berth-payload ...
run_payload() {
    local opts=()
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    [ "$#" -gt 0 ] && shift
    run_spawn -P -D "${RUN_TREE:-$TREE}" "${opts[@]}" "$PAYLOAD" "$@"
}

# run_tty COMMAND-STRING : run a shell command line under script(1), so that it has a
# pty on stdin/stdout. Sets RC (the command's status), OUTPUT, ERROUT (empty).
run_tty() {
    local t=${SPAWN_TIMEOUT:-$BERTH_TEST_TIMEOUT}
    LAST_CMD="script -qec $1"
    timeout -k 3 "$t" script -qefc "$1" /dev/null <"${SPAWN_STDIN:-/dev/null}" \
        >"$SCRATCH/state/out" 2>"$SCRATCH/state/err"
    RC=$?
    # (script(1) sends the terminal's EOF character when its stdin ends; the machine's
    # tty may echo it back as "^@" or "^D": drop those echoes)
    OUTPUT=$(tr -d '\r\000' <"$SCRATCH/state/out" | sed 's/\^[@D]//g')
    ERROUT=$(tr -d '\r' <"$SCRATCH/state/err")
    [ "$RC" = 124 ] && diag "timed out after ${t}s: $LAST_CMD"
    return 0
}

# run_pty [--rows R --cols C] ACTION... -- COMMAND... : drive COMMAND on a pty with
# test/integration/pty-driver.py. Sets RC, OUTPUT (the transcript, CRs removed).
run_pty() {
    LAST_CMD="pty-driver $(printf '%q ' "$@")"
    timeout -k 3 $(( ${SPAWN_TIMEOUT:-$BERTH_TEST_TIMEOUT} + 5 )) \
        "$PYTHON" "$BERTH_TESTDIR/pty-driver.py" --timeout "${SPAWN_TIMEOUT:-$BERTH_TEST_TIMEOUT}" "$@" \
        </dev/null >"$SCRATCH/state/out" 2>"$SCRATCH/state/err"
    RC=$?
    OUTPUT=$(tr -d '\r' <"$SCRATCH/state/out")
    ERROUT=$(tr -d '\r' <"$SCRATCH/state/err")
    return 0
}

# leader_of PID: the machine's PID 1, the first child of berth-spawn PID (waits up to 5 s)
leader_of() {
    local i l
    for i in $(seq 1 100); do
        l=$(awk '{print $1}' /proc/"$1"/task/"$1"/children 2>/dev/null)
        [ -n "$l" ] && { echo "$l"; return 0; }
        sleep 0.05
    done
    return 1
}

# spawn_bg OUT ERR ARGS... : start berth-spawn in the background (SIGINT/SIGQUIT are
# reset to default, since bash ignores them for background jobs). Sets BG_PID.
spawn_bg() {
    local out=$1 err=$2
    shift 2
    LAST_CMD="berth-spawn $(printf '%q ' "$@") &"
    env --default-signal=INT,QUIT,TERM "$BERTH_SPAWN" "$@" </dev/null >"$out" 2>"$err" &
    BG_PID=$!
    _bg_pids+=("$BG_PID")
}

# wait_for FILE ERE [SECONDS]: wait until a line of FILE matches ERE
wait_for() {
    local i n=$(( ${3:-10} * 20 ))
    for ((i = 0; i < n; i++)); do
        grep -qE -e "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# wait_bg OUT ERR [SECONDS]: wait for $BG_PID; sets RC (124 and SIGKILL on timeout),
# OUTPUT and ERROUT.
wait_bg() {
    local i n=$(( ${3:-10} * 20 ))
    RC=
    for ((i = 0; i < n; i++)); do
        if ! kill -0 "$BG_PID" 2>/dev/null; then
            break
        fi
        # reaped already? (kill -0 succeeds on zombies)
        if [ "$(awk '{print $3}' "/proc/$BG_PID/stat" 2>/dev/null)" = Z ]; then
            break
        fi
        sleep 0.05
    done
    if [ "$i" -ge "$n" ]; then
        diag "berth-spawn (pid $BG_PID) still running after ${3:-10}s, killing it"
        kill -KILL "$BG_PID" 2>/dev/null
        wait "$BG_PID" 2>/dev/null
        RC=124
    else
        wait "$BG_PID"
        RC=$?
    fi
    OUTPUT=$(tr -d '\r' <"$1")
    ERROUT=$(tr -d '\r' <"$2")
}

# ---------------------------------------------------------------- booted guests with berth in them

# stage_berth DIR: this build installed into DIR as a package would be (meson install
# --destdir; BERTH_BUILD_ROOT is the build directory)
stage_berth() {
    meson install -C "$BERTH_BUILD_ROOT" --destdir "$1" --no-rebuild --quiet \
        >"$SCRATCH/state/install.log" 2>&1
}

# overlay_tree LOWER DIR: DIR shows LOWER, writes go to a tmpfs (DIR.ov) and LOWER never
# changes; unmount with umount DIR DIR.ov
overlay_tree() {
    mkdir -p "$2" "$2.ov" &&
        mount -t tmpfs -o mode=0755 tmpfs "$2.ov" &&
        mkdir "$2.ov/upper" "$2.ov/work" &&
        mount -t overlay overlay -o "lowerdir=$1,upperdir=$2.ov/upper,workdir=$2.ov/work" "$2"
}

# gpt_root_image OUT TREE SIZE: a GPT disk image OUT of SIZE (truncate's units, sparse)
# with one partition from 1 MiB on, of this architecture's Discoverable Partitions root
# type, holding TREE as ext4 (mkfs.ext4 -d: no loop device, no mount)
gpt_root_image() {
    local type sectors
    case $(uname -m) in
        x86_64) type=4f68bce3-e8cd-4db1-96e7-fbcaf984b709 ;;
        aarch64) type=b921b045-1df0-41c3-af44-4c6f280d3fae ;;
        *) echo "gpt_root_image: no root partition type known for $(uname -m)" >&2; return 1 ;;
    esac
    rm -f "$1" && truncate -s "$3" "$1" &&
        sfdisk -q --no-reread --no-tell-kernel "$1" <<<"label: gpt
start=2048, type=$type" >/dev/null &&
        sectors=$(sfdisk -d "$1" | sed -n 's/.*size= *\([0-9]*\),.*/\1/p') &&
        mkfs.ext4 -q -F -E offset=1048576,lazy_itable_init=1,lazy_journal_init=1 -d "$2" "$1" "$((sectors / 2))k"
}

# in_guest CMD...: CMD in the namespaces and root of the machine whose PID 1 is $LEADER,
# with a clean environment, under timeout ${GUEST_TIMEOUT:-60}
in_guest() {
    timeout -k 2 "${GUEST_TIMEOUT:-60}" nsenter -t "$LEADER" -m -u -i -n -p -C -r -w \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C "$@"
}

# ---------------------------------------------------------------- host state

# the host's mount table (full lines: a changed option is a change too)
host_mounts() {
    cat /proc/self/mountinfo
}

# tree_state DIR: a listing of everything in DIR (type, mode, owner, size, link target)
# plus a checksum of every regular file's content; times are left out.
tree_state() {
    (
        cd "$1" 2>/dev/null || { echo "cannot enter $1"; exit 0; }
        find . -xdev -printf '%P %y %m %U:%G %s %l\n' 2>&1 | sort
        find . -xdev -type f -print0 2>/dev/null | sort -z | xargs -0r md5sum 2>&1
    )
}

# new_tree NAME: a fresh busybox tree $SCRATCH/NAME with the payload installed; prints its path
new_tree() {
    local t=$SCRATCH/$1
    if ! "$BERTH_TOOLS/make-busybox-tree.sh" "$t" >"$SCRATCH/state/mktree.log" 2>&1; then
        echo "Bail out! make-busybox-tree.sh $t failed: $(cat "$SCRATCH/state/mktree.log")"
        exit 1
    fi
    install -m 0755 "$BERTH_PAYLOAD" "$t/usr/bin/berth-payload"
    printf '%s\n' "$t"
}

# ---------------------------------------------------------------- setup / cleanup

_bg_pids=()
_cleanup_done=

# our processes: those with our marker in their environment (berth-spawn and anything
# it forked but did not exec) and those whose root directory is one of our scratch dirs
# (the payload and anything else inside a machine of ours).
_our_processes() {
    local p pid env roots line
    roots=$(find "$SCRATCH" -maxdepth 2 -type d -printf '%D:%i\n' 2>/dev/null | sort -u)
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [ "$pid" = "$$" ] && continue
        env=()
        { mapfile -d "" -t env <"$p/environ"; } 2>/dev/null || continue
        for line in "${env[@]}"; do
            if [ "$line" = "BERTH_TEST_MARKER=$BERTH_TEST_MARKER" ]; then
                echo "$pid"
                break
            fi
        done
    done
    # (one awk, not a grep per process: a busy host has a thousand of them)
    find -L /proc/[0-9]*/root -maxdepth 0 -printf '%h %D:%i\n' 2>/dev/null |
        awk -v roots="$roots" 'BEGIN { n = split(roots, r, "\n"); for (i = 1; i <= n; i++) ours[r[i]] = 1 }
                               ($2 in ours) { sub("^/proc/", "", $1); print $1 }'
}

_describe_pids() {
    local pid
    for pid in "$@"; do
        printf 'pid %s: %s\n' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    done
}

cleanup() {
    local rc=$? leaks=() pids=() i m
    [ -n "$_cleanup_done" ] && return
    _cleanup_done=1
    trap - EXIT INT TERM HUP

    # background berth-spawn runs that are still there are leaks too
    for i in "${_bg_pids[@]}"; do
        kill -0 "$i" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$i/stat" 2>/dev/null)" != Z ] &&
            leaks+=("berth-spawn still running: $(_describe_pids "$i")")
    done

    # processes (give exiting ones a moment)
    # (_our_processes runs in this shell: a subshell would carry the marker too)
    for i in $(seq 1 20); do
        _our_processes >"$SCRATCH/state/procs"
        mapfile -t pids < <(sort -un "$SCRATCH/state/procs")
        [ "${#pids[@]}" -eq 0 ] && break
        sleep 0.1
    done
    if [ "${#pids[@]}" -gt 0 ]; then
        leaks+=("leftover processes:
$(_describe_pids "${pids[@]}")")
        kill -KILL "${pids[@]}" 2>/dev/null
    fi
    for i in "${_bg_pids[@]}"; do
        kill -KILL "$i" 2>/dev/null
        wait "$i" 2>/dev/null
    done

    # mounts
    m=$(host_mounts | sort | comm -13 "$SCRATCH/state/mounts.before" -)
    if [ -n "$m" ]; then
        leaks+=("new or changed host mounts:
$m")
    fi
    m=$(sort "$SCRATCH/state/mounts.before" | comm -23 - <(host_mounts | sort))
    if [ -n "$m" ]; then
        leaks+=("host mounts gone or changed:
$m")
    fi
    if [ -n "$(host_mounts | sort | comm -3 "$SCRATCH/state/mounts.before" - | grep -vF "$SCRATCH")" ]; then
        leaks+=("(mount changes outside $SCRATCH may also come from another program that ran at the same time)")
    fi
    # unmount whatever is left below the scratch dir, so that removing it is safe
    awk '{print $5}' /proc/self/mountinfo | grep -F "$SCRATCH" | sort -r | while read -r m; do
        umount -l "$(printf '%b' "$m")" 2>/dev/null
    done

    # loop devices
    m=$(losetup -a 2>/dev/null | sort | comm -13 "$SCRATCH/state/loop.before" -)
    if [ -n "$m" ]; then
        leaks+=("new loop devices:
$m")
    fi

    rm -rf --one-file-system "$SCRATCH" 2>/dev/null
    if [ -e "$SCRATCH" ]; then
        leaks+=("could not remove the scratch directory $SCRATCH")
    fi

    if [ "${#leaks[@]}" -eq 0 ]; then
        pass "no leaked mounts, loop devices or processes"
    else
        fail "no leaked mounts, loop devices or processes" "$(printf '%s\n' "${leaks[@]}")"
    fi

    echo "1..$_tap_n"
    if [ "$_tap_failed" -gt 0 ] || [ "$rc" -ne 0 ]; then
        [ "$rc" -ne 0 ] && diag "test script exited with status $rc"
        exit 1
    fi
    exit 0
}

# in_own_netns "$@": as root, run this test again in a network namespace of its own, the
# "host" of the networking tests: the machine's real network is never touched
in_own_netns() {
    if [ -z "${BERTH_TEST_NETNS:-}" ] && [ "$(id -u)" = 0 ]; then
        export BERTH_TEST_NETNS=1
        exec unshare --net -- "$BASH" "$0" "$@"
    fi
}

setup() {
    if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP not root"
        exit 0
    fi
    # Every test runs in a private mount namespace of its own: whatever it mounts (scratch
    # file systems, loop images) stays there, and the leak check below still sees every
    # mount berth-spawn would leave, since berth-spawn runs in this namespace too.
    if [ -z "${BERTH_TEST_PRIVATE_NS:-}" ]; then
        export BERTH_TEST_PRIVATE_NS=1
        exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
    fi
    if [ ! -x "$BERTH_SPAWN" ]; then
        echo "Bail out! berth-spawn not found at $BERTH_SPAWN"
        exit 1
    fi
    if [ ! -x "$BERTH_PAYLOAD" ]; then
        echo "Bail out! berth-payload not found at $BERTH_PAYLOAD"
        exit 1
    fi
    if [ ! -x "$BERTH_TOOLS/make-busybox-tree.sh" ]; then
        echo "Bail out! $BERTH_TOOLS/make-busybox-tree.sh not found"
        exit 1
    fi
    case $BERTH_SPAWN in /*) ;; *) BERTH_SPAWN=$PWD/$BERTH_SPAWN ;; esac

    SCRATCH=$(mktemp -d /tmp/berth-test.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
    chmod 0755 "$SCRATCH"
    mkdir "$SCRATCH/state"
    TAP_SCRATCH=$SCRATCH/state
    export BERTH_TEST_MARKER=$SCRATCH

    host_mounts | sort >"$SCRATCH/state/mounts.before"
    losetup -a 2>/dev/null | sort >"$SCRATCH/state/loop.before"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP

    # the machine name defaults to the basename of the tree
    TREE=$(new_tree berthbox)
    MACHINE=berthbox
}
