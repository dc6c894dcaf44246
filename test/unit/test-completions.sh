#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The shell completions: every bash file parses, and berthctl's completes every verb its
# --help lists (a merge once left a stray line that broke the whole file, silently).
# Usage: test-completions.sh SRCDIR BERTHCTL
set -u
. "$1/test/tap.sh"
SRC=$1 BERTHCTL=$2

for f in "$SRC"/shell-completion/bash/*; do
    ok_if "bash -n ${f#"$SRC"/}" bash -n "$f"
done
if command -v zsh >/dev/null; then
    for f in "$SRC"/shell-completion/zsh/_*; do
        ok_if "zsh -n ${f#"$SRC"/}" zsh -n "$f"
    done
fi

help_verbs=$("$BERTHCTL" --help | grep -E '^  [a-z][a-z-]+( |$)' | awk '{print $1}' | sort)
completed=$(bash -c 'source "$1"; COMP_WORDS=(berthctl ""); COMP_CWORD=1; _berthctl; printf "%s\n" "${COMPREPLY[@]}"' _ \
    "$SRC/shell-completion/bash/berthctl" | sort)
missing=$(comm -23 <(echo "$help_verbs") <(echo "$completed") | tr '\n' ' ')
expect_eq "bash completes every verb of berthctl --help" "" "$missing"
ok_if "... and the list is not empty ($(wc -l <<<"$help_verbs") verbs)" test "$(wc -l <<<"$help_verbs")" -gt 20
tap_plan
