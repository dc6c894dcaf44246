# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# private_bus_start DIR POLICY: start a dbus-daemon of type "system" listening on DIR/bus,
# with a system-bus-like default policy plus the D-Bus policy file POLICY; the config is
# DIR/bus.conf (callers may extend it and send ReloadConfig). Sets DBUS_PID and exports
# DBUS_SYSTEM_BUS_ADDRESS. Returns 1 (log in DIR/dbus.log) if the daemon did not come up.
# Used by the berthd tests and tools/bench-berthd.sh; never touches the host's bus.

private_bus_start() {
    local dir=$1 policy=$2
    cat >"$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$dir/bus</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <include>$policy</include>
</busconfig>
CONF

    dbus-daemon --config-file="$dir/bus.conf" --nofork --nopidfile --nosyslog >"$dir/dbus.log" 2>&1 &
    DBUS_PID=$!
    for _ in $(seq 100); do
        [ -S "$dir/bus" ] && break
        sleep 0.05
    done
    [ -S "$dir/bus" ] || return 1
    export DBUS_SYSTEM_BUS_ADDRESS=unix:path=$dir/bus
}

# private_berthd_start DIR BERTHD [ARGS...]: start BERTHD on the private bus with its state
# in DIR/state and its log in DIR/berthd.log, wait until it owns its name. Sets BERTHD_PID.
private_berthd_start() {
    local dir=$1 berthd=$2
    shift 2
    "$berthd" --state-dir="$dir/state" "$@" >"$dir/berthd.log" 2>&1 &
    BERTHD_PID=$!
    for _ in $(seq 200); do
        busctl status org.freedesktop.machine1 >/dev/null 2>&1 && return 0
        sleep 0.02
    done
    return 1
}

# private_bus_stop: stop what private_berthd_start and private_bus_start started
private_bus_stop() {
    [ -n "${BERTHD_PID:-}" ] && kill -TERM "$BERTHD_PID" 2>/dev/null && wait "$BERTHD_PID" 2>/dev/null
    [ -n "${DBUS_PID:-}" ] && kill "$DBUS_PID" 2>/dev/null && wait "$DBUS_PID" 2>/dev/null
    BERTHD_PID= DBUS_PID=
}
