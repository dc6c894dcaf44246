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
