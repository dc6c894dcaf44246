#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# berthctl -H [USER@]HOST: D-Bus over ssh, as machinectl does it. libsystemd's
# sd_bus_open_system_remote() runs `ssh -xT -- HOST systemd-stdio-bridge`; here HOST is
# an sshd this test starts on 127.0.0.1 inside a network namespace of its own (its own
# host key, config and a throwaway key for root, key-only). systemd-stdio-bridge ignores
# DBUS_SYSTEM_BUS_ADDRESS, so the sshd's ForceCommand is a script that logs the command
# the client asked for, refuses any other than `systemd-stdio-bridge` and runs that with
# --bus-path= of this test's private dbus-daemon with berthd. The bus socket is a path,
# so it is reachable from that network namespace. The client finds ssh by $PATH: a wrapper in this test's PATH adds
# `-F` with the test's client config (key, known host key, batch mode) and logs its
# arguments, so the test can check what berthctl ran. berthctl itself runs without
# DBUS_SYSTEM_BUS_ADDRESS, so only the ssh path can reach berthd.
#
# Environment: BERTHD, BERTHCTL (default build/src/berthctl/berthctl).

source "$(dirname "$0")/lib.sh"
: "${BERTHCTL:=$MD_SRCDIR/build/src/berthctl/berthctl}"
setup
[ -x "$BERTHCTL" ] || { echo "Bail out! berthctl not found at $BERTHCTL"; exit 1; }
SSHD=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$SSHD" ] || skip_all "no sshd (openssh-server)"
for tool in ssh ssh-keygen systemd-stdio-bridge nsenter; do
    command -v $tool >/dev/null || skip_all "no $tool"
done
SSH=$(command -v ssh)
SSHD_PID=

# --- the keys and configs, all in the scratch directory
S=$TMP/ssh
mkdir -m 700 "$S" "$S/bin"
ssh-keygen -q -t ed25519 -N '' -C berth-test-host -f "$S/host_key"
ssh-keygen -q -t ed25519 -N '' -C berth-test-client -f "$S/id"
cp "$S/id.pub" "$S/authorized_keys"
echo "127.0.0.1 $(cut -d' ' -f1,2 "$S/host_key.pub")" >"$S/known_hosts"
cat >"$S/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port 22
HostKey $S/host_key
PidFile none
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthenticationMethods publickey
AuthorizedKeysFile $S/authorized_keys
AuthorizedPrincipalsFile none
StrictModes no
AllowUsers root
X11Forwarding no
AllowTcpForwarding no
PermitTTY no
LogLevel VERBOSE
ForceCommand $S/bridge
EOF
cat >"$S/bridge" <<EOF
#!/bin/sh
printf '%s\\n' "\$SSH_ORIGINAL_COMMAND" >>"$S/remote-commands.log"
[ "\$SSH_ORIGINAL_COMMAND" = systemd-stdio-bridge ] || { echo "bridge: refused" >&2; exit 1; }
exec systemd-stdio-bridge --bus-path="$DBUS_SYSTEM_BUS_ADDRESS"
EOF
chmod 755 "$S/bridge"
cat >"$S/ssh_config" <<EOF
Host *
    IdentityFile $S/id
    IdentitiesOnly yes
    UserKnownHostsFile $S/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 10
EOF
cat >"$S/bin/ssh" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$S/ssh-args.log"
exec "$SSH" -F "$S/ssh_config" "\$@"
EOF
chmod 755 "$S/bin/ssh"

# IN_SSHD_NS COMMAND...: in a new network namespace with only loopback up, and a tmpfs over
# /run in its own mount namespace for the privilege separation directory (/run/sshd) sshd
# insists on. unshare and sh exec, so the PID of this is COMMAND's (an array, not a
# function: a function in the background would be a subshell with a PID of its own).
IN_SSHD_NS=(unshare --net --mount --propagation private -- sh -c '
        ip link set lo up && mount -t tmpfs -o mode=755 tmpfs /run && mkdir -m 755 /run/sshd &&
        exec "$@"' sh)
ok_if "sshd accepts the test's config" "${IN_SSHD_NS[@]}" "$SSHD" -t -f "$S/sshd_config"
"${IN_SSHD_NS[@]}" "$SSHD" -D -e -f "$S/sshd_config" 2>"$S/sshd.log" &
SSHD_PID=$!
NETNS=/proc/$SSHD_PID/ns/net
listening() {
    nsenter --net="$NETNS" ss -Hltn 'sport = :22' | grep -q 127.0.0.1
}
if wait_until 10 listening; then pass "sshd listens on 127.0.0.1:22 in its own network namespace"; else
    fail "sshd listens on 127.0.0.1:22 in its own network namespace"; sed 's/^/# /' "$S/sshd.log"; fi
ok_if "the namespace is not the host's" test "$(readlink "$NETNS")" != "$(readlink /proc/self/ns/net)"

stop_sshd() {
    [ -n "$SSHD_PID" ] || return 0
    kill "$SSHD_PID" 2>/dev/null
    wait "$SSHD_PID" 2>/dev/null
    SSHD_PID=
}
# finish and emergency_cleanup call these
finish_extra() {
    local netns_ino p
    netns_ino=$(readlink "$NETNS" 2>/dev/null)
    stop_sshd
    # every sshd of a connection must be gone with the listener and its namespace
    [ -n "$netns_ino" ] || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$netns_ino" ] && leaks+=" sshd-netns-process:${p#/proc/}"
    done
    return 0
}
emergency_extra() { stop_sshd; }

# rctl ARGS...: berthctl -H root@127.0.0.1 from inside the sshd's network namespace,
# without the private bus address, with the ssh wrapper first in PATH
rctl() {
    nsenter --net="$NETNS" env -u DBUS_SYSTEM_BUS_ADDRESS PATH="$S/bin:$PATH" \
        timeout 60 "$BERTHCTL" --no-pager -H root@127.0.0.1 "$@"
}

# --- berthd with a pool and two machines
POOL=$TMP/pool
mkdir -p "$POOL/img-a/etc"
printf 'ID=testos\nPRETTY_NAME="Test OS 1"\n' >"$POOL/img-a/etc/os-release"
if start_berthd --pool="$POOL"; then pass "berthd starts"; else fail "berthd starts"; finish; fi
start_leader
register "$P-one" "$LEADER" >/dev/null
start_leader
register "$P-two" "$LEADER" >/dev/null

# --- the check that the remote path is the only one: without ssh the local bus is gone
expect_fail "without -H, on a bus address with no bus, berthctl does not reach berthd" "$TMP/no-bus|No such file" \
    env DBUS_SYSTEM_BUS_ADDRESS="unix:path=$TMP/no-bus" "$BERTHCTL" --no-pager list

out=$(rctl list 2>"$TMP/rctl.err")
rc=$?
expect_eq "-H list: exit status 0" 0 "$rc"
[ "$rc" = 0 ] || sed 's/^/# stderr: /' "$TMP/rctl.err"
expect_eq "-H list: the test's machines" "$P-one $P-two" "$(sed -n '2,3p' <<<"$out" | awk '{ print $1 }' | xargs)"
expect_eq "-H list: footer" "2 machines listed." "$(tail -1 <<<"$out")"
expect_eq "-H list: the same table as on the local bus" "$("$BERTHCTL" --no-pager list --max-addresses=0)" \
    "$(rctl list --max-addresses=0 2>&1)"
expect_match "berthctl ran ssh with the host and systemd-stdio-bridge" \
    '(^| )root@127\.0\.0\.1 systemd-stdio-bridge$' "$(head -1 "$S/ssh-args.log")"
expect_match "sshd let root in with the throwaway key" \
    'Accepted publickey for root from 127\.0\.0\.1' "$(cat "$S/sshd.log")"
expect_eq "the remote side was asked for systemd-stdio-bridge" systemd-stdio-bridge "$(head -1 "$S/remote-commands.log")"

out=$(rctl list-images 2>&1)
expect_eq "-H list-images: the pool's image" "img-a" "$(awk 'NR == 2 { print $1 }' <<<"$out")"
expect_eq "-H list-images: footer" "1 images listed." "$(tail -1 <<<"$out")"
ok_if "-H clone: exit status 0" rctl clone img-a img-b
ok_if "-H clone: the copy is in the pool on the other side" test -f "$POOL/img-b/etc/os-release"
expect_eq "-H show-image -P Name" img-b "$(rctl show-image img-b -P Name 2>&1)"
ok_if "-H remove: exit status 0" rctl remove img-b
ok_if "-H remove: the copy is gone" test ! -e "$POOL/img-b"
ok_if "-H terminate: exit status 0" rctl terminate "$P-two"
ok_if "-H terminate: the machine is gone on the other side" wait_until 5 machine_gone "$P-two"

# errors come back over the bridge as on the local bus, exit status 1
rctl status no-such-machine >"$TMP/err.out" 2>"$TMP/err.err"
expect_eq "-H status of an unknown machine: exit status 1" 1 "$?"
expect_match "-H status of an unknown machine: berthd's error text" "no-such-machine" "$(cat "$TMP/err.err")"

# -H and -M together are refused, as machinectl refuses them
expect_fail "-H with -M is refused" "Cannot combine -H and -M" rctl -M foo list

# a host key that does not match: ssh refuses, berthctl fails and reaches nothing
echo "127.0.0.1 $(cut -d' ' -f1,2 "$S/id.pub")" >"$S/known_hosts.good"
mv "$S/known_hosts" "$S/known_hosts.real"
cp "$S/known_hosts.good" "$S/known_hosts"
expect_fail "-H with a wrong known host key fails" "Host key verification failed" rctl list
mv "$S/known_hosts.real" "$S/known_hosts"
ok_if "-H works again with the right host key" rctl list --max-addresses=0

finish
