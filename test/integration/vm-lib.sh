# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# vm-lib.sh — for tests that run their checks in a qemu VM (tools/vm-run.sh). Such a test
# is one script with two parts: run with --in-vm (inside the VM) it prints "ok - DESC" /
# "not ok - DESC" lines (pass, fail, ok_if) and exits with the number of failures; run normally (on the host)
# it calls vm_host_main, which boots one VM running the script with --in-vm, numbers its
# results as TAP and checks the harness: exit status, stderr apart from stdout, nothing
# left behind on the host. A VM part may instead use lib.sh (setup, the TAP vocabulary of
# tap.sh: numbered lines, a plan, exit status 1 on any failure); the host renumbers those too.
#
# The host part may set, before vm_host_main:
#   VM_SHARES     an array of host directories the VM gets writable (vm-run.sh --share)
#   VM_TIMEOUT    seconds the VM may run (default 600)
#   vm_host_prepare SCRATCH   a function run before the VM boots, with the test's scratch
#                 directory (removed afterwards): it may add to VM_SHARES and export
#                 BERTH_* variables, which the VM part sees

# ---------------------------------------------------------------- in the VM

# pass, fail and ok_if, as in test/tap.sh, but unnumbered: the host numbers the VM's lines
failures=0
pass() { echo "ok - $1"; }
fail() {
    echo "not ok - $1"
    shift
    [ "$#" -eq 0 ] || printf '%s\n' "$@" | sed 's/^/# /'
    failures=$((failures + 1))
}
# ok_if DESC COMMAND...: pass if COMMAND succeeds (its output is shown otherwise)
ok_if() {
    local desc=$1 out
    shift
    if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc" "command: $*" "$out"; fi
}

# ---------------------------------------------------------------- on the host

# vm_host_main SELF PROGRAM...: PROGRAMs are what the VM part needs from the host
vm_host_main() {
    local self=$1 vm_run=${BERTH_TOOLS:?}/vm-run.sh scratch rc p line left procs f c start
    local n=0 failed=0 share_args=() expect_rc
    shift

    pass() { n=$((n + 1)); echo "ok $n - $1"; }
    fail() {
        n=$((n + 1))
        failed=$((failed + 1))
        echo "not ok $n - $1"
        shift
        [ "$#" -eq 0 ] || printf '%s\n' "$@" | sed 's/^/# /'
    }

    if [ "$(id -u)" != 0 ]; then
        echo "1..0 # SKIP not root"
        exit 0
    fi
    for p in "$@"; do
        if ! PATH=$PATH:/usr/sbin:/sbin command -v "$p" >/dev/null 2>&1; then
            echo "Bail out! $p not found (tools/install-deps.sh installs it)"
            exit 1
        fi
    done

    scratch=$(mktemp -d /tmp/berth-test-vm.XXXXXX) || { echo "Bail out! mktemp failed"; exit 1; }
    # shellcheck disable=SC2064
    trap "rm -rf --one-file-system '$scratch'" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP

    if ! "$vm_run" --prepare >"$scratch/prepare.out" 2>"$scratch/prepare.err"; then
        rc=$?
        if [ "$rc" = 77 ]; then
            echo "1..0 # SKIP $(tail -n1 "$scratch/prepare.err")"
            exit 0
        fi
        echo "Bail out! vm-run.sh --prepare failed (exit status $rc): $(tail -n 20 "$scratch/prepare.err" | tr '\n' ' ')"
        exit 1
    fi

    # The VM sees the host's files, except under /tmp, /var/tmp and /run (fresh tmpfs
    # there): share the source tree (the test, vm-lib.sh, tools/) and berth-spawn's
    # directory from there when they are in such a place, as a CI checkout may be.
    local srcdir
    srcdir=$(cd "$(dirname "$self")/../.." && pwd)
    for p in "$srcdir" "$(dirname "${BERTH_SPAWN:-/}")" "${BERTH_TOOLS:-}"; do
        case $p in
            "$srcdir"/*) continue ;;
            /tmp/* | /var/tmp/* | /run/*) share_args+=("--share=$p") ;;
        esac
    done

    if declare -F vm_host_prepare >/dev/null; then
        vm_host_prepare "$scratch" || { echo "Bail out! preparing the VM's run failed"; exit 1; }
    fi
    for p in ${VM_SHARES[@]+"${VM_SHARES[@]}"}; do
        share_args+=("--share=$p")
    done

    # vm-run.sh makes its temporary directory in $TMPDIR: a private one shows leftovers.
    mkdir "$scratch/tmp"
    start=$(date +%s.%N)
    TMPDIR=$scratch/tmp "$vm_run" --timeout="${VM_TIMEOUT:-600}" ${share_args[@]+"${share_args[@]}"} -- bash "$self" --in-vm \
        >"$scratch/out" 2>"$scratch/err"
    rc=$?
    echo "# the VM ran for $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"

    # renumber the VM's results (unnumbered from vm-lib.sh, numbered from tap.sh)
    while IFS= read -r line; do
        if [[ $line =~ ^ok\ ([0-9]+\ )?-\ (.*)$ ]]; then
            pass "${BASH_REMATCH[2]}"
        elif [[ $line =~ ^not\ ok\ ([0-9]+\ )?-\ (.*)$ ]]; then
            n=$((n + 1))
            failed=$((failed + 1))
            echo "not ok $n - ${BASH_REMATCH[2]}"
        else
            echo "# ${line#\# }"
        fi
    done <"$scratch/out"

    # a vm-lib.sh part exits with the number of its failures, a tap.sh one (with a plan) with 1
    expect_rc=$(grep -cE '^not ok ([0-9]+ )?- ' "$scratch/out")
    if grep -qE '^1\.\.[0-9]+$' "$scratch/out" && [ "$expect_rc" -gt 0 ]; then
        expect_rc=1
    fi
    if [ "$rc" = "$expect_rc" ]; then
        pass "vm-run.sh exits with the command's exit status ($rc)"
    else
        fail "vm-run.sh exits with the command's exit status" \
            "exit status $rc, $expect_rc expected from the failures reported" "stderr:" "$(tail -n 40 "$scratch/err")"
    fi
    grep -qE '^ok ([0-9]+ )?- the VM part ran to its end$' "$scratch/out" ||
        fail "the VM part ran to its end" "stderr:" "$(tail -n 40 "$scratch/err")"
    if grep -qx "to stderr from the VM" "$scratch/err" && ! grep -q "to stderr from the VM" "$scratch/out"; then
        pass "the command's stderr comes out on stderr, apart from stdout"
    else
        fail "the command's stderr comes out on stderr, apart from stdout" "$(head -c 2000 "$scratch/err")"
    fi
    left=$(ls -A "$scratch/tmp")
    if [ -z "$left" ]; then
        pass "vm-run.sh removed its temporary directory"
    else
        fail "vm-run.sh removed its temporary directory" "left: $left"
    fi
    procs=
    for f in /proc/[0-9]*/cmdline; do
        { c=$(tr '\0' ' ' <"$f"); } 2>/dev/null
        case $c in *"$scratch/tmp"*) procs+="${f%/cmdline}: $c"$'\n' ;; esac
    done
    if [ -z "$procs" ]; then
        pass "no qemu (or other) process of the VM is left"
    else
        fail "no qemu (or other) process of the VM is left" "$procs"
    fi

    echo "1..$n"
    [ "$failed" -eq 0 ]
    exit
}
