#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthctl end to end against berthd on a private bus: the content of every verb's output
# (table columns, counts, alignment, JSON fields), the effect of terminate/kill/poweroff/
# reboot on real leader processes, the image verbs' effect on a pool directory, and the
# one-line errors with exit status 1.  Then the image verbs against the real
# systemd-machined on the same kind of private bus, with tmpfs over /var/lib/machines and
# /run/systemd/machines in this test's own mount namespace.
#
# Environment: BERTHD, BERTHCTL (default build/src/berthctl/berthctl).

# A private mount namespace: the tmpfs for systemd-machined's fixed pool goes away with it.
if [ -z "${BERTHCTL_NS:-}" ] && [ "$(id -u)" = 0 ]; then
    export BERTHCTL_NS=1
    exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"
: "${BERTHCTL:=$MD_SRCDIR/build/src/berthctl/berthctl}"
setup
[ -x "$BERTHCTL" ] || { echo "Bail out! berthctl not found at $BERTHCTL"; exit 1; }
command -v python3 >/dev/null || skip_all "no python3"

ctl() { "$BERTHCTL" --no-pager "$@"; }

# check_error DESCRIPTION EXPECTED-LINE COMMAND...: exit status 1, exactly that one line on
# stderr, nothing on stdout
check_error() {
    local desc=$1 want=$2 rc
    shift 2
    "$@" >"$TMP/err.out" 2>"$TMP/err.err"
    rc=$?
    if [ $rc = 1 ] && [ "$(cat "$TMP/err.err")" = "$want" ] && [ ! -s "$TMP/err.out" ]; then
        pass "$desc"
    else
        fail "$desc (rc=$rc)"
        echo "# expected: $want"
        sed 's/^/#   stderr: /' "$TMP/err.err"
        sed 's/^/#   stdout: /' "$TMP/err.out"
    fi
}

# json FILE PYTHON-EXPRESSION: evaluate with 'd' the parsed JSON; ok if it prints True
json() {
    python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>&1
}

# the start column of WORD in LINE (for alignment checks)
col() { awk -v w="$2" '{ print index($0, w) }' <<<"$1"; }

. /etc/os-release
HOST_ID=$ID
HOST_VERSION=${VERSION_ID:-}

# --- a pool of directory images, a raw image and a hidden one
POOL=$TMP/pool
mkdir -p "$POOL/img-a/etc" "$POOL/.hid"
printf 'ID=testos\nPRETTY_NAME="Test OS 1"\n' >"$POOL/img-a/etc/os-release"
echo hello >"$POOL/img-a/marker"
head -c 102400 /dev/urandom >"$POOL/disk.raw"

if start_berthd --pool="$POOL"; then pass "berthd starts"; else fail "berthd starts"; finish; fi

# --- machines
start_leader
L1=$LEADER
register "$P-one" "$L1" >/dev/null
start_leader
L2=$LEADER
mgr RegisterMachineWithNetwork sayssusai "$P-two" 0 "" vm "$L2" / 0 >/dev/null

out=$(ctl list)
expect_eq "list: header" "MACHINE CLASS SERVICE OS VERSION ADDRESSES" "$(head -1 <<<"$out" | tr -s ' ')"
expect_eq "list: one row per machine, .host hidden" "$P-one $P-two" "$(sed -n '2,3p' <<<"$out" | awk '{ print $1 }' | xargs)"
expect_eq "list: class and service of a container" "container berth-test" \
    "$(awk -v n="$P-one" '$1 == n { print $2, $3 }' <<<"$out")"
expect_eq "list: empty service shown as -" "vm -" "$(awk -v n="$P-two" '$1 == n { print $2, $3 }' <<<"$out")"
expect_eq "list: OS and version from the machine's os-release" "$HOST_ID ${HOST_VERSION:--}" \
    "$(awk -v n="$P-one" '$1 == n { print $4, $5 }' <<<"$out")"
expect_eq "list: footer" "2 machines listed." "$(tail -1 <<<"$out")"
expect_eq "list: blank line before the footer" "" "$(tail -2 <<<"$out" | head -1)"
row=$(grep "^$P-one " <<<"$out")
expect_eq "list: columns aligned with the header (CLASS)" "$(col "$(head -1 <<<"$out")" CLASS)" "$(col "$row" container)"
expect_eq "list: columns aligned with the header (SERVICE)" "$(col "$(head -1 <<<"$out")" SERVICE)" "$(col "$row" berth-test)"
ok_if "list: no trailing blanks" bash -c '! grep -q " $" <<<"$1"' _ "$out"
out=$(ctl list -a)
expect_eq "list -a: .host shown, sorted first" ".host host" "$(sed -n 2p <<<"$out" | awk '{ print $1, $2 }')"
expect_eq "list -a: footer" "3 machines listed." "$(tail -1 <<<"$out")"
out=$(ctl list --no-legend)
expect_eq "list --no-legend: rows only" "$P-one $P-two" "$(awk '{ print $1 }' <<<"$out" | xargs)"
expect_eq "list --max-addresses=0: no ADDRESSES column" "MACHINE CLASS SERVICE OS VERSION" \
    "$(ctl list --max-addresses=0 | head -1 | tr -s ' ')"
naddr=$(mgr GetMachineAddresses s "$P-one" | awk '{ print $2 }')
if [ "${naddr:-0}" -gt 1 ]; then
    ok_if "list: more addresses than --max-addresses end in …" bash -c 'grep -q "…$" <<<"$1"' _ "$row"
    expect_eq "list --max-addresses=all: one line per address" "$naddr" \
        "$(ctl list --max-addresses=all --no-legend | awk -v n="$P-two" '$1 == n { p = 1; c = 0 } p { c++ } END { print c }')"
else
    skip "address ellipsis" "the host has $naddr addresses"
    skip "--max-addresses=all" "the host has $naddr addresses"
fi

ctl list -o json >"$TMP/list.json"
ok_if "list -o json is valid JSON" python3 -m json.tool "$TMP/list.json"
expect_eq "list -o json: one line" 1 "$(wc -l <"$TMP/list.json")"
expect_eq "list -o json: the machines, sorted" "['$P-one', '$P-two']" "$(json "$TMP/list.json" '[m["machine"] for m in d]')"
expect_eq "list -o json: every column" "['addresses', 'class', 'machine', 'os', 'service', 'version']" \
    "$(json "$TMP/list.json" 'sorted(d[0].keys())')"
expect_eq "list -o json: fields" "container berth-test $HOST_ID None" \
    "$(json "$TMP/list.json" '" ".join(str(x) for x in [d[0]["class"], d[0]["service"], d[0]["os"], d[1]["service"]])')"
expect_eq "list -o json: every address, as a list" "${naddr:-0}" "$(json "$TMP/list.json" 'len(d[0]["addresses"])')"
ctl list -o json-pretty >"$TMP/pretty.json"
ok_if "list -o json-pretty is valid JSON" python3 -m json.tool "$TMP/pretty.json"
expect_eq "json-pretty carries the same data as json" True \
    "$(json "$TMP/pretty.json" 'd == json.load(open("'"$TMP/list.json"'"))')"
ok_if "json-pretty is indented" grep -q $'^\t\t"machine" : ' "$TMP/pretty.json"
ctl list -o json-short >"$TMP/short.json"
expect_eq "json-short carries the same data" True "$(json "$TMP/short.json" 'd == json.load(open("'"$TMP/list.json"'"))')"

# list reads the addresses of 256 machines per io.berth.Manager1.ListMachineAddresses call;
# its answer must be GetMachineAddresses', machine by machine, with unknown names left out
ok_if "io.berth.Manager1.ListMachineAddresses as -> a(sa(iay))" \
    grep -qE "^\.ListMachineAddresses +method +as +a\(sa\(iay\)\) " <<<"$(busctl introspect "$DEST" "$MGR_PATH" io.berth.Manager1)"
expect_eq "ListMachineAddresses: the machines asked for, in order, the unknown one left out" \
    "a(sa(iay)) 2 \"$P-two\" $(mgr GetMachineAddresses s "$P-two" | cut -d' ' -f2-) \".host\" $(mgr GetMachineAddresses s .host | cut -d' ' -f2-)" \
    "$(busctl call "$DEST" "$MGR_PATH" io.berth.Manager1 ListMachineAddresses as 3 "$P-two" "$P-nosuch" .host)"
expect_eq "ListMachineAddresses: no names, no machines" "a(sa(iay)) 0" \
    "$(busctl call "$DEST" "$MGR_PATH" io.berth.Manager1 ListMachineAddresses as 0)"
expect_fail "ListMachineAddresses: more than 1024 names refused" "At most 1024 machines per call" \
    busctl call "$DEST" "$MGR_PATH" io.berth.Manager1 ListMachineAddresses as 1025 $(seq 1025)

out=$(ctl status "$P-one")
expect_eq "status: name and machine ID" "$P-one(0102030405060708090a0b0c0d0e0f10)" "$(head -1 <<<"$out")"
ok_if "status: leader PID and command" grep -qxF $'\t  Leader: '"$L1 (sleep)" <<<"$out"
ok_if "status: service and class" grep -qxF $'\t Service: berth-test; class container' <<<"$out"
ok_if "status: root" grep -qxF $'\t    Root: /' <<<"$out"
ok_if "status: since, with a relative time" grep -qE $'^\t   Since: .+; .+ ago$' <<<"$out"
ok_if "status: OS from GetMachineOSRelease" grep -qxF $'\t      OS: '"$PRETTY_NAME" <<<"$out"
out=$(ctl status "$P-one" "$P-two")
expect_eq "status of two machines: a blank line between" 1 "$(grep -c '^$' <<<"$out")"
ok_if "status: class alone without a service" grep -qxF $'\t   Class: vm' <<<"$out"

out=$(ctl show "$P-one")
ok_if "show: Leader" grep -qxF "Leader=$L1" <<<"$out"
ok_if "show: State" grep -qxF "State=running" <<<"$out"
ok_if "show: Id in hex" grep -qxF "Id=0102030405060708090a0b0c0d0e0f10" <<<"$out"
ok_if "show: empty Unit left out" bash -c '! grep -q "^Unit=" <<<"$1"' _ "$out"
ok_if "show -a: empty Unit shown" bash -c 'ctl() { "$BERTHCTL" --no-pager "$@"; }; ctl show -a "$1" | grep -qx "Unit="' _ "$P-one"
expect_eq "show -p Leader" "Leader=$L1" "$(ctl show -p Leader "$P-one")"
expect_eq "show -P Leader" "$L1" "$(ctl show -P Leader "$P-one")"
expect_eq "show --value -p Name -p Class" "$P-one container" "$(ctl show --value -p Name -p Class "$P-one" | xargs)"
expect_eq "show (no name): the manager's properties" "PoolPath=$POOL" "$(ctl show | grep '^PoolPath=')"

check_error "status of an unknown machine" "Could not get path to machine: No machine 'nosuch' known." ctl status nosuch
check_error "show of an unknown machine" "Could not get path to machine: No machine 'nosuch' known." ctl show nosuch
check_error "unknown verb" "Unknown command verb frobnicate." ctl frobnicate
check_error "terminate without a name" "Too few arguments." ctl terminate
check_error "list with an argument" "Too many arguments." ctl list extra
check_error "bad signal" 'Failed to parse signal string "SIGBOGUS".' ctl kill -s SIGBOGUS "$P-one"
check_error "bad output mode" "Unknown output 'yaml'." ctl -o yaml list
check_error "bad --max-addresses" "Invalid number of addresses: lots" ctl --max-addresses=lots list
check_error "kill with a bad whom: the daemon's message" \
    'Could not kill machine: Invalid kill target, expected "leader" or "all".' \
    ctl kill --kill-whom=everybody "$P-one"
ok_if "an unknown option fails" bash -c '! "$BERTHCTL" --frobnicate list 2>/dev/null'

# signals: a leader that records each signal it gets (python, not bash: a background
# bash starts with SIGINT ignored and cannot trap it)
SIGS=$TMP/signals
start_leader python3 -c '
import os, signal, sys, time
def got(n, frame):
    with open(sys.argv[1], "a") as f:
        f.write("RTMIN+4\n" if n == signal.SIGRTMIN + 4 else signal.Signals(n).name[3:] + "\n")
    if n == signal.SIGRTMIN + 4:
        os._exit(0)
for s in (signal.SIGUSR1, signal.SIGINT, signal.SIGHUP, signal.SIGRTMIN + 4):
    signal.signal(s, got)
open(sys.argv[1] + ".ready", "w").close()
while True:
    time.sleep(1)
' "$SIGS"
LS=$LEADER
wait_until 5 test -e "$SIGS.ready"
register "$P-sig" "$LS" >/dev/null
ok_if "kill --kill-whom=leader -s SIGUSR1" ctl kill --kill-whom=leader -s SIGUSR1 "$P-sig"
ok_if "the leader got SIGUSR1" wait_until 2 grep -qx USR1 "$SIGS"
ok_if "kill -s HUP (name without SIG)" ctl kill --kill-whom=leader -s HUP "$P-sig"
ok_if "the leader got SIGHUP" wait_until 2 grep -qx HUP "$SIGS"
ok_if "reboot" ctl reboot "$P-sig"
ok_if "reboot sent SIGINT to the leader" wait_until 2 grep -qx INT "$SIGS"
ok_if "the machine survived its signals" mgr GetMachine s "$P-sig"
ok_if "poweroff" ctl poweroff "$P-sig"
ok_if "poweroff sent SIGRTMIN+4 to the leader" wait_until 2 grep -qx 'RTMIN+4' "$SIGS"
ok_if "the leader exited on poweroff" wait_until 2 dead "$LS"
ok_if "the powered-off machine is gone" wait_until 2 machine_gone "$P-sig"
expect_eq "no other signal reached the leader" "USR1 HUP INT RTMIN+4" "$(xargs <"$SIGS")"

start_leader
LK=$LEADER
register "$P-kill" "$LK" >/dev/null
ok_if "kill (default: all, SIGTERM)" ctl kill "$P-kill"
ok_if "killed leader is gone" wait_until 2 dead "$LK"
ok_if "killed machine is gone" wait_until 2 machine_gone "$P-kill"

ok_if "terminate two machines at once" ctl terminate "$P-one" "$P-two"
ok_if "terminated leaders are gone" wait_until 2 dead "$L1" "$L2"
ok_if "terminated machines are gone" wait_until 2 bash -c "! busctl call $DEST $MGR_PATH $MGR GetMachine s $P-one && ! busctl call $DEST $MGR_PATH $MGR GetMachine s $P-two"
expect_eq "list after terminate" "No machines." "$(ctl list)"
check_error "terminate of an unknown machine" "Could not terminate machine: No machine 'nosuch' known." ctl terminate nosuch
expect_eq "list -o json with no machines" "[]" "$(ctl list -o json)"

# --- images
out=$(ctl list-images)
expect_eq "list-images: header" "NAME TYPE RO USAGE CREATED MODIFIED" "$(head -1 <<<"$out" | tr -s ' ')"
expect_eq "list-images: rows, hidden ones left out" "disk raw no|img-a directory no" \
    "$(sed -n '2,3p' <<<"$out" | awk '{ print $1, $2, $3 }' | paste -sd'|')"
expect_eq "list-images: footer" "2 images listed." "$(tail -1 <<<"$out")"
ok_if "list-images: usage of the raw image" grep -qE "^disk +raw +no +[0-9.]+K " <<<"$out"
usage=$(awk '$1 == "disk" { print $4 }' <<<"$out")
expect_eq "list-images: USAGE right-aligned" "$(( $(col "$(head -1 <<<"$out")" USAGE) + 4 ))" \
    "$(( $(col "$(grep '^disk ' <<<"$out")" " $usage ") + ${#usage} ))"
out=$(ctl list-images -a)
expect_eq "list-images -a: hidden images and .host" ".hid .host disk img-a" "$(sed -n '2,5p' <<<"$out" | awk '{ print $1 }' | xargs)"
expect_eq "list-images -a: footer" "4 images listed." "$(tail -1 <<<"$out")"
ctl list-images -o json >"$TMP/images.json"
ok_if "list-images -o json is valid JSON" python3 -m json.tool "$TMP/images.json"
expect_eq "list-images -o json: fields" "['disk', 'img-a'] raw False $(( $(stat -c %b "$POOL/disk.raw") * 512 )) None" \
    "$(json "$TMP/images.json" '" ".join(str(x) for x in [[i["name"] for i in d], d[0]["type"], d[0]["ro"], d[0]["usage"], d[1]["usage"]])')"
expect_eq "list-images -o json: timestamps in µs" True \
    "$(json "$TMP/images.json" 'abs(d[1]["created"] / 1e6 - '"$(date +%s)"') < 600')"

out=$(ctl image-status img-a)
expect_eq "image-status: name" "img-a" "$(head -1 <<<"$out")"
ok_if "image-status: type" grep -qxF $'\t    Type: directory' <<<"$out"
ok_if "image-status: path" grep -qxF $'\t    Path: '"$POOL/img-a" <<<"$out"
ok_if "image-status: OS" grep -qxF $'\t      OS: Test OS 1' <<<"$out"
ok_if "image-status: writable" grep -qxF $'\t      RO: writable' <<<"$out"
ok_if "image-status (no name): the pool" grep -qxF $'\t    Path: '"$POOL" <<<"$(ctl image-status)"
out=$(ctl show-image img-a)
ok_if "show-image: Type" grep -qxF "Type=directory" <<<"$out"
ok_if "show-image: ReadOnly" grep -qxF "ReadOnly=no" <<<"$out"
ok_if "show-image: Path" grep -qxF "Path=$POOL/img-a" <<<"$out"
expect_eq "show-image -P Name" "img-a" "$(ctl show-image -P Name img-a)"

ok_if "clone" ctl clone img-a img-b
ok_if "clone: the copy is on disk, identical" diff -r "$POOL/img-a" "$POOL/img-b"
ok_if "rename" ctl rename img-b img-c
ok_if "rename: old name gone from disk" test ! -e "$POOL/img-b"
ok_if "rename: new name on disk" test -f "$POOL/img-c/marker"
ok_if "read-only" ctl read-only img-c
expect_eq "read-only: marked" "yes" "$(ctl show-image -P ReadOnly img-c)"
check_error "remove of a read-only image: the daemon's reason" \
    "Could not remove image: Image 'img-c' is read-only and cannot be removed; mark it writable first." \
    ctl remove img-c
ok_if "read-only img-c no" ctl read-only img-c no
expect_eq "read-only no: unmarked" "no" "$(ctl show-image -P ReadOnly img-c)"
check_error "read-only with a bad boolean" "Failed to parse boolean argument: maybe" ctl read-only img-c maybe
ok_if "clone --read-only" ctl clone --read-only img-a img-ro
expect_eq "clone --read-only: read-only" "yes" "$(ctl show-image -P ReadOnly img-ro)"
ctl read-only img-ro no
ok_if "remove two images" ctl remove img-c img-ro
ok_if "removed images gone from disk" test ! -e "$POOL/img-c" -a ! -e "$POOL/img-ro"
ok_if "the source image is untouched" test -f "$POOL/img-a/marker"
check_error "remove of an unknown image" "Could not remove image: No image 'nosuch' known." ctl remove nosuch
check_error "image-status of an unknown image" "Could not get path to image: No image 'nosuch' known." ctl image-status nosuch
check_error "clone of an unknown image" "Could not clone image: No image 'nosuch' known." ctl clone nosuch x
check_error "set-limit with a bad size" "Failed to parse size: lots" ctl set-limit img-a lots
expect_fail "set-limit on a directory: the daemon refuses" "^Could not set limit: " ctl set-limit img-a 1G
expect_eq "set-limit error is one line" 1 "$(ctl set-limit img-a 1G 2>&1 | wc -l)"
# hidden read-only images: what pulls leave as caches (berth-importd's .cache-*, .oci-*)
mkdir "$POOL/.ro-dir" && chattr +i "$POOL/.ro-dir"
head -c 4096 /dev/zero >"$POOL/.ro-raw.raw" && chmod 0444 "$POOL/.ro-raw.raw"
ctl read-only img-a yes
out=$(ctl clean 2>&1)
ok_if "clean removes hidden images" test ! -e "$POOL/.hid"
ok_if "clean removes hidden read-only images too (pull caches)" test ! -e "$POOL/.ro-dir" -a ! -e "$POOL/.ro-raw.raw"
ctl read-only img-a no
ok_if "clean reports what it removed" grep -qxF "Removed image '.hid'" <<<"$out"
ok_if "clean keeps the others" test -d "$POOL/img-a" -a -f "$POOL/disk.raw"
expect_eq "clean -q is silent" "" "$(ctl -q clean 2>&1)"

# --- cat and edit: the settings file berth-spawn would read (/etc/berth, then next to the
# image), edited as a copy in /etc/berth. /etc/berth is a tmpfs of this test's namespace.
ETC_MADE=
[ -d /etc/berth ] || { mkdir /etc/berth && ETC_MADE=1; }
mount -t tmpfs -o mode=0755 tmpfs /etc/berth
printf '[Exec]\nHostname=fromimage\n' >"$POOL/img-a.nspawn"
out=$(ctl cat "$P-nocfg" 2>&1); rc=$?
expect_eq "cat without a settings file fails" 1 "$rc"
expect_match "... saying so" "No settings file found for machine '$P-nocfg'" "$out"
expect_eq "cat finds the file next to the image" "# $POOL/img-a.nspawn
[Exec]
Hostname=fromimage" "$(ctl cat img-a 2>&1)"
printf '#!/bin/sh\necho "Environment=EDITED=1" >>"$1"\n' >"$TMP/editor"
chmod +x "$TMP/editor"
EDITOR="$TMP/editor" ctl edit img-a >/dev/null 2>&1
expect_eq "edit: the copy in /etc/berth has the image's settings and the edit" "[Exec]
Hostname=fromimage
Environment=EDITED=1" "$(cat /etc/berth/img-a.nspawn 2>&1)"
expect_eq "... the file next to the image is unchanged" "[Exec]
Hostname=fromimage" "$(cat "$POOL/img-a.nspawn")"
expect_match "cat now shows the copy in /etc/berth (it comes first)" "^# /etc/berth/img-a.nspawn" "$(ctl cat img-a 2>&1)"
EDITOR=false ctl edit img-a >/dev/null 2>&1; rc=$?
ok_if "edit with a failing editor fails ($rc)" test "$rc" -ne 0
expect_eq "... and changes nothing, leaving no temporary" "Environment=EDITED=1 img-a.nspawn" \
    "$(tail -n1 /etc/berth/img-a.nspawn) $(ls -A /etc/berth | tr '\n' ' ' | sed 's/ $//')"
out=$(ctl cat ../x 2>&1); rc=$?
expect_eq "cat of an invalid name fails" 1 "$rc"
umount /etc/berth
[ -n "$ETC_MADE" ] && rmdir /etc/berth
rm -f "$POOL/img-a.nspawn"

ok_if "berthd still running" kill -0 "$BERTHD_PID"
stop_berthd TERM

# --- the real systemd-machined: it runs without systemd as PID 1, with its pool fixed at
# /var/lib/machines (a tmpfs here, in this test's mount namespace)
SDM=/lib/systemd/systemd-machined
MACHINED_PID=
finish_extra() {
    if [ -n "$MACHINED_PID" ]; then
        kill "$MACHINED_PID" 2>/dev/null
        wait "$MACHINED_PID" 2>/dev/null
    fi
    [ -n "${SDM_MOUNTED:-}" ] && umount /var/lib/machines && SDM_MOUNTED=
    [ -n "${SDM_RUN_MOUNTED:-}" ] && umount /run/systemd/machines && SDM_RUN_MOUNTED=
}
emergency_extra() { finish_extra; }
if [ ! -x "$SDM" ]; then
    skip "systemd-machined" "$SDM not installed"
elif [ ! -d /var/lib/machines ]; then
    skip "systemd-machined" "no /var/lib/machines to mount a tmpfs on"
else
    mount -t tmpfs -o mode=0700 tmpfs /var/lib/machines && SDM_MOUNTED=1
    # its state directory too, so that nothing it writes reaches the host
    [ -d /run/systemd/machines ] && mount -t tmpfs tmpfs /run/systemd/machines && SDM_RUN_MOUNTED=1
    mkdir -p /var/lib/machines/img-a/etc /var/lib/machines/.hid
    head -c 4096 /dev/zero >/var/lib/machines/.ro-raw.raw && chmod 0444 /var/lib/machines/.ro-raw.raw
    printf 'ID=testos\nPRETTY_NAME="Test OS 1"\n' >/var/lib/machines/img-a/etc/os-release
    "$SDM" >"$TMP/machined.log" 2>&1 &
    MACHINED_PID=$!
    if wait_until 5 busctl status "$DEST"; then
        pass "systemd-machined starts on the private bus"
        out=$(ctl list-images)
        expect_eq "machined: list-images" "img-a directory no" "$(sed -n 2p <<<"$out" | awk '{ print $1, $2, $3 }')"
        expect_eq "machined: footer" "1 images listed." "$(tail -1 <<<"$out")"
        ok_if "machined: image-status" grep -qxF $'\t      OS: Test OS 1' <<<"$(ctl image-status img-a)"
        ok_if "machined: clone" ctl clone img-a img-b
        ok_if "machined: clone on disk" diff -r /var/lib/machines/img-a /var/lib/machines/img-b
        ok_if "machined: rename" ctl rename img-b img-c
        ok_if "machined: rename on disk" test -d /var/lib/machines/img-c -a ! -e /var/lib/machines/img-b
        ok_if "machined: read-only" ctl read-only img-c yes
        expect_eq "machined: show-image -P ReadOnly" yes "$(ctl show-image -P ReadOnly img-c)"
        ok_if "machined: read-only no" ctl read-only img-c no
        ok_if "machined: remove" ctl remove img-c
        ok_if "machined: remove on disk" test ! -e /var/lib/machines/img-c
        check_error "machined: unknown image" "Could not remove image: No image 'nosuch' known" ctl remove nosuch
        ok_if "machined: clean" ctl -q clean
        ok_if "machined: clean on disk" test ! -e /var/lib/machines/.hid
        ok_if "machined: clean removes a hidden read-only image too" test ! -e /var/lib/machines/.ro-raw.raw
        expect_eq "machined: list" "No machines." "$(ctl list)"
        # no io.berth.Manager1 there: list asks for each machine's addresses instead
        ctl list -a -o json >"$TMP/sdm.json"
        expect_eq "machined: list -a, addresses one machine at a time" \
            "[('.host', 'host', $(mgr GetMachineAddresses s .host | awk '{ print $2 }'))]" \
            "$(json "$TMP/sdm.json" '[(m["machine"], m["class"], len(m["addresses"])) for m in d]')"
    else
        fail "systemd-machined starts on the private bus"
        sed 's/^/# /' "$TMP/machined.log" | tail -10
    fi
    kill "$MACHINED_PID"
    wait "$MACHINED_PID" 2>/dev/null
    ok_if "systemd-machined stopped" dead "$MACHINED_PID"
    MACHINED_PID=
fi

finish
