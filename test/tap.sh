# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# tap.sh — the one TAP vocabulary of berth's shell tests (integration, berthd, VM hosts).
# Sourced by test/integration/lib.sh and test/machined/lib.sh.
#
#   pass DESC                      ok N - DESC
#   fail DESC [DIAGNOSTIC...]      not ok N - DESC, then the diagnostics as # lines
#   skip DESC REASON               ok N - DESC # SKIP REASON
#   diag TEXT                      every line of TEXT as a # line
#   ok_if DESC COMMAND...          pass if COMMAND succeeds; its output only on failure
#   expect_eq DESC EXPECTED ACTUAL
#   expect_fail DESC ERE COMMAND...  pass if COMMAND fails with a line matching ERE
#   expect_match DESC ERE [TEXT]   some line of TEXT (default $OUTPUT) matches
#   expect_no_match DESC ERE [TEXT]
#   tap_plan                       print 1..N; returns non-zero if anything failed
#
# A library may define tap_context to add its own diagnostics to every failure (the
# integration tests show the last berth-spawn run), and sets TAP_SCRATCH to a directory
# where ok_if keeps its command's output (the command runs in the calling shell, so it
# may set variables; its output never reaches the TAP stream).

_tap_n=0
_tap_failed=0

diag() {
    local line
    while IFS= read -r line; do
        printf '# %s\n' "$line"
    done <<<"$*"
}

_tap_desc() {
    local d=${1//$'\n'/ }
    printf '%s' "${d//#/no.}"
}

_tap_context() {
    if declare -F tap_context >/dev/null; then tap_context; fi
}

pass() {
    _tap_n=$((_tap_n + 1))
    printf 'ok %d - %s\n' "$_tap_n" "$(_tap_desc "$1")"
}

fail() {
    _tap_n=$((_tap_n + 1))
    _tap_failed=$((_tap_failed + 1))
    printf 'not ok %d - %s\n' "$_tap_n" "$(_tap_desc "$1")"
    shift
    [ "$#" -gt 0 ] && diag "$*"
    return 0
}

skip() {
    _tap_n=$((_tap_n + 1))
    printf 'ok %d - %s # SKIP %s\n' "$_tap_n" "$(_tap_desc "$1")" "$(_tap_desc "${2:-}")"
}

ok_if() {
    local desc=$1 out=${TAP_SCRATCH:-/tmp}/ok_if.$$
    shift
    if "$@" >"$out" 2>&1; then
        pass "$desc"
    else
        fail "$desc" "$(head -c 2000 "$out")
$(_tap_context)"
    fi
    rm -f "$out"
}

expect_eq() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "expected: '$2'
got:      '$3'
$(_tap_context)"
    fi
}

expect_fail() {
    local desc=$1 pattern=$2 out
    shift 2
    if out=$("$@" 2>&1); then
        fail "$desc (unexpectedly succeeded)" "$(head -c 2000 <<<"$out")"
    elif grep -qE -- "$pattern" <<<"$out"; then
        pass "$desc"
    else
        fail "$desc (expected /$pattern/)" "$(head -c 2000 <<<"$out")"
    fi
}

expect_match() {
    if grep -qE -e "$2" <<<"${3-$OUTPUT}"; then
        pass "$1"
    else
        fail "$1" "expected a line matching: $2
$(_tap_context)"
    fi
}

expect_no_match() {
    if grep -qE -e "$2" <<<"${3-$OUTPUT}"; then
        fail "$1" "unexpected line matching: $2
$(grep -E -e "$2" <<<"${3-$OUTPUT}" | head -5)
$(_tap_context)"
    else
        pass "$1"
    fi
}

tap_plan() {
    echo "1..$_tap_n"
    [ "$_tap_failed" -eq 0 ]
}
