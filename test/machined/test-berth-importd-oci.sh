#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# OCI images through berth-importd: a docker-registry on 127.0.0.1 of a network namespace
# of this test (config and storage in the scratch directory), images this test builds
# from the busybox tree (make-oci-image.py) and pushes with skopeo; nothing from the
# internet. pull-oci of a multi-layer image with whiteouts and an opaque directory,
# through an anonymous bearer token, of a manifest list with two architectures, of a
# tampered blob (refused, nothing left); import-oci of an OCI layout directory, its tar
# archive and a docker save archive; the pulled image runs under berth-spawn -M and
# prints what its entrypoint prints; a second image on the same base layers takes only
# its own layer's disk space.

if [ -z "${BERTH_IMPORTD_NS:-}" ] && [ "$(id -u)" = 0 ]; then
    export BERTH_IMPORTD_NS=1
    exec unshare --mount --propagation private --net -- "$BASH" "$0" "$@"
fi

source "$(dirname "$0")/lib.sh"
POLICY=$MD_SRCDIR/units/org.freedesktop.import1.conf
: "${BERTH_IMPORTD:=$MD_SRCDIR/build/src/importd/berth-importd}"
: "${BERTH_IMPORT:=$MD_SRCDIR/build/src/import/berth-import}"
: "${BERTH_SPAWN:=$MD_SRCDIR/build/src/spawn/berth-spawn}"
setup
for tool in python3 docker-registry skopeo; do
    command -v $tool >/dev/null || skip_all "no $tool (tools/install-deps.sh installs it)"
done
ip link set lo up || skip_all "cannot bring up lo in the test's network namespace"
btrfs_pool
chmod 700 "$POOL"
"$MD_SRCDIR/tools/make-busybox-tree.sh" "$TMP/base" >/dev/null || skip_all "no busybox tree"

IDEST=org.freedesktop.import1
IPATH=/org/freedesktop/import1
IMPORTD_PID=
AUTH_PID=
REG=127.0.0.1:5000

finish_extra() {
    [ -n "$IMPORTD_PID" ] && { kill "$IMPORTD_PID"; wait "$IMPORTD_PID" 2>/dev/null; }
    oci_registry_stop
    [ -n "$AUTH_PID" ] && { kill "$AUTH_PID"; wait "$AUTH_PID" 2>/dev/null; }
    mountpoint -q /var/lib/machines && umount /var/lib/machines
    pgrep -f -- "--name-lock-dir=$TMP/locks" >/dev/null && leaks+=" worker"
    [ "$_tap_failed" -gt 0 ] && { echo "# importd log:"; sed 's/^/# /' "$TMP/importd.log" | tail -40;
                                  echo "# registry log:"; sed 's/^/# /' "$TMP/registry.log" | tail -10; }
    return 0
}
emergency_extra() {
    for p in $IMPORTD_PID ${OCI_REGISTRY_PID:-} $AUTH_PID; do kill "$p" 2>/dev/null; done
}

bctl() { "$BERTHCTL" --no-pager -q "$@"; }

# result_for KEY FROM-LINE: how the last transfer of KEY (local name, or the reference of
# a pull) ended, in the daemon's log from line FROM-LINE on
result_for() {
    tail -n +"$2" "$TMP/importd.log" | grep -F " $1) " | sed -n 's/^Transfer [0-9]* (.*) \(done\|failed\|canceled\)\.$/\1/p' | tail -1
}

# run_verb VERB ARGS... KEY: berthctl VERB ARGS..., then how the transfer of KEY ended
run_verb() {
    local key=${*: -1} from
    from=$(($(wc -l <"$TMP/importd.log") + 1))
    bctl "${@:1:$#-1}" >>"$TMP/bctl.log" 2>&1
    result_for "$key" "$from"
}
# pull REF NAME: berthctl pull-oci REF NAME, how it ended
pull() { run_verb pull-oci "$1" "$2" "$1"; }

no_leftovers() {
    [ -z "$(find "$POOL" -maxdepth 1 \( -name '.#*' -o -name '.oci-src-*' \) -print -quit)" ]
}
layer_count() { find "$POOL" -maxdepth 1 -name '.oci-*' | wc -l; }
# data_used: bytes of data in the pool's file system, after a commit
data_used() {
    btrfs filesystem sync "$POOL" >/dev/null
    btrfs filesystem usage -b "$POOL" 2>/dev/null | sed -n 's/^Data,[^:]*: *Size:[0-9]*, *Used:\([0-9]*\).*/\1/p'
}

# --- images, made here: a base of busybox, layers with whiteouts and an opaque directory
mkdir -p "$TMP/l2/etc" "$TMP/l2/data/old" "$TMP/l3/etc" "$TMP/l3/data" "$TMP/l4/srv" "$TMP/l5/srv"
echo gone >"$TMP/l2/etc/greeting"; echo lower >"$TMP/l2/data/old/a"; echo kept >"$TMP/l2/data/kept-not"
touch "$TMP/l3/etc/.wh.greeting" "$TMP/l3/data/.wh..wh..opq"; echo upper >"$TMP/l3/data/b"
head -c 200K /dev/urandom >"$TMP/l4/srv/own"; head -c 100K /dev/urandom >"$TMP/l5/srv/tampered"
spec() {    # spec NAME TAG FORMAT ARCH-LAYERS-MESSAGE...
    local name=$1 tag=$2 fmt=$3 sep="" images=""
    shift 3
    for i in "$@"; do
        IFS=: read -r arch layers msg <<<"$i"
        local l="" s=""
        for d in $layers; do l+="$s\"$TMP/$d\""; s=,; done
        images+="$sep{\"arch\":\"$arch\",\"layers\":[$l],\"config\":{\"Entrypoint\":[\"/bin/sh\",\"-c\"],"
        images+="\"Cmd\":[\"echo $msg \$GREETING in \$(pwd) \$(ls /data) \$(ls /etc)\"],"
        images+="\"Env\":[\"GREETING=hello-oci\",\"PATH=/usr/bin:/bin\"],\"WorkingDir\":\"/data\","
        images+="\"ExposedPorts\":{\"8080/tcp\":{}}}}"
        sep=,
    done
    echo "{\"tag\":\"$tag\",\"format\":\"$fmt\",\"images\":[$images]}" >"$TMP/$name.json"
    python3 "$MD_SRCDIR/test/machined/make-oci-image.py" "$TMP/$name.json" "$TMP/$name"
}
spec multi v1 oci "amd64:base l2 l3:multi" || fail "make the multi-layer image"
spec share v1 oci "amd64:base l4:share" || fail "make the sharing image"
spec arch v1 oci "amd64:base l2:is-amd64" "arm64:base l3:is-arm64" || fail "make the manifest list"
spec bad v1 oci "amd64:base l5:bad" || fail "make the image to tamper with"
spec dsave v1 docker-save "amd64:base l2 l3:docker" || fail "make the docker save archive"
tar -C "$TMP/multi" -cf "$TMP/multi-layout.tar" . || fail "archive the OCI layout"
HOSTARCH=$(case $(uname -m) in x86_64) echo amd64;; aarch64) echo arm64;; *) uname -m;; esac)

# --- the registry, and a token front end (anonymous bearer tokens, as public registries)
# shellcheck source=../../tools/oci-registry.sh
source "$MD_SRCDIR/tools/oci-registry.sh"
oci_registry_start "$TMP" "$REG" || { fail "docker-registry answers"; finish; }
python3 - "$REG" >"$TMP/auth.log" 2>&1 <<'PY' &
import http.server, sys, urllib.request, urllib.error
upstream = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/token?"):
            body = b'{"token":"t0ken-for-berth"}'
            self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
            self.wfile.write(body); return
        if self.headers.get("Authorization") != "Bearer t0ken-for-berth":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:5001/token",service="test",scope="repository:test/multi:pull"')
            self.send_header("Content-Length", "0"); self.end_headers(); return
        req = urllib.request.Request("http://" + upstream + self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
        try:
            r = urllib.request.urlopen(req)
        except urllib.error.HTTPError as e:
            r = e
        body = r.read()
        self.send_response(r.status)
        for h in ("Content-Type", "Docker-Content-Digest"):
            if r.headers.get(h): self.send_header(h, r.headers[h])
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", 5001), H).serve_forever()
PY
AUTH_PID=$!
wait_until 10 bash -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5001/v2/ | grep -q 401" ||
    fail "token front end answers"

echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$TMP/policy.json"
push() {    # push LAYOUT REPO
    skopeo --policy "$TMP/policy.json" copy -q --all --dest-tls-verify=false "oci:$TMP/$1:v1" "docker://$REG/$2:v1" \
        >>"$TMP/skopeo.log" 2>&1
}
for i in multi share arch bad; do
    ok_if "skopeo pushes the $i image to the registry on loopback" push "$i" "test/$i"
done

"$BERTH_IMPORTD" --state-dir="$TMP/istate" --pool="$POOL" --name-lock-dir="$TMP/locks" \
    --worker="$BERTH_IMPORT" >>"$TMP/importd.log" 2>&1 &
IMPORTD_PID=$!
wait_until 5 busctl status $IDEST >/dev/null || { fail "berth-importd starts"; finish; }
ok_if "io.berth.Import1 is on the manager object" bash -c "busctl introspect $IDEST $IPATH io.berth.Import1 | grep -q PullOci"

# --- pull-oci: multi-layer image, whiteouts, opaque directory, settings
used0=$(data_used)
expect_eq "pull-oci of a three-layer image: done" done "$(pull "$REG/test/multi:v1" oci-multi)"
I=$POOL/oci-multi
ok_if "  ... the image is a btrfs subvolume" btrfs subvolume show "$I"
ok_if "  ... busybox from the base layer" test -x "$I/usr/bin/busybox"
ok_if "  ... .wh.greeting removed the lower layer's file" test ! -e "$I/etc/greeting"
ok_if "  ... no whiteout file left in the tree" test -z "$(find "$I" -name '.wh.*' -print -quit)"
ok_if "  ... the opaque directory lost the lower layers' entries" test ! -e "$I/data/old" -a ! -e "$I/data/kept-not"
expect_eq "  ... and kept its own" upper "$(cat "$I/data/b" 2>/dev/null)"
expect_eq "  ... three layer stacks kept, hidden and read-only" "3 true" \
    "$(layer_count) $(btrfs property get "$(find "$POOL" -maxdepth 1 -name '.oci-*' | head -1)" ro | cut -d= -f2)"
S=$POOL/oci-multi.nspawn
expect_match "  ... settings: the entrypoint and command as Parameters=" \
    '^Parameters= "/bin/sh" "-c" "echo multi \$GREETING' "$(cat "$S")"
expect_match "  ... settings: Boot=no, Env, WorkingDir" "Boot=no.*Environment= \"GREETING=hello-oci\".*WorkingDirectory=/data" \
    "$(tr '\n' ' ' <"$S")"
expect_match "  ... settings: exposed ports as a comment" "^# 8080/tcp" "$(cat "$S")"

# --- it runs as its author meant: berth-spawn -M NAME from the pool, settings included
mkdir -p /var/lib/machines && mount --bind "$POOL" /var/lib/machines
out=$(timeout 60 "$BERTH_SPAWN" -q -M oci-multi </dev/null 2>"$TMP/spawn.err" | tr -d '\r')
expect_match "berth-spawn -M runs the entrypoint with Env and WorkingDir" "^multi hello-oci in /data" "$out"
expect_match "  ... in the merged tree (b only in /data; no greeting in /etc)" "^multi hello-oci in /data b group" "$out"
umount /var/lib/machines

# --- a second image on the same base: only its own layer is fetched and stored
used1=$(data_used)
expect_eq "pull-oci of an image sharing the base layer: done" done "$(pull "$REG/test/share:v1" oci-share)"
expect_match "  ... the base layer was not fetched again" "1 of 2 layers are already in the pool" "$(cat "$TMP/importd.log")"
used2=$(data_used)
bb=$(stat -Lc %s "$TMP/base/usr/bin/busybox")
diag "data used: first image $((used1 - used0)) bytes, second (own layer 200K) $((used2 - used1)) bytes; busybox is $bb bytes"
ok_if "  ... the first image cost at least its busybox" test "$((used1 - used0))" -ge "$bb"
ok_if "  ... the second costs about its own layer: >= 200K, < half the busybox" \
    test "$((used2 - used1))" -ge 204800 -a "$((used2 - used1))" -lt "$((bb / 2))"
expect_eq "  ... the 200K of its own layer are there" 204800 "$(stat -c %s "$POOL/oci-share/srv/own")"

# --- bearer token auth, and a manifest list resolved to this host's architecture
expect_eq "pull-oci through an anonymous bearer token: done" done \
    "$(pull 127.0.0.1:5001/test/multi:v1 oci-token)"
ok_if "  ... same tree as without" test -e "$POOL/oci-token/data/b" -a ! -e "$POOL/oci-token/etc/greeting"
expect_eq "pull-oci of a manifest list (amd64, arm64): done" done "$(pull "$REG/test/arch:v1" oci-arch)"
expect_match "  ... the $HOSTARCH image was chosen" "echo is-$HOSTARCH " "$(cat "$POOL/oci-arch.nspawn")"
digest=$(skopeo --policy "$TMP/policy.json" inspect --raw --tls-verify=false "docker://$REG/test/multi:v1" | sha256sum | cut -d' ' -f1)
expect_eq "pull-oci by @sha256 digest: done" done "$(pull "$REG/test/multi@sha256:$digest" oci-digest)"
expect_eq "pull-oci by a wrong digest fails" failed \
    "$(pull "$REG/test/multi@sha256:$(printf '%064d' 0)" oci-nodigest)"

# --- a tampered blob: refused, nothing left under any name
layers_before=$(layer_count)
own=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["layers"][-1]["digest"][7:])' \
    "$TMP/bad/blobs/sha256/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"][7:])' "$TMP/bad/index.json")")
blob=$TMP/registry/docker/registry/v2/blobs/sha256/${own:0:2}/$own/data
ok_if "the registry holds the layer to tamper with" test -f "$blob"
# (byte 100 inverted: writing a fixed byte would change nothing where it is that byte already)
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(100); b = f.read(1)[0]; f.seek(100); f.write(bytes([b ^ 0xff]))' "$blob"
expect_eq "pull-oci of an image with a tampered layer fails" failed "$(pull "$REG/test/bad:v1" oci-bad)"
expect_match "  ... because of its digest" "does not match sha256:$own" "$(cat "$TMP/importd.log")"
ok_if "  ... no image, no settings" test ! -e "$POOL/oci-bad" -a ! -e "$POOL/oci-bad.nspawn"
expect_eq "  ... no new layer stack" "$layers_before" "$(layer_count)"
ok_if "  ... no temporaries" no_leftovers

# --- import-oci: an OCI layout directory, its tar archive, a docker save archive
expect_eq "import-oci of an OCI layout directory: done" done "$(run_verb import-oci "$TMP/multi" oci-dir oci-dir)"
ok_if "  ... same tree as the pull (not yet run)" bash -c "diff -r --no-dereference '$POOL/oci-token' '$POOL/oci-dir' >/dev/null"
expect_eq "import-oci of an OCI layout archive: done" done "$(run_verb import-oci "$TMP/multi-layout.tar" oci-tar oci-tar)"
ok_if "  ... same tree" bash -c "diff -r --no-dereference '$POOL/oci-token' '$POOL/oci-tar' >/dev/null"
expect_eq "import-oci of a docker save archive: done" done "$(run_verb import-oci "$TMP/dsave" oci-docker oci-docker)"
ok_if "  ... whiteouts applied there too" test -e "$POOL/oci-docker/data/b" -a ! -e "$POOL/oci-docker/etc/greeting"
expect_match "  ... its settings" "echo docker " "$(cat "$POOL/oci-docker.nspawn")"
cp -a "$TMP/multi" "$TMP/multi-bad"
man=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"][7:])' "$TMP/multi/index.json")
echo corrupt >>"$TMP/multi-bad/blobs/sha256/$man"
expect_eq "import-oci of a layout with a corrupt blob fails" failed "$(run_verb import-oci "$TMP/multi-bad" oci-corrupt oci-corrupt)"
ok_if "  ... nothing under the name" test ! -e "$POOL/oci-corrupt"
ok_if "  ... no temporaries" no_leftovers
expect_eq "an existing name is refused without --force" failed "$(run_verb import-oci "$TMP/multi" oci-dir oci-dir)"
expect_eq "  ... and replaced with it" done "$(run_verb import-oci --force "$TMP/multi" oci-dir oci-dir)"

# --- a pool off btrfs: plain directories, no layer stacks
mkdir -m 700 "$TMP/plain"
if [ "$(stat -fc %T "$TMP/plain")" != btrfs ]; then
    ok_if "berth-import oci into a non-btrfs pool" "$BERTH_IMPORT" --pool="$TMP/plain" oci plain <"$TMP/multi" 2>>"$TMP/importd.log"
    ok_if "  ... a plain directory with the whiteouts applied, no layer stacks" \
        bash -c "test -d '$TMP/plain/plain/usr' -a -e '$TMP/plain/plain/data/b' -a ! -e '$TMP/plain/plain/etc/greeting' -a \
                 -z \"\$(ls -A '$TMP/plain' | grep -v '^plain')\""
    # the progress over the whole image (berth-importd's Progress): rising, ending at 100
    python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); s.settimeout(2); v = []
try:
    while True:
        v += [l.split("=")[1] for l in s.recv(4096).decode().split("\n") if l.startswith("X_IMPORT_PROGRESS=")]
except socket.timeout:
    print(" ".join(v))' "$TMP/notify.sock" >"$TMP/progress" &
    wait_until 5 test -S "$TMP/notify.sock"
    NOTIFY_SOCKET=$TMP/notify.sock "$BERTH_IMPORT" --pool="$TMP/plain" oci plain2 <"$TMP/dsave" 2>>"$TMP/importd.log"
    wait $!
    diag "progress of a docker save import: $(cat "$TMP/progress")"
    ok_if "  ... its progress rises to 100 over the whole image" \
        bash -c "p=(\$(cat '$TMP/progress')); [ \${#p[@]} -ge 2 ] && [ \${p[-1]} = 100 ] && [ \"\$(printf '%s\n' \${p[@]} | sort -n | tr '\n' ' ')\" = \"\${p[*]} \" ]"
else
    skip "the scratch directory is on btrfs; no non-btrfs pool to try"
fi

# --- nothing stays running or mounted
ok_if "no transfers left" bash -c "busctl call $IDEST $IPATH org.freedesktop.import1.Manager ListTransfers | grep -q '^a(usssdo) 0'"
finish
