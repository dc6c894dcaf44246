#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-runc's OCI hooks (runtime-spec 1.x): real hooks at all six points record what
# they see (the state JSON on stdin, their mount, PID and network namespaces, env, argv,
# working directory) and the order they ran in; a timeout kills a sleeping hook and the
# create fails with nothing left; a failing hook at each point has the spec's (and runc's)
# outcome; poststop runs on a delete from another process; features lists the points.
. "$(dirname "$0")/lib.sh"
setup

: "${BERTH_RUNC:=$BERTH_SRCDIR/build/src/oci/berth-runc}"
ROOT=$SCRATCH/runc-state
P=brh$$
HOOK=$SCRATCH/hook.sh
export BERTH_HOOK_INHERIT=inherited     # seen by a hook without "env" only

runc() {
    "$BERTH_RUNC" --root "$ROOT" "$@"
}

# hook.sh POINT OUT: what a hook sees, into OUT/POINT.*, and POINT appended to OUT/order.
# Also the container's /hook.sh, for startContainer, whose path resolves inside.
cat >"$HOOK" <<'SH'
#!/bin/sh
p=$1 out=$2
cat >"$out/$p.json"
readlink /proc/self/ns/mnt >"$out/$p.mnt"
readlink /proc/self/ns/pid >"$out/$p.pidns"
readlink /proc/self/ns/net >"$out/$p.net"
echo "${HOOKVAR-unset} ${BERTH_HOOK_INHERIT-unset}" >"$out/$p.env"
pwd >"$out/$p.cwd"
# $$ is a host PID only in the runtime's PID namespace
[ "$p" = createRuntime ] && tr '\0' ' ' </proc/$$/cmdline >"$out/$p.argv"
echo "$p" >>"$out/order"
SH
chmod 755 "$HOOK"

# bundle NAME ARGS_JSON HOOKS_PYTHON: a busybox bundle $SCRATCH/NAME (its out/ is /out
# inside) running ARGS_JSON, with the hooks object the Python expression gives (h(POINT)
# is the recording hook for POINT). Prints its path.
bundle() {
    local b=$SCRATCH/$1
    mkdir -p "$b/out"
    cp -a "$TREE" "$b/rootfs"
    install -m 755 "$HOOK" "$b/rootfs/hook.sh"
    mkdir -p "$b/rootfs/out"
    ARGS=$2 HOOKS=$3 HOOK=$HOOK "$PYTHON" - "$b" <<'PY'
import json, os, sys
b = sys.argv[1]
def h(point, **kw):
    return dict({"path": os.environ["HOOK"], "args": ["hook", point, b + "/out"], "env": ["HOOKVAR=" + point]}, **kw)
c = {
    "ociVersion": "1.0.2",
    "process": {"terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/",
                "args": json.loads(os.environ["ARGS"]), "env": ["PATH=/usr/bin:/bin"]},
    "root": {"path": "rootfs"},
    "hostname": "hooks",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/out", "type": "bind", "source": b + "/out", "options": ["rbind", "rw"]},
    ],
    "linux": {"namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")]},
    "annotations": {"org.berth.hooks": "yes"},
    "hooks": eval(os.environ["HOOKS"]),
}
json.dump(c, open(b + "/config.json", "w"), indent=1)
PY
    echo "$b"
}

json() {
    J=$1 "$PYTHON" -c "import json, os; j = json.loads(os.environ['J']); print($2)" 2>&1
}

# nothing_left ID PID DESC: no state directory, cgroup, mount or process of the container
nothing_left() {
    expect_eq "$3: no state directory" "" "$(ls -A "$ROOT" 2>&1 | grep -F "$1")"
    expect_eq "$3: no cgroup" "" "$(find /sys/fs/cgroup -name "*$1*" 2>/dev/null)"
    expect_eq "$3: no mount below the scratch directory" "" "$(grep -F " $SCRATCH/" /proc/self/mountinfo)"
    if [ -n "$2" ] && [ -e "/proc/$2" ] && [ "$(awk '{print $3}' "/proc/$2/stat" 2>/dev/null)" != Z ]; then
        fail "$3: the init is gone" "PID $2 still runs: $(tr '\0' ' ' <"/proc/$2/cmdline")"
    else
        pass "$3: the init is gone"
    fi
}

TREE=$(new_tree tree)
HOST_MNT=$(readlink /proc/self/ns/mnt)

# ---- features
OUTPUT=$("$BERTH_RUNC" features)
expect_eq "features lists the six hook points" \
    "['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']" \
    "$(json "$OUTPUT" 'j["hooks"]')"

# ---- every point, in order, with what each sees
B=$(bundle all '["sleep", "1000"]' '{
    "prestart": [h("prestart"), h("prestart2")],
    "createRuntime": [dict(h("createRuntime"), path="/bin/sh", args=["hook-argv0", os.environ["HOOK"], "createRuntime", b + "/out"])],
    "createContainer": [h("createContainer")],
    "startContainer": [{"path": "/hook.sh", "args": ["/hook.sh", "startContainer", "/out"], "env": ["HOOKVAR=startContainer"]}],
    "poststart": [h("poststart")],
    "poststop": [{"path": os.environ["HOOK"], "args": ["hook", "poststop", b + "/out"]}]}')
O=$B/out
ID=$P-all
ok_if "create with hooks at every point" runc create --bundle "$B" --pid-file "$SCRATCH/all.pid" "$ID"
PID=$(cat "$SCRATCH/all.pid")
expect_eq "create ran prestart (both, in order), createRuntime, createContainer" \
    "prestart prestart2 createRuntime createContainer" "$(tr '\n' ' ' <"$O/order" | sed 's/ $//')"
for p in prestart prestart2 createRuntime createContainer; do
    expect_eq "$p: stdin is the state, status creating, the init's host PID, id, bundle, annotations" \
        "creating $PID $ID $B yes" \
        "$(json "$(cat "$O/$p.json")" 'j["status"], j["pid"], j["id"], j["bundle"], j["annotations"]["org.berth.hooks"]' | tr -d "(),'")"
done
expect_eq "createRuntime runs in the runtime's mount namespace" "$HOST_MNT" "$(cat "$O/createRuntime.mnt")"
expect_eq "createContainer runs in the container's mount namespace" "$(readlink "/proc/$PID/ns/mnt")" "$(cat "$O/createContainer.mnt")"
expect_eq "createContainer runs in the container's PID namespace" "$(readlink "/proc/$PID/ns/pid")" "$(cat "$O/createContainer.pidns")"
expect_eq "createContainer runs in the container's network namespace" "$(readlink "/proc/$PID/ns/net")" "$(cat "$O/createContainer.net")"
expect_eq "createRuntime runs in the runtime's network namespace" "$(readlink /proc/self/ns/net)" "$(cat "$O/createRuntime.net")"
expect_eq "createContainer's working directory is the rootfs (as runc's)" "$B/rootfs" "$(cat "$O/createContainer.cwd")"
expect_eq "a hook's env is its own, exactly" "createRuntime unset" "$(cat "$O/createRuntime.env")"
expect_eq "args[0] is the hook's argv[0]" "hook-argv0 $HOOK createRuntime $O " "$(cat "$O/createRuntime.argv")"
STATE_CREATED=$(runc state "$ID")
ok_if "start" runc start "$ID"
expect_eq "start ran startContainer, then poststart" \
    "prestart prestart2 createRuntime createContainer startContainer poststart" "$(tr '\n' ' ' <"$O/order" | sed 's/ $//')"
expect_eq "startContainer's stdin is what state printed before start (status created)" "$STATE_CREATED" "$(cat "$O/startContainer.json")"
expect_eq "startContainer runs inside the container's mount namespace" "$(readlink "/proc/$PID/ns/mnt")" "$(cat "$O/startContainer.mnt")"
expect_eq "startContainer has its env" "startContainer unset" "$(cat "$O/startContainer.env")"
expect_eq "poststart: status running, the init's PID" "running $PID" "$(json "$(cat "$O/poststart.json")" 'j["status"], j["pid"]' | tr -d "(),'")"
expect_eq "poststart runs in the runtime's mount namespace" "$HOST_MNT" "$(cat "$O/poststart.mnt")"
expect_eq "the program runs after poststart" "sleep 1000" "$(tr '\0' ' ' <"/proc/$PID/cmdline" | sed 's/ $//')"
expect_eq "state: running" "running" "$(json "$(runc state "$ID")" 'j["status"]')"
ok_if "kill" runc kill "$ID" KILL
for i in $(seq 1 100); do [ "$(json "$(runc state "$ID")" 'j["status"]')" = stopped ] && break; sleep 0.05; done
# a process of its own, with nothing of create's: the hooks come from the state directory
ok_if "delete from a separate process" setsid "$BERTH_RUNC" --root "$ROOT" delete "$ID"
expect_eq "delete ran poststop last" "startContainer poststart poststop" "$(tail -n3 "$O/order" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "poststop: status stopped, id" "stopped $ID" "$(json "$(cat "$O/poststop.json")" 'j["status"], j["id"]' | tr -d "(),'")"
expect_eq "poststop without env inherits the runtime's environment" "unset inherited" "$(cat "$O/poststop.env")"
nothing_left "$ID" "$PID" "after delete"

# ---- startContainer under a profile that answers clone3() with ENOSYS (Docker's default)
B=$(bundle clone3 '["true"]' '{"startContainer": [{"path": "/hook.sh", "args": ["/hook.sh", "startContainer", "/out"]}]}')
"$PYTHON" - "$B/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                         "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
json.dump(c, open(sys.argv[1], "w"))
PY
ok_if "run with a startContainer hook under a profile denying clone3" runc run --bundle "$B" "$P-clone3"
expect_eq "the startContainer hook ran all the same" "startContainer" "$(cat "$B/out/order")"

# ---- a timeout kills the hook, create fails, nothing left (poststop still runs)
B=$(bundle timeout '["true"]' '{
    "createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "cat >" + b + "/out/t.json; echo $$ >" + b + "/out/t.pid; exec sleep 100"], "timeout": 1}],
    "poststop": [h("poststop")]}')
ID=$P-timeout
T0=$(date +%s)
expect_fail "a hook past its timeout fails create, naming the point and index" \
    'error running createRuntime hook #0 .*timeout of 1s' runc create --bundle "$B" "$ID"
expect_eq "create gave up after the timeout, not the hook's 100s" "yes" "$([ $(($(date +%s) - T0)) -lt 10 ] && echo yes)"
HPID=$(cat "$B/out/t.pid")
expect_eq "the timed-out hook was killed" "gone" "$([ -e "/proc/$HPID" ] && [ "$(awk '{print $3}' "/proc/$HPID/stat")" != Z ] || echo gone)"
nothing_left "$ID" "$(json "$(cat "$B/out/t.json")" 'j["pid"]')" "after a timeout"
expect_eq "poststop ran after the failed create (runc's destroy)" "poststop" "$(cat "$B/out/order")"

# ---- a failing hook at each point
for p in prestart createRuntime createContainer; do
    B=$(bundle "fail-$p" '["true"]' "{\"$p\": [h(\"$p\"), {\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"cat >$SCRATCH/fail-$p.json; echo oops >&2; exit 3\"]}, h(\"never\")]}")
    ID=$P-fail-$p
    expect_fail "a failing $p hook fails create with one message naming it" \
        "error running $p hook #1 \(/bin/sh\): exit status 3: oops" runc create --bundle "$B" "$ID"
    expect_eq "$p: the hooks before it ran, none after" "$p" "$(cat "$B/out/order")"
    nothing_left "$ID" "$(json "$(cat "$SCRATCH/fail-$p.json")" 'j["pid"]')" "after a failing $p hook"
done

B=$(bundle fail-startContainer '["sh", "-c", "echo ran >/out/program"]' '{
    "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat >/out/s.json; echo inside-oops >&2; exit 4"]}],
    "poststop": [h("poststop")]}')
ID=$P-fail-startContainer
ok_if "create with a failing startContainer hook succeeds" runc create --bundle "$B" --pid-file "$SCRATCH/fs.pid" "$ID"
expect_fail "start fails with the startContainer hook's error" \
    'error running startContainer hook #0 \(/bin/sh\): exit status 4: inside-oops' runc start "$ID"
expect_eq "the program never ran" "absent" "$([ -e "$B/out/program" ] && echo present || echo absent)"
expect_eq "startContainer's stdin: status created" "created" "$(json "$(cat "$B/out/s.json")" 'j["status"]')"
nothing_left "$ID" "$(cat "$SCRATCH/fs.pid")" "after a failing startContainer hook"
expect_eq "poststop ran after the failed start" "poststop" "$(cat "$B/out/order")"
expect_fail "the container is gone" 'does not exist' runc state "$ID"

B=$(bundle fail-poststart '["sleep", "1000"]' '{"poststart": [{"path": "/bin/false"}, h("poststart")], "poststop": [h("poststop")]}')
ID=$P-fail-poststart
ok_if "create with a failing poststart hook succeeds" runc create --bundle "$B" --pid-file "$SCRATCH/fp.pid" "$ID"
expect_fail "start fails with the poststart hook's error (as runc's)" 'error running poststart hook #0 \(/bin/false\): exit status 1' runc start "$ID"
nothing_left "$ID" "$(cat "$SCRATCH/fp.pid")" "after a failing poststart hook (killed, as runc does)"
expect_eq "the hooks after the failing one did not run; poststop did" "poststop" "$(cat "$B/out/order")"

B=$(bundle fail-poststop '["true"]' '{"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 5"]}, h("poststop")]}')
ID=$P-fail-poststop
ok_if "run with a failing poststop hook" runc run --bundle "$B" "$ID"
expect_eq "the remaining poststop hooks ran" "poststop" "$(cat "$B/out/order")"
ok_if "create again" runc create --bundle "$B" "$ID"
ok_if "start" runc start "$ID"
OUTPUT=$(runc delete --force "$ID" 2>&1; echo "rc=$?")
expect_match "a failing poststop hook is a warning naming it" 'error running poststop hook #0 \(/bin/sh\): exit status 5'
expect_match "delete still succeeds" '^rc=0$'
nothing_left "$ID" "" "after a failing poststop hook"

# ---- bad hooks are refused at create, by field
B=$(bundle bad '["true"]' '{"prestart": [{"path": "relative/hook"}]}')
expect_fail "a relative hook path is refused" 'hooks.prestart\[0\].path: .* is not an absolute path' runc create --bundle "$B" "$P-bad"
B=$(bundle bad2 '["true"]' '{"poststop": [{"path": "/bin/true", "timeout": 0}]}')
expect_fail "a timeout of 0 is refused" 'hooks.poststop\[0\].timeout: must be greater than zero' runc create --bundle "$B" "$P-bad2"
B=$(bundle bad3 '["true"]' '{"prestop": [{"path": "/bin/true"}]}')
expect_fail "an unknown hook point is refused" 'hooks.prestop: not supported' runc create --bundle "$B" "$P-bad3"
B=$(bundle bad4 '["true"]' '{"prestart": [{"path": "/nonexistent/hook"}]}')
expect_fail "a hook that does not exist fails create, saying so" \
    'error running prestart hook #0 \(/nonexistent/hook\): exit status 127: cannot execute /nonexistent/hook: No such file' runc create --bundle "$B" "$P-bad4"

# ---- berth-spawn --oci-bundle says it does not run them
B=$(bundle spawn '["true"]' '{"poststop": [h("poststop")]}')
expect_fail "berth-spawn --oci-bundle refuses hooks by name" 'hooks.poststop: not supported by berth-spawn --oci-bundle' \
    "$BERTH_SPAWN" --oci-bundle="$B" -q

expect_eq "the state directory is empty" "" "$(ls -A "$ROOT" 2>&1)"
