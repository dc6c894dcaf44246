#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-runc, the OCI runtime: the create/start/state/kill/delete life cycle on a busybox
# bundle with the state JSON asserted, the init as the caller's direct child that waits
# for start, its exit status, exec (attached, --detach --process, exit status), ps,
# pause/resume in the cgroup freezer, resources in the cgroup and update, the console
# socket, bad configs (one error naming the field, nothing left), the JSON log,
# berth-spawn --oci-bundle with the same reader, and nothing left behind: state
# directories, cgroups, mounts, processes.
. "$(dirname "$0")/lib.sh"
setup

. "$(dirname "$0")/runc-lib.sh"

TREE=$(new_tree tree)

# ---- version and features
OUTPUT=$("$BERTH_RUNC" --version)
expect_match "--version names berth-runc" '^berth-runc version '
expect_match "--version names the spec version" '^spec: 1\.'
OUTPUT=$("$BERTH_RUNC" features)
expect_eq "features is JSON with ociVersionMax" "1.1.0" "$(json "$OUTPUT" 'j["ociVersionMax"]')"
expect_eq "features lists the namespaces" "True" "$(json "$OUTPUT" '"pid" in j["linux"]["namespaces"]')"

# ---- life cycle
B=$(bundle life '["sh", "-c", "echo started >/out/started; hostname >/out/hostname; exec sleep 1000"]')
ID=$P-life
ok_if "create succeeds" runc create --bundle "$B" --pid-file "$SCRATCH/life.pid" "$ID"
PID=$(cat "$SCRATCH/life.pid")
expect_eq "the pid file holds the bare PID, no newline" "$(printf '%s' "$PID" | od -c | head -n1)" \
    "$(od -c <"$SCRATCH/life.pid" | head -n1)"
expect_eq "the init is the caller's direct child" "$$" "$(awk '{print $4}' "/proc/$PID/stat")"
STATE=$(runc state "$ID")
expect_eq "state: created" "created" "$(json "$STATE" 'j["status"]')"
expect_eq "state: the init's pid" "$PID" "$(json "$STATE" 'j["pid"]')"
expect_eq "state: id, bundle, annotations, owner, created" "$ID $B yes  True" \
    "$(json "$STATE" '" ".join([j["id"], j["bundle"], j["annotations"]["org.berth.test"], j["owner"], str(j["created"].endswith("Z"))])')"
expect_eq "state: ociVersion" "True" "$(json "$STATE" 'j["ociVersion"].startswith("1.")')"
sleep 0.3
expect_eq "before start the user program has not run" "absent" "$([ -e "$B/out/started" ] && echo present || echo absent)"
OUTPUT=$(runc list)
expect_match "list shows the container as created" "^$ID +$PID +created "
ok_if "start succeeds" runc start "$ID"
for i in $(seq 1 100); do [ -e "$B/out/started" ] && break; sleep 0.05; done
expect_eq "after start the program runs" "started" "$(cat "$B/out/started" 2>&1)"
expect_eq "the container has the config's hostname" "runc" "$(cat "$B/out/hostname" 2>&1)"
expect_eq "state: running" "running" "$(status_of "$ID")"
expect_eq "the init has the config's inheritable and ambient sets" "0000000020000420 0000000020000420" \
    "$(awk '/^CapInh:/ {i=$2} /^CapAmb:/ {a=$2} END {print i, a}' "/proc/$PID/status")"
expect_fail "start again is refused" "already running" runc start "$ID"
expect_fail "delete of a running container is refused" "not stopped" runc delete "$ID"
OUTPUT=$(runc list --format json)
expect_eq "list --format json has the container" "running" \
    "$(json "$OUTPUT" '[c["status"] for c in j if c["id"] == "'"$ID"'"][0]')"

# ---- ps, exec
ERR=$SCRATCH/ps.err
OUTPUT=$(runc ps --format json "$ID" 2>"$ERR")
expect_eq "ps --format json lists the init" "True" "$(json "$OUTPUT" "$PID in j")"
expect_eq "ps prints nothing on stderr" "" "$(cat "$ERR")"
OUTPUT=$(runc exec "$ID" sh -c 'echo "$(hostname) $(cat /proc/1/comm) $$"' 2>&1)
expect_match "exec runs in the container's UTS and PID namespaces" '^runc sleep [0-9]+$'
runc exec "$ID" sh -c 'exit 3'
expect_eq "exec ends with the process's exit status" 3 "$?"
OUTPUT=$(runc exec "$ID" grep -E '^(Cap(Bnd|Inh|Amb)|NoNewPrivs)' /proc/self/status 2>&1)
expect_match "exec keeps the container's bounding set" 'CapBnd:[[:space:]]+0000000020000420'
expect_match "exec keeps no_new_privs" 'NoNewPrivs:[[:space:]]+1'
expect_match "exec: the inheritable set of the config" 'CapInh:[[:space:]]+0000000020000420'
expect_match "exec: the ambient set of the config" 'CapAmb:[[:space:]]+0000000020000420'
cat >"$SCRATCH/process.json" <<'EOF'
{ "terminal": false, "user": { "uid": 1000, "gid": 1000 }, "cwd": "/tmp",
  "args": ["sh", "-c", "echo \"$(id -u):$(id -g) $PWD $FOO\" >/out/exec; exec sleep 1000"],
  "env": ["PATH=/bin:/usr/bin", "FOO=bar"] }
EOF
ok_if "exec --detach --process --pid-file succeeds" \
    runc exec --process "$SCRATCH/process.json" --detach --pid-file "$SCRATCH/exec.pid" "$ID"
EPID=$(cat "$SCRATCH/exec.pid")
expect_eq "exec's pid file holds a bare PID" "1" "$(grep -c '^[0-9]*$' "$SCRATCH/exec.pid")"
expect_eq "the detached exec is the caller's direct child" "$$" "$(awk '{print $4}' "/proc/$EPID/stat" 2>&1)"
for i in $(seq 1 100); do [ -s "$B/out/exec" ] && break; sleep 0.05; done
expect_eq "the exec'd process has the user, cwd and env of --process" "1000:1000 /tmp bar" "$(cat "$B/out/exec" 2>&1)"
OUTPUT=$(runc ps --format json "$ID")
expect_eq "ps lists the exec'd process too" "True" "$(json "$OUTPUT" "$EPID in j and $PID in j")"

# ---- pause / resume: the cgroup freezer
ok_if "pause succeeds" runc pause "$ID"
CG=$(dirname "$(cgfile "$ID" cgroup.freeze)")
expect_eq "paused: the cgroup is frozen" "frozen 1" "$(grep frozen "$CG/cgroup.events" 2>&1)"
expect_eq "state: paused" "paused" "$(status_of "$ID")"
expect_fail "resume of a paused container only: pause twice is refused" "not running" runc pause "$ID"
ok_if "resume succeeds" runc resume "$ID"
expect_eq "resumed: the cgroup is thawed" "frozen 0" "$(grep frozen "$CG/cgroup.events" 2>&1)"
expect_eq "state: running again" "running" "$(status_of "$ID")"

# ---- kill, delete
ok_if "kill KILL succeeds" runc kill "$ID" KILL
ok_if "the container stops" wait_status "$ID" stopped
expect_eq "state of a stopped container reports pid 0" "0" "$(json "$(runc state "$ID")" 'j["pid"]')"
expect_fail "kill of a stopped container: container not running" "container not running" runc kill "$ID" TERM
ok_if "delete of a stopped container succeeds" runc delete "$ID"
expect_fail "state after delete: does not exist" "does not exist" runc state "$ID"
expect_fail "delete of a missing container: does not exist" "does not exist" runc delete "$ID"
ok_if "delete --force of a missing container exits 0" runc delete --force "$ID"
ok_if "the exec'd process went with the container" gone "$EPID"
expect_eq "no cgroup of the container is left" "" "$(find /sys/fs/cgroup -name "*$ID*" 2>/dev/null)"

# ---- delete --force of a created and of a running container
B=$(bundle force '["sleep", "1000"]')
ok_if "create a second container" runc create --bundle "$B" "$P-f1"
ok_if "delete --force of a created container" runc delete --force "$P-f1"
ok_if "create a third container" runc create --bundle "$B" "$P-f2"
ok_if "start it" runc start "$P-f2"
expect_fail "kill with an unknown signal is refused" "unknown signal" runc kill "$P-f2" SIGBOGUS
ok_if "delete --force of a running container" runc delete --force "$P-f2"
expect_eq "no cgroup of the forced containers is left" "" "$(find /sys/fs/cgroup -name "*$P-f*" 2>/dev/null)"

# ---- an init that is not root: it opens the start FIFO as process.user, and keeps the
# config's capability sets (ambient ones survive its execve), as with runc
B=$(bundle user '["sh", "-c", "grep -E \"^Cap(Prm|Eff|Amb):\" /proc/self/status >/out/caps; echo $(id -u) $(id -g) $(id -G) $(umask) >/out/id; exec sleep 1000"]' 'c["process"]["user"] = {"uid": 10, "gid": 10, "additionalGids": [5], "umask": 2}')
ok_if "create with process.user uid 10" runc create --bundle "$B" "$P-user"
ok_if "start it" runc start "$P-user"
for i in $(seq 1 100); do [ -s "$B/out/id" ] && break; sleep 0.05; done
expect_eq "the program runs with the user, groups and umask of process.user" "10 10 10 5 0002" "$(cat "$B/out/id" 2>&1)"
expect_eq "a non-root init has the config's permitted, effective and ambient sets" \
    "0000000020000420 0000000020000420 0000000020000420" "$(awk '{print $2}' "$B/out/caps" 2>&1 | paste -sd' ')"
cat >"$SCRATCH/user-process.json" <<'EOF2'
{ "user": { "uid": 10, "gid": 10 }, "cwd": "/", "args": ["grep", "^CapEff", "/proc/self/status"],
  "capabilities": { "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
                    "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"] } }
EOF2
OUTPUT=$(runc exec --process "$SCRATCH/user-process.json" "$P-user" 2>&1)
expect_match "exec as a non-root user keeps its --process capability sets" '^CapEff:[[:space:]]+0000000000000020$'
ok_if "delete it" runc delete --force "$P-user"

# ---- exit status through a shim-like caller, and the console socket
B=$(bundle exit '["sh", "-c", "exit 42"]')
OUTPUT=$("$PYTHON" "$HELPER" shim "$BERTH_RUNC" "$ROOT" "$B" "$P-exit" 2>&1)
expect_eq "a shim-like caller reaps its child init with the program's exit status" "ppid=OK exit=42" "$OUTPUT"
ok_if "delete after exit" runc delete "$P-exit"
B=$(bundle tty '["sh", "-c", "tty; echo on-the-tty"]' 'c["process"]["terminal"] = True')
OUTPUT=$(timeout 20 "$PYTHON" "$HELPER" console "$BERTH_RUNC" "$ROOT" "$B" "$P-tty" 2>&1)
expect_match "the console socket gets the pty master" '^tty=OK ppid=OK exit=0'
expect_match "the program's stdio is that terminal" '^/dev/pts/[0-9]+$'
expect_match "output comes through the pty" '^on-the-tty$'
ok_if "delete the tty container" runc delete "$P-tty"
expect_fail "a terminal container needs --console-socket" "console socket" runc create --bundle "$B" "$P-tty2"

# ---- resources and update
B=$(bundle res '["sleep", "1000"]' 'c["linux"]["resources"] = {"memory": {"limit": 67108864}, "pids": {"limit": 32}}')
ID=$P-res
ok_if "create with resources" runc create --bundle "$B" "$ID"
F=$(cgfile "$ID" memory.max); [ -n "$F" ] || F=$(cgfile "$ID" memory.limit_in_bytes)
expect_eq "memory.limit is the cgroup's memory limit" 67108864 "$(cat "$F" 2>&1)"
expect_eq "pids.limit is pids.max" 32 "$(cat "$(cgfile "$ID" pids.max)" 2>&1)"
ok_if "update --resources=- succeeds" runc update --resources=- "$ID" <<<'{"pids": {"limit": 16}, "memory": {"limit": 134217728}}'
expect_eq "update changed pids.max" 16 "$(cat "$(cgfile "$ID" pids.max)" 2>&1)"
expect_eq "update changed the memory limit" 134217728 "$(cat "$F" 2>&1)"
expect_fail "update with a bad value names the field" "resources.pids.limit" \
    runc update --resources=- "$ID" <<<'{"pids": {"limit": "x"}}'
ok_if "delete --force" runc delete --force "$ID"
expect_eq "no cgroup of the resource container is left" "" "$(find /sys/fs/cgroup -name "*$ID*" 2>/dev/null)"

# cpu as the config gives it (v1: shares, period and quota exactly; v2: cpu.max), cpuset,
# and the device rules in order followed by berth's own /dev nodes (v1 devices controller)
B=$(bundle cpudev '["sleep", "1000"]' 'c["linux"]["resources"] = {"cpu": {"shares": 2048, "period": 500000, "quota": 50000, "cpus": "0", "mems": "0"}, "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"}, {"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"}]}')
ID=$P-cpu
ok_if "create with cpu, cpuset and device rules" runc create --bundle "$B" "$ID"
if [ -n "$(cgfile "$ID" cpu.shares)" ]; then
    expect_eq "v1: cpu.shares, cfs_period_us, cfs_quota_us as the config gives them" "2048 500000 50000" \
        "$(cat "$(cgfile "$ID" cpu.shares)" "$(cgfile "$ID" cpu.cfs_period_us)" "$(cgfile "$ID" cpu.cfs_quota_us)" | tr '\n' ' ' | sed 's/ $//')"
else
    expect_eq "v2: cpu.max is quota and period" "50000 500000" "$(cat "$(cgfile "$ID" cpu.max)" 2>&1)"
fi
expect_eq "cpuset.cpus and cpuset.mems" "0 0" "$(cat "$(cgfile "$ID" cpuset.cpus)" "$(cgfile "$ID" cpuset.mems)" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
DEVLIST=$(cgfile "$ID" devices.list)
if [ -n "$DEVLIST" ]; then
    expect_eq "devices.list: the config's rules in order, then runc's mknod of any device, /dev/null and the other defaults" \
        "c 10:229 rwm|b 8:0 r|c *:* m|b *:* m|c 1:3 rwm" "$(head -n5 "$DEVLIST" | paste -sd'|')"
else
    skip "no v1 devices controller on this host (device rules are warned about)"
fi
ok_if "start it" runc start "$ID"
OUTPUT=$(runc exec "$ID" sh -c 'grep Cpus_allowed_list /proc/self/status; echo x >/dev/null && echo null-ok' 2>&1)
expect_match "the container runs on the cpuset's CPUs" 'Cpus_allowed_list:[[:space:]]+0$'
expect_match "a default device stays usable after the config's deny-all" '^null-ok$'
ok_if "update --resources=- with cpus, shares and a device rule" runc update --resources=- "$ID" \
    <<<'{"cpu": {"cpus": "0-'"$(($(nproc) - 1))"'", "shares": 512}, "devices": [{"allow": false, "type": "c", "major": 10, "minor": 229, "access": "w"}]}'
expect_eq "update changed cpuset.cpus" "0-$(($(nproc) - 1))" "$(cat "$(cgfile "$ID" cpuset.cpus)" 2>&1)"
if [ -n "$DEVLIST" ]; then
    expect_eq "update: cpu.shares and the device rule applied" "512 c 10:229 rm" \
        "$(cat "$(cgfile "$ID" cpu.shares)" 2>&1) $(head -n1 "$DEVLIST")"
fi
expect_fail "a bad device rule names the field" 'resources\.devices\[0\]: access .x. is not a subset of rwm' \
    runc update --resources=- "$ID" <<<'{"devices": [{"allow": true, "access": "x"}]}'
expect_fail "a bad cpuset names the field" 'resources\.cpu\.cpus: .a-b. is not a list' \
    runc update --resources=- "$ID" <<<'{"cpu": {"cpus": "a-b"}}'
ok_if "delete --force" runc delete --force "$ID"
expect_eq "no cgroup of the cpu container is left (v1 cpuset and devices included)" "" \
    "$(find /sys/fs/cgroup -name "*$ID*" 2>/dev/null)"

# ---- bad configs: one error naming the field, nothing made
B=$(bundle bad '["sh"]' 'c["process"]["args"] = [1]')
LOG=$SCRATCH/runc.log
OUTPUT=$("$BERTH_RUNC" --root "$ROOT" --log "$LOG" --log-format json create --bundle "$B" "$P-bad" 2>&1)
expect_eq "a bad config fails with status 1" 1 "$?"
expect_match "the error names the field" 'process\.args\[0\]: expected string'
expect_eq "the error is one line" 1 "$(grep -c . <<<"$OUTPUT")"
expect_eq "the log file's last line is a JSON error record" "error True True" \
    "$(json "$(tail -n1 "$LOG")" 'j["level"] + " " + str("process.args" in j["msg"]) + " " + str(j["time"].endswith("Z"))')"
expect_eq "nothing is left of the bad container" "absent" "$([ -e "$ROOT/$P-bad" ] && echo present || echo absent)"
expect_eq "no cgroup of the bad container" "" "$(find /sys/fs/cgroup -name "*$P-bad*" 2>/dev/null)"
B=$(bundle nocmd '["/no/such/program"]')
expect_fail "a missing program fails at create" "not found|No such file" runc create --bundle "$B" "$P-nocmd"
expect_eq "nothing is left of it" "absent" "$([ -e "$ROOT/$P-nocmd" ] && echo present || echo absent)"
ok_if "create a container" runc create --bundle "$SCRATCH/force" "$P-dup"
expect_fail "a duplicate ID is refused" "container with id exists" runc create --bundle "$SCRATCH/force" "$P-dup"
ok_if "delete the duplicate" runc delete --force "$P-dup"
expect_fail "an invalid ID is refused" "invalid container id" runc create --bundle "$B" "../x"

# ---- linux.seccomp: podman's own default profile (containers-common), resolved for the
# bundle's capabilities and this architecture as the engine does, then a profile with each
# action, an argument condition and flags
PROFILE=/usr/share/containers/seccomp.json
OUTPUT=$("$BERTH_RUNC" features)
expect_eq "features: seccomp enabled with KILL_PROCESS, MASKED_EQ and the LOG flag" "True True True True" \
    "$(json "$OUTPUT" '" ".join(str(x) for x in (j["linux"]["seccomp"]["enabled"], "SCMP_ACT_KILL_PROCESS" in j["linux"]["seccomp"]["actions"], "SCMP_CMP_MASKED_EQ" in j["linux"]["seccomp"]["operators"], "SECCOMP_FILTER_FLAG_LOG" in j["linux"]["seccomp"]["supportedFlags"]))')"
if [ -r "$PROFILE" ] && [ "$(uname -m)" = x86_64 ]; then
    B=$(bundle podseccomp '["sh", "-c", "berth-payload syscall getpid add_key kexec_load >/out/calls; grep -E \"^Seccomp(_filters)?:\" /proc/self/status >/out/status; exec sleep 1000"]' '
p = json.load(open("'"$PROFILE"'"))
def matches(f):
    if not f: return None
    return (not f.get("caps") or set(f["caps"]) <= set(caps)) and (not f.get("arches") or "amd64" in f["arches"])
rules = []
for r in p["syscalls"]:
    if matches(r.get("includes")) is False or matches(r.get("excludes")) is True: continue
    rules.append({k: v for k, v in r.items() if k in ("names", "action", "errnoRet", "args") and v not in (None, [])})
c["linux"]["seccomp"] = {"defaultAction": p["defaultAction"], "defaultErrnoRet": p["defaultErrnoRet"], "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"], "syscalls": rules}')
    ID=$P-sc
    ok_if "create with podman's default seccomp profile" runc create --bundle "$B" "$ID"
    ok_if "start it" runc start "$ID"
    for i in $(seq 1 100); do [ -s "$B/out/status" ] && break; sleep 0.05; done
    expect_eq "the profile allows what it lists, denies with its errnoRet and defaultErrnoRet" \
        "getpid=ok add_key=ENOSYS kexec_load=EPERM" "$(tr '\n' ' ' <"$B/out/calls" | sed 's/ $//')"
    expect_eq "the init runs under berth's ioctl filter and the profile" "Seccomp: 2 Seccomp_filters: 2" \
        "$(tr -s '\t\n' '  ' <"$B/out/status" | sed 's/ $//')"
    OUTPUT=$(runc exec "$ID" berth-payload syscall add_key kexec_load getpid 2>&1)
    expect_eq "exec runs under the same profile" "add_key=ENOSYS kexec_load=EPERM getpid=ok" "$(echo $OUTPUT)"
    "$PYTHON" -c 'import json, sys; c = json.load(open(sys.argv[1])); del c["linux"]["seccomp"]; json.dump(c, open(sys.argv[1], "w"))' "$B/config.json"
    OUTPUT=$(runc exec "$ID" berth-payload syscall add_key 2>&1)
    expect_eq "exec loads the profile create compiled, whatever config.json says now" "add_key=ENOSYS" "$OUTPUT"
    ok_if "delete --force" runc delete --force "$ID"
    expect_eq "the state directory with the compiled profile is gone" "absent" \
        "$([ -e "$ROOT/$ID" ] && echo present || echo absent)"
else
    skip "podman's profile: $PROFILE (containers-common) missing or not x86_64"
fi

B=$(bundle actions '["sh", "-c", "berth-payload syscall fsync reboot getpid >/out/calls; chmod 755 /out/calls && echo chmod-755-ok >>/out/calls; chmod 4755 /out/calls 2>>/out/calls; exec sleep 1000"]' '
c["process"]["noNewPrivileges"] = False
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"], "syscalls": [
    {"names": ["fsync", "no_such_call_anywhere"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
    {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 1, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "args": [{"index": 2, "value": 2048, "valueTwo": 2048, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["reboot"], "action": "SCMP_ACT_LOG"},
    {"names": ["syncfs"], "action": "SCMP_ACT_KILL_PROCESS"},
    {"names": ["fdatasync"], "action": "SCMP_ACT_TRAP"},
    {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
    {"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]}')
ID=$P-act
# close_range is refused as by a profile older than the call: the init and exec still start
ok_if "create with a profile of every action, no_new_privs off" runc create --bundle "$B" "$ID"
ok_if "start it" runc start "$ID"
for i in $(seq 1 100); do grep -q chmod "$B/out/calls" 2>/dev/null && break; sleep 0.05; done
sleep 0.2
OUTPUT=$(cat "$B/out/calls" 2>&1)
expect_match "SCMP_ACT_ERRNO returns errnoRet (ENOSPC); an unknown name is skipped" '^fsync=ENOSPC$'
expect_match "SCMP_ACT_LOG lets the call through (the kernel's own EPERM: no CAP_SYS_BOOT)" '^reboot=EPERM$'
expect_match "SCMP_CMP_MASKED_EQ: a mode without the setuid bit passes" '^chmod-755-ok$'
expect_match "SCMP_CMP_MASKED_EQ: the setuid bit gets errnoRet (EACCES)" 'chmod.*Permission denied'
runc exec "$ID" berth-payload syscall syncfs >/dev/null 2>&1
expect_eq "SCMP_ACT_KILL_PROCESS: the caller dies of SIGSYS" 159 "$?"
runc exec "$ID" berth-payload syscall fdatasync >/dev/null 2>&1
expect_eq "SCMP_ACT_TRAP: SIGSYS" 159 "$?"
ok_if "delete --force" runc delete --force "$ID"

B=$(bundle badsc '["true"]' 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_BOGUS"}]}')
expect_fail "a bad seccomp action names the field" 'linux\.seccomp\.syscalls\[0\]: unknown action .SCMP_ACT_BOGUS' \
    runc create --bundle "$B" "$P-badsc"
expect_eq "nothing is left of it" "absent" "$([ -e "$ROOT/$P-badsc" ] && echo present || echo absent)"
B=$(bundle badarch '["true"]' 'c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}')
expect_fail "an unknown architecture names the field" 'linux\.seccomp\.architectures: unknown architecture .SCMP_ARCH_VAX' \
    runc create --bundle "$B" "$P-badarch"

# ---- berth-spawn --oci-bundle: the same reader, berth-spawn's supervision
# /made/here, /run and /tmp do not exist in the tree: their mount points are made before the
# root turns read-only
B=$(bundle spawn '["sh", "-c", "echo $(hostname) $FOO $PWD; exit 5"]' 'c["process"]["env"].append("FOO=bar"); c["process"]["cwd"] = "/tmp"; c["root"]["readonly"] = True; import shutil; [shutil.rmtree(os.path.dirname(sys.argv[1]) + "/rootfs/" + d, ignore_errors=True) for d in ("run", "tmp")]; c["mounts"].append({"destination": "/made/here", "type": "bind", "source": os.path.dirname(sys.argv[1]) + "/out", "options": ["rbind"]})')
OUTPUT=$(timeout 30 "$BERTH_SPAWN" -q --oci-bundle="$B" 2>&1)
expect_eq "berth-spawn --oci-bundle ends with the program's exit status" 5 "$?"
expect_match "--oci-bundle: hostname, env and cwd come from config.json" '^runc bar /tmp$'
OUTPUT=$(timeout 30 "$BERTH_SPAWN" -q --oci-bundle="$B" -E FOO=cli --hostname=other /bin/sh -c 'echo $(hostname) $FOO; touch /made/here/m /out/w /x' 2>&1)
expect_match "--oci-bundle: the command line takes precedence" '^other cli$'
expect_eq "--oci-bundle: the bundle's bind mount is writable" "present" "$([ -e "$B/out/w" ] && echo present || echo absent)"
expect_eq "--oci-bundle: a mount point missing in a read-only root is made" "present" "$([ -e "$B/out/m" ] && echo present || echo absent)"
expect_match "--oci-bundle: root.readonly makes the root read-only" 'touch: /x: Read-only file system'
B=$(bundle spawnbad '["sh"]' 'c["linux"]["namespaces"].append({"type": "bogus"})')
expect_fail "--oci-bundle with a bad config names the field" 'linux\.namespaces\[6\]: unknown namespace type' \
    "$BERTH_SPAWN" -q --oci-bundle="$B"

# ---- the config's mounts in its order, its sources and options; maskedPaths, readonlyPaths
# (the kernel lists mounts in the order they were made: /proc must come before /dev as
# the config says, /dev/shm has the config's source "shm" and noexec)
# (paths berth masks itself, such as /proc/keys as containerd lists them, stay masked)
B=$(bundle mounts '["sh", "-c", "cat /proc/self/mountinfo >/out/mountinfo; cat /secret-file /secret-dir/x >/out/masked 2>&1; touch /ro-dir/x 2>/out/ro; echo rc=$? >>/out/ro"]' '
c["mounts"].insert(3, {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]})
c["mounts"].append({"destination": "/late", "type": "tmpfs", "source": "tmpfs", "options": ["size=1k"]})
r = os.path.dirname(sys.argv[1]) + "/rootfs"
os.makedirs(r + "/secret-dir", exist_ok=True); os.makedirs(r + "/ro-dir", exist_ok=True)
open(r + "/secret-file", "w").write("hush-hush\n"); open(r + "/secret-dir/x", "w").write("hush-hush\n")
c["linux"]["maskedPaths"] += ["/secret-file", "/secret-dir", "/no/such/path", "/proc/keys", "/proc/timer_list"]
c["linux"]["readonlyPaths"] += ["/ro-dir", "/no/such/dir", "/proc/keys"]')
ok_if "run a container with /dev/shm, masked and read-only paths" runc run --bundle "$B" "$P-mounts"
MI=$B/out/mountinfo
order=$(awk '!seen[$5]++ {print $5}' "$MI" | grep -nxE '/proc|/dev|/dev/pts|/dev/shm|/sys|/out|/late' | cut -d: -f2 | tr '\n' ' ')
expect_eq "the config's mounts are made in its order (/proc before /dev)" "/proc /dev /dev/pts /dev/shm /sys /out /late " "$order"
expect_match "/dev/shm has the config's source and noexec" ' /dev/shm [^ ]*noexec.* - tmpfs shm ' "$(cat "$MI")"
expect_match "/dev/shm has the config's size" ' /dev/shm .* - tmpfs shm rw,[^ ]*size=65536k' "$(cat "$MI")"
expect_eq "maskedPaths hide a file and a directory; a missing one is skipped" "0 2" \
    "$(grep -c hush-hush "$B/out/masked") $(grep -c . "$B/out/masked")"
expect_match "readonlyPaths make a directory read-only; a missing one is skipped" 'Read-only file system' "$(cat "$B/out/ro")"
expect_eq "the read-only path's writer failed" "rc=1" "$(tail -n1 "$B/out/ro")"

# ---- linux.devices: made after the mounts with the config's type, numbers, mode, owner
B=$(bundle devices '["sh", "-c", "ls -ln /dev/test-c /dev/sub/fifo /dev/null >/out/devices 2>&1"]' '
c["linux"]["devices"] = [{"path": "/dev/test-c", "type": "c", "major": 1, "minor": 3, "fileMode": 384, "uid": 1, "gid": 2},
                         {"path": "/dev/sub/fifo", "type": "p"}, {"path": "/dev/null", "type": "c", "major": 1, "minor": 3}]')
ok_if "run a container with linux.devices" runc run --bundle "$B" "$P-dev"
expect_match "a character device with the config's numbers, mode and owner" '^crw------- +1 +1 +2 +1, +3 .*/dev/test-c$' "$(cat "$B/out/devices")"
expect_match "a FIFO in a directory made for it" '^prw-rw-rw- .*/dev/sub/fifo$' "$(cat "$B/out/devices")"
expect_match "a default device listed again is kept" '^crw-rw-rw- .*/dev/null$' "$(cat "$B/out/devices")"
# (4:64 is none of berth's own /dev nodes, whose rules follow the config's anyway)
B=$(bundle devcg '["sh", "-c", "ls -ln /dev/test-s >/out/devcg 2>&1"]' '
c["linux"]["devices"] = [{"path": "/dev/test-s", "type": "c", "major": 4, "minor": 64}]
c["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}')
ok_if "run a container with linux.devices under a deny-all device cgroup" runc run --bundle "$B" "$P-devcg"
expect_match "the config's node is allowed after the config's rules, as runc does" '^crw-rw-rw- .* 4, +64 .*/dev/test-s$' \
    "$(cat "$B/out/devcg" 2>/dev/null)"
B=$(bundle baddev '["true"]' 'c["linux"]["devices"] = [{"path": "/dev/x", "type": "q", "major": 1, "minor": 1}]')
expect_fail "an unknown device type names the field" 'linux\.devices\[0\]: unknown device type' runc run --bundle "$B" "$P-baddev"

# ---- linux.sysctl: written inside the container's namespaces; host-global keys refused
B=$(bundle sysctl '["sh", "-c", "cat /proc/sys/kernel/shmmni /proc/sys/net/ipv4/ip_forward >/out/sysctl"]' \
    'c["linux"]["sysctl"] = {"kernel.shmmni": "1234", "net.ipv4.ip_forward": "1"}')
HOST_SHMMNI=$(cat /proc/sys/kernel/shmmni)
ok_if "run a container with linux.sysctl" runc run --bundle "$B" "$P-sysctl"
expect_eq "the container's IPC and network namespaces have the config's values" "1234 1" "$(tr '\n' ' ' <"$B/out/sysctl" | sed 's/ $//')"
expect_eq "the host's value is untouched" "$HOST_SHMMNI" "$(cat /proc/sys/kernel/shmmni)"
B=$(bundle sysctlhost '["true"]' 'c["linux"]["sysctl"] = {"kernel.pid_max": "4096"}')
expect_fail "a host-global sysctl is refused" 'linux\.sysctl: kernel\.pid_max is not allowed' runc run --bundle "$B" "$P-sysctlhost"
B=$(bundle sysctlnet '["true"]' 'c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}; c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]')
expect_fail "net.* without a network namespace of its own is refused" "not allowed in the host's network namespace" \
    runc run --bundle "$B" "$P-sysctlnet"

# ---- linux.namespaces: joined by path (a pod's network namespace, as CRI passes it), and
# the runtime's own for the types not listed
unshare --ipc --uts --net --mount --pid --fork --kill-child sleep 1000 &
export UNSHARE=$!
for i in $(seq 1 100); do UPID=$(pgrep -P "$UNSHARE" sleep) && break; sleep 0.05; done
B=$(bundle nspath '["sleep", "1000"]' '
u = os.environ["UNSHARE"]
paths = {"ipc": "ipc", "uts": "uts", "network": "net", "mount": "mnt", "pid": "pid_for_children"}
c["linux"]["namespaces"] = [{"type": t, "path": "/proc/%s/ns/%s" % (u, paths[t])} if t in paths else {"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]')
ok_if "create a container joining five namespaces by path" runc create --bundle "$B" "$P-nspath"
CPID=$(json "$(runc state "$P-nspath")" 'j["pid"]')
for ns in ipc uts net mnt; do
    expect_eq "the container is in the $ns namespace of the path" "$(readlink "/proc/$UNSHARE/ns/$ns")" "$(readlink "/proc/$CPID/ns/$ns")"
done
expect_eq "the container is in the pid namespace of the path" "$(readlink "/proc/$UNSHARE/ns/pid_for_children")" "$(readlink "/proc/$CPID/ns/pid")"
expect_eq "the joined UTS namespace got the config's hostname" "runc" "$(nsenter -t "$UPID" -u hostname 2>&1)"
ok_if "delete it" runc delete --force "$P-nspath"
# unshare blocks SIGTERM while it waits for its child: KILL, and --kill-child ends the sleep
kill -KILL "$UNSHARE" 2>/dev/null; wait "$UNSHARE" 2>/dev/null
B=$(bundle nsshared '["sleep", "1000"]' 'del c["hostname"]; c["linux"]["namespaces"] = [{"type": t} for t in ("network", "mount")]')
ok_if "create a container listing only network and mount namespaces" runc create --bundle "$B" "$P-nsshared"
CPID=$(json "$(runc state "$P-nsshared")" 'j["pid"]')
for ns in ipc uts pid cgroup; do
    expect_eq "the $ns namespace not listed is the runtime's" "$(readlink "/proc/self/ns/$ns")" "$(readlink "/proc/$CPID/ns/$ns")"
done
expect_eq "the listed mount namespace is its own" "different" "$([ "$(readlink /proc/self/ns/mnt)" != "$(readlink "/proc/$CPID/ns/mnt")" ] && echo different)"
ok_if "delete it" runc delete --force "$P-nsshared"
B=$(bundle nsnouts '["true"]' 'c["linux"]["namespaces"] = [{"type": t} for t in ("network", "mount")]')
expect_fail "a hostname without a UTS namespace is refused" 'without a private UTS namespace' runc run --bundle "$B" "$P-nsnouts"

# ---- nothing left
expect_eq "the state directory is empty" "" "$(ls -A "$ROOT" 2>&1)"
expect_eq "no cgroup of ours is left" "" "$(find /sys/fs/cgroup -name "*$P*" 2>/dev/null)"
