#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-spawn console modes: pipe, read-only, passive, autopipe, interactive (under
# script(1) and a python pty), the ^]^]^] escape, window size, default command.
. "$(dirname "$0")/lib.sh"
setup

q() { printf '%q ' "$@"; }
input=$SCRATCH/state/input

# ---- pipe
printf 'hello through the pipe\nsecond line\n' >"$input"
SPAWN_STDIN=$input run_spawn -P -D "$TREE" /bin/cat
expect_eq "pipe mode: stdin is passed through" "hello through the pipe
second line" "$OUTPUT"
expect_rc "pipe mode: exit status 0" 0

SPAWN_STDIN=$input run_spawn --console=pipe -D "$TREE" /bin/cat
expect_eq "--console=pipe is the same as -P" "hello through the pipe
second line" "$OUTPUT"

run_payload -- tty
expect_eq "pipe mode with files/pipes: no tty inside" "tty0=0 tty1=0 tty2=0" "$(echo $OUTPUT)"

run_spawn -P -D "$TREE" /bin/sh -c 'echo to-stdout; echo to-stderr >&2'
expect_eq "pipe mode: stdout goes to stdout" to-stdout "$OUTPUT"
expect_line "pipe mode: stderr goes to stderr" to-stderr "$ERROUT"

# ---- default command: the user's shell from the tree's /etc/passwd, else /bin/sh
printf 'echo hi-from-the-default-shell\nexit 7\n' >"$SCRATCH/state/script"
SPAWN_STDIN=$SCRATCH/state/script run_spawn -P -D "$TREE"
expect_eq "no command: runs the shell, which reads stdin" hi-from-the-default-shell "$OUTPUT"
expect_rc "no command: the shell's exit status is passed through" 7

shelltree=$(new_tree shelltree)
printf '#!/bin/sh\necho "custom-shell uid=$(id -u)"\n' >"$shelltree/usr/bin/berth-shell"
chmod 0755 "$shelltree/usr/bin/berth-shell"
sed -i 's|^root:x:0:0:root:/root:/bin/sh$|root:x:0:0:root:/root:/usr/bin/berth-shell|;
        s|^berthtest:\(.*\):/bin/sh$|berthtest:\1:/usr/bin/berth-shell|' "$shelltree/etc/passwd"
SPAWN_STDIN=/dev/null run_spawn -P -D "$shelltree"
expect_line "no command: the shell comes from the tree's /etc/passwd (root)" "custom-shell uid=0"
SPAWN_STDIN=/dev/null run_spawn -P -D "$shelltree" --user=berthtest
expect_line "no command: the shell comes from the tree's /etc/passwd (--user)" "custom-shell uid=1000"
sed -i 's|^root:x:0:0:root:/root:.*$|root:x:0:0:root:/root:|' "$shelltree/etc/passwd"
printf 'echo "fallback uid=$(id -u)"\n' >"$SCRATCH/state/script2"
SPAWN_STDIN=$SCRATCH/state/script2 run_spawn -P -D "$shelltree"
expect_line "no command, no shell in the tree's /etc/passwd: /bin/sh" "fallback uid=0"

# ---- read-only (the default when stdin is not a tty)
run_spawn --console=read-only -D "$TREE" "$PAYLOAD" tty
expect_rc "--console=read-only: runs" 0
expect_match "--console=read-only: output is forwarded, stdout inside is a tty" '^tty1=1'
SPAWN_STDIN=$input run_spawn --console=read-only -D "$TREE" /bin/sh -c \
    'if read -t 2 line; then echo "line=[$line]"; else echo no-input; fi'
expect_eq "--console=read-only: stdin is not forwarded" no-input "$OUTPUT"

run_spawn -D "$TREE" "$PAYLOAD" tty
expect_match "default console without a tty on stdin is read-only: stdout inside is a tty" '^tty1=1'
expect_rc "default console: exit status 0" 0
run_spawn -D "$TREE" "$PAYLOAD" exit 5
expect_rc "read-only console: exit status passthrough" 5
TERM=vt220 run_spawn --console=read-only -D "$TREE" "$PAYLOAD" env
expect_no_match "read-only console: TERM is not set" '^TERM='

# ---- passive
run_spawn --console=passive -D "$TREE" "$PAYLOAD" echo passive-marker
expect_rc "--console=passive: runs" 0
expect_no_match "--console=passive: the machine's output is not forwarded" passive-marker

# ---- autopipe
SPAWN_STDIN=$input run_spawn --console=autopipe -D "$TREE" /bin/cat
expect_eq "--console=autopipe without a tty: pipe (stdin passed through)" "hello through the pipe
second line" "$OUTPUT"
run_spawn --console=autopipe -D "$TREE" "$PAYLOAD" tty
expect_eq "--console=autopipe without a tty: no tty inside" "tty0=0 tty1=0 tty2=0" "$(echo $OUTPUT)"
run_tty "$(q "$BERTH_SPAWN" -q --console=autopipe -D "$TREE" "$PAYLOAD" tty)"
expect_match "--console=autopipe on a tty: interactive (own pty inside)" '^tty0=1 name=/dev/(pts/[0-9]+|console)'

# ---- interactive (under script, and under a python pty)
run_tty "$(q "$BERTH_SPAWN" -q -D "$TREE" "$PAYLOAD" tty)"
expect_match "interactive: stdin inside is a tty of the machine" '^tty0=1 name=/dev/(pts/[0-9]+|console)'
expect_match "interactive: stdout inside is a tty" '^tty1=1 '
run_tty "$(q "$BERTH_SPAWN" -q -D "$TREE" /bin/sh -c '[ -t 0 ] && [ -t 1 ] && echo both-ttys')"
expect_line "interactive: [ -t 0 ] and [ -t 1 ] hold" both-ttys
run_tty "$(q "$BERTH_SPAWN" -q --console=interactive -D "$TREE" "$PAYLOAD" exit 4)"
expect_rc "--console=interactive: exit status passthrough" 4
run_tty "env TERM=vt220 $(q "$BERTH_SPAWN" -q -D "$TREE" "$PAYLOAD" env)"
expect_line "interactive: TERM is passed from the caller" TERM=vt220
TERM=vt220 run_payload -- env
expect_no_match "pipe mode: TERM is not set" '^TERM='

run_pty expect:ready "send:hello-typed\\n" -- "$BERTH_SPAWN" -q -D "$TREE" /bin/sh -c \
    'echo ready; read line; echo "got=[$line]"'
expect_rc "interactive (pty): runs" 0
expect_line "interactive: typed input reaches the machine" "got=[hello-typed]"

# ---- window size
run_pty --rows 33 --cols 101 "expect:ready" "resize:41:123" -- \
    "$BERTH_SPAWN" -q -D "$TREE" "$PAYLOAD" winsize wait 10
expect_line "interactive: the initial window size is propagated" "rows=33 cols=101"
expect_line "interactive: a window size change is propagated (SIGWINCH)" "winch rows=41 cols=123"
expect_rc "window size: payload exits 0" 0

# ---- the escape: ^] three times within 1 s kills the machine
run_pty "expect:ready" "sleep:0.2" "mark:escape" "send:\\x1d\\x1d\\x1d" -- \
    "$BERTH_SPAWN" -q -D "$TREE" "$PAYLOAD" sigwait 99 15
t_mark=$(sed -n 's/^mark escape at //p' <<<"$ERROUT")
t_exit=$(sed -n 's/^pty-driver: exited after \([0-9.]*\) s$/\1/p' <<<"$ERROUT")
if [ -n "$t_mark" ] && [ -n "$t_exit" ] && awk -v a="$t_mark" -v b="$t_exit" 'BEGIN { exit !(b - a < 5) }'; then
    pass "^]^]^] ends berth-spawn within 5 s (exit status $RC)"
else
    fail "^]^]^] ends berth-spawn within 5 s" "$(last_run)"
fi
expect_no_match "^]^]^]: the payload did not finish normally" '^(timeout|got )'
if [ "$RC" != 0 ] && [ "$RC" != 124 ] && [ "$RC" != 125 ]; then
    pass "^]^]^]: non-zero exit status ($RC)"
else
    fail "^]^]^]: non-zero exit status" "$(last_run)"
fi

run_pty "expect:ready" "send:\\x1d" "sleep:0.7" "send:\\x1d" "sleep:0.7" "send:\\x1d" "sleep:0.3" \
    "send:after-escapes\\n" -- "$BERTH_SPAWN" -q -D "$TREE" /bin/sh -c \
    'echo ready; read line; echo "got=[$line]"'
expect_match "three ^] spread over more than 1 s do not kill the machine" '^got=\[.*after-escapes\]$'
expect_rc "three ^] spread over more than 1 s: exit status 0" 0
