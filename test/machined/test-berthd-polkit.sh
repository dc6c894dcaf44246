#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthd and polkit: a real polkitd on the test's private bus, with the project's
# actions and a test rule (nobody may manage machines, but not images). Non-root callers
# authorized by polkit may register only leaders they own; a rule's "no" is AccessDenied;
# root never waits for polkit; without polkitd, non-root callers are refused as before;
# berthd keeps answering while polkit thinks. polkitd runs in this test's own mount
# namespace, where its rules and actions directories are the test's: the host's polkit
# configuration is never touched. Nothing may leak: polkitd, leaders, berthd.

# A private mount namespace for polkit's directories; it goes away with the test.
if [ -z "${BERTHD_POLKIT_NS:-}" ] && [ "$(id -u)" = 0 ]; then
    export BERTHD_POLKIT_NS=1
    exec unshare --mount --propagation private -- "$BASH" "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"

POLKITD=
for p in /usr/lib/polkit-1/polkitd /usr/libexec/polkitd /usr/libexec/polkit-1/polkitd; do
    [ -x "$p" ] && { POLKITD=$p; break; }
done
if [ -z "$POLKITD" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # Debian 12's package; only if the archive is reachable
    DEBIAN_FRONTEND=noninteractive apt-get install -y polkitd >/dev/null 2>&1 &&
        [ -x /usr/lib/polkit-1/polkitd ] && POLKITD=/usr/lib/polkit-1/polkitd
fi
[ "$(id -u)" = 0 ] || skip_all "not root"
[ -n "$POLKITD" ] || skip_all "no polkitd, and 'apt-get install polkitd' is not possible"
[ -d /etc/polkit-1/rules.d ] || skip_all "no /etc/polkit-1/rules.d to mount over"
[ -d /usr/share/polkit-1/actions ] || skip_all "no /usr/share/polkit-1/actions to mount over"
command -v setpriv >/dev/null || skip_all "no setpriv"

setup

POLKIT_PID=
POLKIT_LOG=$TMP/polkitd.log
PK=org.freedesktop.PolicyKit1

# --- polkit's directories in this namespace: our actions (over any machined's) and our rule
mkdir "$TMP/actions" "$TMP/rules"
cp -a /usr/share/polkit-1/actions/. "$TMP/actions/"
cp "$MD_SRCDIR/units/org.freedesktop.machine1.policy" "$TMP/actions/"
cat >"$TMP/rules/10-berth-test.rules" <<RULES
// berthd polkit test: nobody may manage machines, never images. If $TMP/slow exists,
// every answer takes 2 s (to see berthd serve others meanwhile).
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.freedesktop.machine1.") != 0)
        return polkit.Result.NOT_HANDLED;
    try {
        polkit.spawn(["/bin/sh", "-c", "if [ -e '$TMP/slow' ]; then sleep 2; fi"]);
    } catch (e) {
    }
    if (subject.user == "nobody" && action.id == "org.freedesktop.machine1.manage-machines")
        return polkit.Result.YES;
    if (subject.user == "nobody" && action.id == "org.freedesktop.machine1.manage-images")
        return polkit.Result.NO;
    return polkit.Result.NOT_HANDLED;
});
RULES
mount --bind "$TMP/actions" /usr/share/polkit-1/actions || skip_all "cannot mount over polkit's actions"
ACTIONS_MOUNTED=1
mount --bind "$TMP/rules" /etc/polkit-1/rules.d || skip_all "cannot mount over polkit's rules.d"
RULES_MOUNTED=1

# --- the private bus: polkitd (started as root, it becomes user polkitd) may own its
# name, everybody may call it
cat >"$TMP/polkit-bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy user="root">
    <allow own="$PK"/>
  </policy>
$(id polkitd >/dev/null 2>&1 && printf '  <policy user="polkitd">\n    <allow own="%s"/>\n  </policy>' "$PK")
  <policy context="default">
    <allow send_destination="$PK"/>
  </policy>
</busconfig>
CONF
sed -i "s|</busconfig>\$|<include>$TMP/polkit-bus.conf</include></busconfig>|" "$TMP/bus.conf"
busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ReloadConfig >/dev/null ||
    { echo "Bail out! dbus-daemon did not reload its configuration"; exit 1; }

start_polkitd() {
    # with its debug output (to $POLKIT_LOG, shown on failure); it drops to user polkitd
    "$POLKITD" >>"$POLKIT_LOG" 2>&1 &
    POLKIT_PID=$!
    wait_until 10 busctl status $PK && return 0
    echo "# polkitd did not come up:"
    sed 's/^/# /' "$POLKIT_LOG" | tail -20
    return 1
}

stop_polkitd() {
    [ -n "$POLKIT_PID" ] || return 0
    kill -TERM "$POLKIT_PID" 2>/dev/null
    wait "$POLKIT_PID" 2>/dev/null
    POLKIT_PID=
}

finish_extra() {
    local p=$POLKIT_PID
    stop_polkitd
    if [ "$_tap_failed" -gt 0 ]; then
        echo "# polkitd log:"
        sed 's/^/# /' "$POLKIT_LOG" | tail -30
    fi
    [ -n "$p" ] && ! dead "$p" && leaks+=" polkitd:$p"
    # our rule and actions live only in this namespace; unmount anyway, and check
    [ -n "${RULES_MOUNTED:-}" ] && umount /etc/polkit-1/rules.d && RULES_MOUNTED=
    [ -n "${ACTIONS_MOUNTED:-}" ] && umount /usr/share/polkit-1/actions && ACTIONS_MOUNTED=
    [ -n "${RULES_MOUNTED:-}${ACTIONS_MOUNTED:-}" ] && leaks+=" polkit-mounts"
}
emergency_extra() {
    [ -n "$POLKIT_PID" ] && kill -KILL "$POLKIT_PID" 2>/dev/null
    [ -n "${RULES_MOUNTED:-}" ] && umount -l /etc/polkit-1/rules.d 2>/dev/null
    [ -n "${ACTIONS_MOUNTED:-}" ] && umount -l /usr/share/polkit-1/actions 2>/dev/null
}

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# nobody_register NAME PID
nobody_register() {
    nobody busctl call $DEST $MGR_PATH $MGR RegisterMachine sayssus "$1" 0 berth-test container "$2" /
}

# nobody_send METHOD ARGS...: dbus-send shows the error's message (busctl says "Access denied")
nobody_send() {
    local m=$1
    shift
    nobody dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.$m "$@"
}

# --- an image pool with one (directory) image
POOL=$TMP/pool
mkdir -p "$POOL/img/etc"
echo hello >"$POOL/img/etc/marker"

if start_berthd --pool="$POOL"; then pass "berthd starts"; else fail "berthd starts"; finish; fi
if start_polkitd; then pass "polkitd starts on the private bus and owns $PK"; else fail "polkitd starts"; finish; fi

# polkitd loads our actions (its own answer; an unknown action would be an error)
ok_if "polkitd knows org.freedesktop.machine1.manage-machines" bash -c \
    "busctl call $PK /org/freedesktop/PolicyKit1/Authority $PK.Authority EnumerateActions s '' | grep -q org.freedesktop.machine1.manage-machines"
ok_if "polkitd knows org.freedesktop.machine1.manage-images" bash -c \
    "busctl call $PK /org/freedesktop/PolicyKit1/Authority $PK.Authority EnumerateActions s '' | grep -q org.freedesktop.machine1.manage-images"

# --- nobody, authorized by the rule for manage-machines
setpriv --reuid=65534 --regid=65534 --clear-groups sleep 1000 &   # no subshell: $! is the sleep
NL=$!
LEADERS+=("$NL")
start_leader
RL=$LEADER
wait_until 2 bash -c "[ \"\$(stat -c %u /proc/$NL)\" = 65534 ]"

ok_if "nobody registers a leader it owns (polkit: yes)" nobody_register "$P-own" "$NL"
expect_eq "the machine's leader is nobody's process" "u $NL" "$(mprop "$P-own" Leader)"
expect_fail "nobody cannot register a root-owned leader" "Leader PID $RL is not owned by the caller" \
    nobody_send RegisterMachine string:$P-root array:byte: string: string:container uint32:$RL string:/
ok_if "… and no machine was registered for it" machine_gone "$P-root"
ok_if "nobody may Kill its machine (polkit: yes)" \
    nobody busctl call $DEST "$(mpath "$P-own")" $MACH Kill si leader 18
ok_if "nobody may KillMachine (polkit: yes)" nobody busctl call $DEST $MGR_PATH $MGR KillMachine ssi "$P-own" all 18

# --- images: the rule says no
expect_fail "nobody cannot CloneImage (polkit: no)" "AccessDenied.*polkit does not authorize.*manage-images" \
    nobody_send CloneImage string:img string:$P-clone boolean:false
expect_fail "nobody cannot RemoveImage (polkit: no)" "AccessDenied.*polkit does not authorize.*manage-images" \
    nobody_send RemoveImage string:img
expect_fail "nobody cannot RemoveImage through the Image object either" "Access denied" \
    nobody busctl call $DEST /org/freedesktop/machine1/image/img org.freedesktop.machine1.Image Remove
ok_if "… the image is still there" test -f "$POOL/img/etc/marker"
ok_if "… and no clone was made" test ! -e "$POOL/$P-clone"

# a user no rule speaks for (daemon) gets the action's default, auth_admin: a challenge.
# The flags follow the call's allow-interactive-authorization (dbus-send: no; busctl: yes).
daemon_user() { setpriv --reuid=1 --regid=1 --clear-groups "$@"; }
timeout 20 busctl monitor $PK >"$TMP/mon-flags" 2>&1 &
MON_PID=$!
wait_until 2 grep -q "Monitoring" "$TMP/mon-flags" || sleep 0.3
expect_fail "another user without a rule: InteractiveAuthorizationRequired" \
    "InteractiveAuthorizationRequired.*manage-machines" \
    daemon_user dbus-send --system --print-reply --dest=$DEST $MGR_PATH $MGR.TerminateMachine string:$P-own
expect_fail "… also when it allows interactive authorization (no agent here)" "Interactive authentication required" \
    daemon_user busctl --allow-interactive-authorization=yes call $DEST $MGR_PATH $MGR TerminateMachine s $P-own
ok_if "… and the machine is still there" mgr GetMachine s "$P-own"
sleep 0.2
kill "$MON_PID" 2>/dev/null
wait "$MON_PID" 2>/dev/null
MON_PID=
# the flags argument of each CheckAuthorization, in order
flags=$(awk '/^>/ { pk = 0 } /Member=CheckAuthorization/ { pk = 1 } pk && /ARRAY "\{ss\}"/ { f = 1 }
             pk && f && /UINT32/ { v = $2; sub(/;/, "", v); printf "%s ", v; f = 0 }' "$TMP/mon-flags")
expect_eq "CheckAuthorization flags: 0 for dbus-send, 1 (AllowUserInteraction) for busctl" "0 1 " "$flags"

# --- root: never asks polkit
timeout 20 busctl monitor $PK >"$TMP/mon-root" 2>&1 &
MON_PID=$!
wait_until 2 grep -q "Monitoring" "$TMP/mon-root" || sleep 0.3
start_leader
RL2=$LEADER
ok_if "root registers a machine" register "$P-rootm" "$RL2"
ok_if "root clones an image" mgr CloneImage ssb img "$P-clone" false
ok_if "root removes the clone" mgr RemoveImage s "$P-clone"
ok_if "root unregisters nobody's machine" mgr UnregisterMachine s "$P-own"
# control: nobody's call is checked by polkit, and the monitor sees that
nobody_register "$P-own" "$NL" >/dev/null 2>&1
sleep 0.2
kill "$MON_PID" 2>/dev/null
wait "$MON_PID" 2>/dev/null
MON_PID=
expect_eq "polkit was asked once, for nobody's call only (root: never)" 1 \
    "$(grep -c "Member=CheckAuthorization" "$TMP/mon-root")"
ok_if "… nobody's registration went through" mgr GetMachine s "$P-own"

# --- berthd answers while polkit thinks (the rule sleeps 2 s)
touch "$TMP/slow"
start=$(date +%s%N)
nobody busctl --timeout=30 call $DEST $MGR_PATH $MGR TerminateMachine s "$P-rootm" >"$TMP/slow-out" 2>&1 &
SLOW_PID=$!
sleep 0.5
lm_start=$(date +%s%N)
lm=$(mgr ListMachines)
lm_ms=$(( ($(date +%s%N) - lm_start) / 1000000 ))
ok_if "ListMachines answers while a polkit ok_if is outstanding (${lm_ms} ms)" \
    bash -c "grep -q '$P-rootm' <<<'$lm' && [ $lm_ms -lt 1000 ]"
ok_if "… and the nobody call is still waiting for polkit" kill -0 "$SLOW_PID"
k_start=$(date +%s%N)
mgr KillMachine ssi "$P-rootm" leader 18 >/dev/null 2>&1; k_rc=$?
k_ms=$(( ($(date +%s%N) - k_start) / 1000000 ))
ok_if "meanwhile root's KillMachine does not wait for polkit (rc=$k_rc, ${k_ms} ms)" \
    bash -c "[ $k_rc = 0 ] && [ $k_ms -lt 1000 ]"
wait "$SLOW_PID"; slow_rc=$?
slow_ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok_if "the slow call completes with polkit's yes (rc=$slow_rc, ${slow_ms} ms)" \
    bash -c "[ $slow_rc = 0 ] && [ $slow_ms -ge 1500 ]"
ok_if "… and terminated the machine" wait_until 5 machine_gone "$P-rootm"
# the machine goes away while polkit thinks: the call, run again with polkit's yes,
# finds no machine (and berthd drops the unused answer)
start_leader
RL4=$LEADER
ok_if "root registers another machine" register "$P-gone" "$RL4"
nobody dbus-send --system --print-reply --reply-timeout=30000 --dest=$DEST $MGR_PATH $MGR.KillMachine \
    string:$P-gone string:all int32:15 >"$TMP/gone-out" 2>&1 &
GONE_PID=$!
sleep 0.5
ok_if "root unregisters it while nobody's KillMachine waits for polkit" mgr UnregisterMachine s "$P-gone"
wait "$GONE_PID"
ok_if "… nobody's call then fails with NoSuchMachine" grep -q "NoSuchMachine" "$TMP/gone-out"
ok_if "… and killed nothing" kill -0 "$RL4"
rm -f "$TMP/slow"

# --- without polkitd, nobody is refused again
ok_if "nobody unregisters its machine (polkit: yes)" \
    nobody busctl call $DEST $MGR_PATH $MGR UnregisterMachine s "$P-own"
stop_polkitd
ok_if "polkitd is gone" bash -c "! busctl status $PK"
expect_fail "without polkit, nobody cannot register its own leader" "AccessDenied.*Only root may register.*polkit.*not running" \
    nobody_send RegisterMachine string:$P-own array:byte: string: string:container uint32:$NL string:/
ok_if "… and no machine was registered" machine_gone "$P-own"
expect_fail "without polkit, nobody cannot CloneImage" "AccessDenied.*Only root may change images" \
    nobody_send CloneImage string:img string:$P-clone boolean:false
start_leader
RL3=$LEADER
ok_if "without polkit, root still registers" register "$P-root3" "$RL3"
ok_if "without polkit, root still terminates" mgr TerminateMachine s "$P-root3"
ok_if "berthd is still running" kill -0 "$BERTHD_PID"

finish
