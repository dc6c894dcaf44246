#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn bad input: every case must print exactly one line on stderr that names
# the bad value, exit with status 1, and leave the host's mount table and the tree
# unchanged.
. "$(dirname "$0")/lib.sh"
setup

# make sure whatever a normal run creates in the tree exists already, so that the
# comparisons below are about the failing runs only
run_payload -- exit 0
expect_rc "a normal run works (baseline for the cases below)" 0

# check_bad MODE DESC VALUE ARGS... : run berth-spawn ARGS, expect a clean failure.
#   MODE strict: stderr is exactly one line (bad input: nothing may be printed before it)
#   MODE setup:  exactly one "berth-spawn: " line; informational "Spawning container ..."
#                lines are tolerated (a failure found while setting the machine up)
# VALUE must appear in the error line (empty VALUE: not checked).
check_bad() {
    local mode=$1 desc=$2 val=$3 mounts_before tree_before problems=() errlines n
    shift 3
    mounts_before=$(host_mounts)
    tree_before=$(tree_state "$TREE")
    run_spawn "$@"
    [ "$RC" = 1 ] || problems+=("exit status is $RC, not 1")
    if [ "$mode" = strict ]; then
        errlines=$ERROUT
    else
        errlines=$(grep -v '^Spawning container ' <<<"$ERROUT")
    fi
    n=$(grep -c '' <<<"$errlines")
    [ -z "$errlines" ] && n=0
    [ "$n" = 1 ] || problems+=("$n lines on stderr, not exactly 1")
    if [ "$mode" = setup ] && ! grep -q '^berth-spawn: ' <<<"$errlines"; then
        problems+=("the error line does not start with 'berth-spawn: '")
    fi
    if [ -n "$val" ] && ! grep -qF -e "$val" <<<"$errlines"; then
        problems+=("the error does not name the bad value '$val'")
    fi
    local md td
    md=$(diff <(echo "$mounts_before") <(host_mounts))
    [ -z "$md" ] || problems+=("host mount table changed:
$md")
    td=$(diff <(echo "$tree_before") <(tree_state "$TREE"))
    [ -z "$td" ] || problems+=("the tree changed:
$td")
    if [ "${#problems[@]}" -eq 0 ]; then
        pass "$desc: $(head -n1 <<<"$errlines")"
    else
        fail "$desc" "$(printf '%s\n' "${problems[@]}")
$(last_run)"
    fi
}

afile=$SCRATCH/a-file
printf 'x' >"$afile"
nousr=$SCRATCH/no-usr-tree
mkdir -p "$nousr/etc" "$nousr/bin"
hostdir=$SCRATCH/hostdir
mkdir -p "$hostdir"
long70=$(printf 'n%.0s' $(seq 1 70))

# ---- the directory
check_bad strict "missing DIR" "$SCRATCH/does-not-exist" -D "$SCRATCH/does-not-exist" "$PAYLOAD" exit 0
check_bad strict "DIR is a regular file" "$afile" -D "$afile" "$PAYLOAD" exit 0
nousr_before=$(tree_state "$nousr")
check_bad strict "DIR without /usr" "$nousr" -D "$nousr" /bin/sh -c true
expect_eq "DIR without /usr: that directory is left unchanged" "$nousr_before" "$(tree_state "$nousr")"

# ---- the command
check_bad strict "command (absolute path) not in the tree" /usr/bin/no-such-command \
    -D "$TREE" /usr/bin/no-such-command
check_bad strict "command (PATH lookup) not in the tree" no-such-command -D "$TREE" no-such-command
if [ -x /usr/bin/python3 ] && [ ! -e "$TREE/usr/bin/python3" ]; then
    check_bad strict "command that exists on the host but not in the tree" /usr/bin/python3 \
        -D "$TREE" /usr/bin/python3 -c 'print(1)'
fi

# ---- machine name / hostname
check_bad strict "-M a/b" a/b -D "$TREE" -M a/b "$PAYLOAD" exit 0
check_bad strict "-M .." .. -D "$TREE" -M .. "$PAYLOAD" exit 0
check_bad strict "-M ." . -D "$TREE" -M . "$PAYLOAD" exit 0
check_bad strict "-M with 70 characters" "$long70" -D "$TREE" -M "$long70" "$PAYLOAD" exit 0
check_bad strict "-M .hidden (leading dot)" .hidden -D "$TREE" -M .hidden "$PAYLOAD" exit 0
check_bad strict "-M trailing. (trailing dot)" trailing. -D "$TREE" -M trailing. "$PAYLOAD" exit 0
check_bad strict "-M a..b" a..b -D "$TREE" -M a..b "$PAYLOAD" exit 0
check_bad strict "-M 'a b' (space)" "a b" -D "$TREE" -M "a b" "$PAYLOAD" exit 0
check_bad strict "-M '' (empty)" "" -D "$TREE" -M "" "$PAYLOAD" exit 0
# systemd refuses a label that starts or ends with '-' ("Invalid machine name")
check_bad strict "-M -- (only hyphens)" "--" -D "$TREE" -M -- "$PAYLOAD" exit 0
check_bad strict "-M -x (leading hyphen)" "-x" -D "$TREE" -M -x "$PAYLOAD" exit 0
check_bad strict "-M x- (trailing hyphen)" "x-" -D "$TREE" -M x- "$PAYLOAD" exit 0
check_bad strict "-M a-.b (hyphen before a dot)" "a-.b" -D "$TREE" -M a-.b "$PAYLOAD" exit 0
check_bad strict "--hostname=-h" "-h" -D "$TREE" --hostname=-h "$PAYLOAD" exit 0
check_bad strict "--machine=a:b" a:b -D "$TREE" --machine=a:b "$PAYLOAD" exit 0
check_bad strict "--hostname='a b'" "a b" -D "$TREE" "--hostname=a b" "$PAYLOAD" exit 0
check_bad strict "--hostname=bad/host" bad/host -D "$TREE" --hostname=bad/host "$PAYLOAD" exit 0
check_bad strict "--hostname with 70 characters" "$long70" -D "$TREE" "--hostname=$long70" "$PAYLOAD" exit 0

# ---- --bind and friends
check_bad strict "--bind with a relative source" relative/src -D "$TREE" --bind=relative/src:/mnt "$PAYLOAD" exit 0
check_bad strict "--bind= (empty)" "" -D "$TREE" --bind= "$PAYLOAD" exit 0
check_bad strict "--bind-ro= (empty)" "" -D "$TREE" --bind-ro= "$PAYLOAD" exit 0
check_bad strict "--bind with too many colons" "$hostdir:/mnt:rbind:extra" \
    -D "$TREE" "--bind=$hostdir:/mnt:rbind:extra" "$PAYLOAD" exit 0
check_bad strict "--bind with a relative destination" relative/dst \
    -D "$TREE" "--bind=$hostdir:relative/dst" "$PAYLOAD" exit 0
check_bad strict "--bind with an unknown option" bogusopt \
    -D "$TREE" "--bind=$hostdir:/mnt:bogusopt" "$PAYLOAD" exit 0
check_bad strict "--bind-ro with a relative source" relative/ro -D "$TREE" --bind-ro=relative/ro "$PAYLOAD" exit 0
check_bad setup "--bind with a source that does not exist" "$SCRATCH/no-such-source" \
    -D "$TREE" "--bind=$SCRATCH/no-such-source:/mnt/x" "$PAYLOAD" exit 0
check_bad strict "--tmpfs with a relative path" relative/tmp -D "$TREE" --tmpfs=relative/tmp "$PAYLOAD" exit 0
check_bad strict "--tmpfs= (empty)" "" -D "$TREE" --tmpfs= "$PAYLOAD" exit 0
check_bad strict "--overlay with a single path" /only-one -D "$TREE" --overlay=/only-one "$PAYLOAD" exit 0
check_bad strict "--overlay-ro with a relative destination" relative/ov \
    -D "$TREE" "--overlay-ro=$hostdir:relative/ov" "$PAYLOAD" exit 0
check_bad strict "--inaccessible with a relative path" relative/in -D "$TREE" --inaccessible=relative/in "$PAYLOAD" exit 0
check_bad setup "--inaccessible of a path that does not exist in the tree" /no/such/path \
    -D "$TREE" --inaccessible=/no/such/path "$PAYLOAD" exit 0

# ---- capabilities, syscalls
check_bad strict "--capability=CAP_BOGUS" CAP_BOGUS -D "$TREE" --capability=CAP_BOGUS "$PAYLOAD" exit 0
check_bad strict "--capability=CAP_CHOWN,CAP_BOGUS2 (bad one in a list)" CAP_BOGUS2 \
    -D "$TREE" --capability=CAP_CHOWN,CAP_BOGUS2 "$PAYLOAD" exit 0
check_bad strict "--drop-capability=CAP_NOPE" CAP_NOPE -D "$TREE" --drop-capability=CAP_NOPE "$PAYLOAD" exit 0
check_bad strict "--system-call-filter=no_such_syscall" no_such_syscall \
    -D "$TREE" --system-call-filter=no_such_syscall "$PAYLOAD" exit 0
check_bad strict "--system-call-filter=~no_such_syscall2 (deny list)" no_such_syscall2 \
    -D "$TREE" "--system-call-filter=~no_such_syscall2" "$PAYLOAD" exit 0
check_bad strict "--system-call-filter='keyctl bogus_call' (bad one in a list)" bogus_call \
    -D "$TREE" "--system-call-filter=keyctl bogus_call" "$PAYLOAD" exit 0
check_bad strict "--system-call-filter=@no-such-group" @no-such-group \
    -D "$TREE" --system-call-filter=@no-such-group "$PAYLOAD" exit 0
check_bad strict "--system-call-filter= (empty)" --system-call-filter= \
    -D "$TREE" --system-call-filter= "$PAYLOAD" exit 0
check_bad strict "--system-call-filter=~ (an empty deny list)" "--system-call-filter='~'" \
    -D "$TREE" "--system-call-filter=~" "$PAYLOAD" exit 0

# ---- other option values
check_bad strict "--console=fancy" fancy -D "$TREE" --console=fancy "$PAYLOAD" exit 0
check_bad strict "--kill-signal=SIGBOGUS" SIGBOGUS -D "$TREE" --kill-signal=SIGBOGUS "$PAYLOAD" exit 0
check_bad strict "--uuid=not-a-uuid" not-a-uuid -D "$TREE" --uuid=not-a-uuid "$PAYLOAD" exit 0
check_bad strict "--no-new-privileges=maybe" maybe -D "$TREE" --no-new-privileges=maybe "$PAYLOAD" exit 0
check_bad strict "--chdir with a relative path" relative/dir -D "$TREE" --chdir=relative/dir "$PAYLOAD" exit 0
check_bad strict "--resolv-conf=bogus" bogus -D "$TREE" --resolv-conf=bogus "$PAYLOAD" exit 0
check_bad strict "--timezone=bogus" bogus -D "$TREE" --timezone=bogus "$PAYLOAD" exit 0
check_bad strict "-E with an empty name" "=value" -D "$TREE" -E =value "$PAYLOAD" exit 0
check_bad strict "-E with a space in the name" "A B" -D "$TREE" -E "A B=x" "$PAYLOAD" exit 0
check_bad strict "-E with a newline in the value (escaped in the error)" 'NL=a\nb' -D "$TREE" -E "NL=a
b" "$PAYLOAD" exit 0
check_bad strict "unknown option --bogus-option" bogus-option -D "$TREE" --bogus-option "$PAYLOAD" exit 0

# ---- users (looked up in the tree only)
check_bad setup "--user that does not exist" nosuchuser -D "$TREE" --user=nosuchuser "$PAYLOAD" exit 0
if grep -q '^daemon:' /etc/passwd && ! grep -q '^daemon:' "$TREE/etc/passwd"; then
    check_bad setup "--user that exists only on the host (no host NSS)" daemon \
        -D "$TREE" --user=daemon "$PAYLOAD" exit 0
fi
# strict: the machine has not started, so no "Spawning container" line may come first
check_bad strict "--chdir to a directory that does not exist in the tree" /no-such-dir \
    -D "$TREE" --chdir=/no-such-dir "$PAYLOAD" exit 0

# ---- checked before anything is made: options that fail must not leave mount points
check_bad setup "--tmpfs=/x:mode=bad (after a good --tmpfs and --bind)" mode=bad \
    -D "$TREE" --tmpfs=/made-by-good-tmpfs "--bind=$hostdir:/made-by-bind" --tmpfs=/made-by-bad-tmpfs:mode=bad \
    "$PAYLOAD" exit 0
check_bad strict "--read-only --volatile=yes" --volatile=yes -D "$TREE" --read-only --volatile=yes "$PAYLOAD" exit 0
check_bad strict "--slice=..slice" ..slice -D "$TREE" --slice=..slice "$PAYLOAD" exit 0
# (on a hybrid host the cgroup2 tree is /sys/fs/cgroup/unified)
ok_if "--slice=..slice: no '..slice' cgroup was made" \
    test -z "$(find /sys/fs/cgroup -maxdepth 2 -name ..slice -type d)"
check_bad strict "--slice=.hidden.slice" .hidden.slice -D "$TREE" --slice=.hidden.slice "$PAYLOAD" exit 0
check_bad strict "--keep-unit with --slice=" --keep-unit -D "$TREE" --keep-unit --slice=x.slice "$PAYLOAD" exit 0
