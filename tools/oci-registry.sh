# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# oci-registry.sh — a docker-registry for test-berth-importd-oci.sh and bench-oci.sh: its
# config and storage in a scratch directory, listening on a loopback address of the
# caller's own network namespace.
#   oci_registry_start DIR ADDR   start it, wait until /v2/ answers; sets OCI_REGISTRY_PID
#   oci_registry_stop             stop it

oci_registry_start() {
    local dir=$1 addr=$2
    cat >"$dir/registry.yml" <<YML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/registry
http:
  addr: $addr
YML
    docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
    OCI_REGISTRY_PID=$!
    for _ in $(seq 100); do
        curl -sf "http://$addr/v2/" >/dev/null && return 0
        sleep 0.1
    done
    return 1
}

oci_registry_stop() {
    [ -n "${OCI_REGISTRY_PID:-}" ] || return 0
    kill "$OCI_REGISTRY_PID" 2>/dev/null
    wait "$OCI_REGISTRY_PID" 2>/dev/null
    OCI_REGISTRY_PID=
}
