#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz-oci-config-seeds.sh DIR — write the seed corpus of fuzz-oci-config into DIR: the
# config.json "runc spec" writes, one with every field berth reads, and near misses.
set -eu

[ "$#" -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
cd "$1"
cat >minimal <<'X'
{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"}}
X
cat >runc-spec <<'X'
{"ociVersion":"1.0.2-dev","process":{"terminal":true,"user":{"uid":0,"gid":0},"args":["sh"],
"env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","TERM=xterm"],"cwd":"/",
"capabilities":{"bounding":["CAP_AUDIT_WRITE","CAP_KILL","CAP_NET_BIND_SERVICE"],
"effective":["CAP_AUDIT_WRITE","CAP_KILL"],"permitted":["CAP_KILL"],"ambient":["CAP_KILL"]},
"rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true},
"root":{"path":"rootfs","readonly":true},"hostname":"runc",
"mounts":[{"destination":"/proc","type":"proc","source":"proc"},
{"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","strictatime","mode=755","size=65536k"]}],
"linux":{"resources":{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":1000000},
"pids":{"limit":5},"cpu":{"shares":100,"quota":1000,"period":10000},"blockIO":{"weight":10}},
"namespaces":[{"type":"pid"},{"type":"network","path":"/proc/1/ns/net"},{"type":"ipc"},{"type":"uts"},{"type":"mount"}],
"maskedPaths":["/proc/acpi"],"readonlyPaths":["/proc/bus"],"sysctl":{"a.b":"1"},"cgroupsPath":"a:b:c",
"seccomp":{"defaultAction":"SCMP_ACT_ERRNO"}},"annotations":{"k":"v"}}
X
printf '{"memory":{"limit":-1},"pids":{"limit":9},"cpu":{"period":100000}}' >resources
printf '{"ociVersion":"1.0","root":{"path":1}}' >bad-root
printf '{"ociVersion":"1.0","root":{"path":"r"},"process":{"args":["a"],"cwd":"/","user":{"uid":99999999999}}}' >big-uid
cat >userns <<'X'
{"ociVersion":"1.1.0","root":{"path":"rootfs"},"process":{"args":["sh"],"cwd":"/"},
"mounts":[{"destination":"/d","type":"bind","source":"/s","options":["rbind","ridmap"],
"uidMappings":[{"containerID":0,"hostID":100000,"size":65536}],"gidMappings":[{"containerID":0,"hostID":100000,"size":65536}]}],
"linux":{"namespaces":[{"type":"user"},{"type":"mount"}],
"uidMappings":[{"containerID":0,"hostID":1000,"size":2000},{"containerID":2000,"hostID":0,"size":1}],
"gidMappings":[{"containerID":0,"hostID":1000,"size":3000}]}}
X
printf '[' >truncated
