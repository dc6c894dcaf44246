#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# berth-runc with user namespaces as runc 1.1 has them: linux.uidMappings/gidMappings as
# given (several lines, UID and GID maps that differ, the host's root unmapped so that the
# rootfs shows as nobody), seen from inside (/proc/self/uid_map, id) and from the host
# (the init's IDs, the owner of a file it made), exec joining the namespace; idmapped
# bind mounts of runtime-spec's mountExtensions (the mount's own maps, idmap vs ridmap,
# idmap alone taking the container's maps) with the owners seen inside and the owners on
# disk of what is made through them; the combinations runc refuses, each leaving nothing
# behind; berth-spawn --oci-bundle with the same maps.
. "$(dirname "$0")/lib.sh"
setup
. "$(dirname "$0")/runc-lib.sh"

TREE=$(new_tree tree)

# the maps of most containers here: two UID lines, one GID line of another size and base
USERNS='
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 2000}, {"containerID": 2000, "hostID": 200000, "size": 10}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 300000, "size": 3000}]'

# maps FILE: a uid_map/gid_map as "inside outside count" lines joined by ";"
maps() {
    awk '{print $1, $2, $3}' "$1" 2>&1 | paste -sd';' 
}

# owner PATH: "UID GID" on the host
owner() {
    stat -c '%u %g' "$1" 2>&1
}

# nothing_left ID: no state directory, no cgroup of the container
nothing_left() {
    [ ! -e "$ROOT/$1" ] && [ -z "$(find /sys/fs/cgroup -name "*$1*" 2>/dev/null)" ]
}

# ---- features
OUTPUT=$("$BERTH_RUNC" features)
expect_eq "features: the user namespace, idmapped mounts and their options" "True True True True" \
    "$(json "$OUTPUT" '" ".join(str(x) for x in ("user" in j["linux"]["namespaces"], j["linux"]["mountExtensions"]["idmap"]["enabled"], "idmap" in j["mountOptions"], "ridmap" in j["mountOptions"]))')"

# ---- the config's maps, root of the container mapped, the host's root not
B=$(bundle maps '["sh", "-c", "cat /proc/self/uid_map >/out/uid_map; cat /proc/self/gid_map >/out/gid_map; cat /proc/self/setgroups >/out/setgroups; id >/out/id; stat -c \"%u %g\" / /bin/busybox >/out/rootfs; cat /proc/self/mountinfo >/out/mountinfo; touch /out/made; exec sleep 1000"]' "$USERNS")
ID=$P-maps
ok_if "create with linux.uidMappings and gidMappings" runc create --bundle "$B" "$ID"
CPID=$(json "$(runc state "$ID")" 'j["pid"]')
ok_if "start it" runc start "$ID"
for i in $(seq 1 100); do [ -e "$B/out/made" ] && break; sleep 0.05; done
expect_eq "inside: uid_map has the config's lines" "0 100000 2000;2000 200000 10" "$(maps "$B/out/uid_map")"
expect_eq "inside: gid_map has the config's line, another base and size" "0 300000 3000" "$(maps "$B/out/gid_map")"
expect_eq "setgroups is left allowed, as runc (a privileged parent)" "allow" "$(cat "$B/out/setgroups" 2>&1)"
expect_match "inside: id says root" '^uid=0\(root\) gid=0\(root\)' "$(cat "$B/out/id" 2>&1)"
expect_eq "on the host: the init runs as the mapped UID and GID" "100000 300000" \
    "$(awk '/^Uid:/ {u=$2} /^Gid:/ {g=$2} END {print u, g}' "/proc/$CPID/status")"
expect_eq "the rootfs is not chowned: the host's root shows as nobody inside" "65534 65534;65534 65534" \
    "$(paste -sd';' "$B/out/rootfs")"
expect_eq "the rootfs on disk is untouched" "0 0" "$(owner "$B/rootfs/bin/busybox")"
# (the container's mount namespace is a copy made in its user namespace: still in order)
order=$(awk '!seen[$5]++ {print $5}' "$B/out/mountinfo" 2>/dev/null | grep -xE '/proc|/dev|/dev/pts|/sys|/out' | tr '\n' ' ')
expect_eq "the config's mounts are listed in its order (/proc before /dev)" "/proc /dev /dev/pts /sys /out " "$order"
expect_eq "a file the container's root makes belongs to the mapped IDs on the host" "100000 300000" "$(owner "$B/out/made")"
CNS=$(readlink "/proc/$CPID/ns/user" 2>/dev/null)
ok_if "the container has a user namespace of its own" test -n "$CNS" -a "$CNS" != "$(readlink /proc/self/ns/user)"
OUTPUT=$(runc exec "$ID" sh -c 'echo $(id -u) $(id -g); cat /proc/self/uid_map' 2>&1)
expect_match "exec joins the user namespace: root inside" '^0 0$'
expect_match "exec sees the container's uid_map" '^ +2000 +200000 +10$'
cat >"$SCRATCH/process.json" <<'EOF'
{ "terminal": false, "user": { "uid": 2005, "gid": 5 }, "cwd": "/",
  "args": ["sh", "-c", "id -u; id -g; touch /out/by-2005"], "env": ["PATH=/bin:/usr/bin"] }
EOF
OUTPUT=$(runc exec --process "$SCRATCH/process.json" "$ID" 2>&1)
expect_eq "exec as a user of the second UID line" "2005 5" "$(echo $OUTPUT)"
expect_eq "its file belongs to the host IDs of that line" "200005 300005" "$(owner "$B/out/by-2005")"
ok_if "delete --force" runc delete --force "$ID"
ok_if "nothing of it is left" nothing_left "$ID"

# ---- process.user of another line; the tty group and /dev through the maps
B=$(bundle user '["sh", "-c", "id -u >/out/ids; id -g >>/out/ids; stat -c \"%u %g\" /dev/null /dev/shm /dev/tty >>/out/ids"]' "$USERNS"'
c["process"]["user"] = {"uid": 2003, "gid": 2003}
c["mounts"].append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["mode=1777"]})')
ok_if "run as UID 2003 of the second line" runc run --bundle "$B" "$P-user"
expect_eq "the process's IDs; /dev, /dev/shm are the container's root's, /dev/tty group tty" "2003;2003;0 0;0 0;0 5" \
    "$(paste -sd';' "$B/out/ids")"

# ---- idmapped bind mounts: on disk 0 and 1000 (and 500), a tmpfs below for ridmap
SRC=$SCRATCH/idsrc
mkdir -p "$SRC/sub" "$SRC/open"
touch "$SRC/root-file" "$SRC/user-file" "$SRC/file-500"
chown 1000:1000 "$SRC/user-file"
chown 500:500 "$SRC/file-500"
chmod 1777 "$SRC/open"
mount -t tmpfs -o mode=0755 idsub "$SRC/sub"
touch "$SRC/sub/sub-file"
# the mount maps what is on disk onto the container's own host IDs: 0..1999 as the
# container's 0..1999
MNT_MAPS='"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 2000}], "gidMappings": [{"containerID": 0, "hostID": 300000, "size": 2000}]'
B=$(bundle idmap '["sh", "-c", "stat -c \"%n %u %g\" /data/root-file /data/user-file /data/sub/sub-file /rdata/sub/sub-file >/out/owners; touch /data/new /data/open/new; chown 1000:1000 /data/open/new; chown 1000:1000 /data/user-file 2>/out/chown-err; echo rc=$? >>/out/chown-err"]' "$USERNS"'
caps.append("CAP_CHOWN")      # (one list for every set)
c["mounts"].append({"destination": "/data", "type": "bind", "source": "'"$SRC"'", "options": ["rbind", "idmap"], '"$MNT_MAPS"'})
c["mounts"].append({"destination": "/rdata", "type": "bind", "source": "'"$SRC"'", "options": ["rbind", "ridmap"], '"$MNT_MAPS"'})')
ok_if "run with an idmapped (idmap) and a recursively idmapped (ridmap) rbind" runc run --bundle "$B" "$P-idmap"
OUTPUT=$(cat "$B/out/owners" 2>&1)
expect_match "idmapped: a file of disk UID 0 is the container's root" '^/data/root-file 0 0$'
expect_match "idmapped: a file of disk UID 1000 is the container's 1000" '^/data/user-file 1000 1000$'
expect_match "idmap: the tmpfs below the rbind is not mapped (nobody)" '^/data/sub/sub-file 65534 65534$'
expect_match "ridmap: the tmpfs below the rbind is mapped too" '^/rdata/sub/sub-file 0 0$'
expect_eq "a file the container's root makes through it is disk UID 0" "0 0" "$(owner "$SRC/new")"
expect_eq "chown to the container's 1000 through it lands as disk 1000" "1000 1000" "$(owner "$SRC/open/new")"
expect_eq "chown of a mapped file works through it" "rc=0" "$(tail -n1 "$B/out/chown-err")"

# the mount's own map, not the container's: disk 500 is the container's root
B=$(bundle idmap500 '["sh", "-c", "stat -c \"%n %u %g\" /data/file-500 /data/root-file >/out/owners"]' "$USERNS"'
c["mounts"].append({"destination": "/data", "type": "bind", "source": "'"$SRC"'", "options": ["bind"], "uidMappings": [{"containerID": 500, "hostID": 100000, "size": 1}], "gidMappings": [{"containerID": 500, "hostID": 300000, "size": 1}]})')
ok_if "run with a mount whose maps differ from the container's (no idmap option: the maps say it)" runc run --bundle "$B" "$P-idmap500"
OUTPUT=$(cat "$B/out/owners" 2>&1)
expect_match "the mount's map: disk 500 is the container's root" '^/data/file-500 0 0$'
expect_match "the mount's map: disk 0 is outside it (nobody)" '^/data/root-file 65534 65534$'

# idmap alone: the container's maps (disk 0 -> host 100000 -> the container's 0)
B=$(bundle idmapown '["sh", "-c", "stat -c \"%n %u %g\" /data/root-file /data/user-file >/out/owners"]' "$USERNS"'
c["mounts"].append({"destination": "/data", "type": "bind", "source": "'"$SRC"'", "options": ["bind", "idmap"]})')
ok_if "run with idmap and no mappings of the mount's own" runc run --bundle "$B" "$P-idmapown"
OUTPUT=$(cat "$B/out/owners" 2>&1)
expect_match "idmap alone takes the container's maps: disk 0 is root" '^/data/root-file 0 0$'
expect_match "idmap alone takes the container's maps: disk 1000 is 1000" '^/data/user-file 1000 1000$'
umount "$SRC/sub"

# ---- what runc refuses: one line naming the cause, nothing left
# bad NAME PATTERN PYTHON: create fails with one line matching PATTERN and leaves nothing
# (stderr goes to a file: a container created after all would hold a pipe open)
bad() {
    local b id=$P-$1 err=$SCRATCH/$1.err
    b=$(bundle "$1" '["true"]' "$3")
    runc create --bundle "$b" "$id" >/dev/null 2>"$err"
    expect_eq "$1: create fails" "1" "$?"
    expect_match "$1: the cause is named" "$2" "$(cat "$err")"
    expect_eq "$1: one line on stderr" "1" "$(grep -c . "$err")"
    ok_if "$1: no state directory, no cgroup left" nothing_left "$id"
    runc delete --force "$id" >/dev/null 2>&1
}
bad nouserns "user namespace mappings specified, but USER namespace isn't enabled" \
    'c["linux"]["uidMappings"] = c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 10}]'
bad nomaps "linux\.uidMappings: user namespaces enabled, but no user mappings found" \
    'c["linux"]["namespaces"].append({"type": "user"})'
bad nogidmaps "linux\.gidMappings: user namespaces enabled, but no gid mappings found" \
    "$USERNS"'
del c["linux"]["gidMappings"]'
bad pathmaps "user namespace /proc/1/ns/user is joined by path.*only one of path and mappings" \
    "$USERNS"'
c["linux"]["namespaces"][-1]["path"] = "/proc/1/ns/user"'
bad rootunmapped "no root user mapping found" \
    "$USERNS"'
c["linux"]["uidMappings"] = [{"containerID": 1000, "hostID": 0, "size": 1}]'
bad userunmapped "process\.user\.uid: 5000 is not mapped" \
    "$USERNS"'
c["process"]["user"] = {"uid": 5000, "gid": 0}'
bad overlap "Failed to create the user namespace with the maps of linux\.uidMappings" \
    "$USERNS"'
c["linux"]["uidMappings"].append({"containerID": 5, "hostID": 400000, "size": 1})'
bad zerosize "linux\.uidMappings\[0\]: size 0" \
    "$USERNS"'
c["linux"]["uidMappings"][0]["size"] = 0'
bad halfmount "mounts\[5\]: id-mapped mounts must have both uid and gid mappings" \
    "$USERNS"'
c["mounts"].append({"destination": "/data", "type": "bind", "source": "/tmp", "options": ["bind"], "uidMappings": [{"containerID": 0, "hostID": 1, "size": 1}]})'
bad tmpfsidmap "mounts\[5\]: id-mapped mounts are only supported for bind mounts" \
    "$USERNS"'
c["mounts"].append({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]})'
bad idmapnouserns "mounts\[5\]: idmap without uidMappings/gidMappings takes the container's, but it has no user namespace" \
    'c["mounts"].append({"destination": "/data", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]})'
# sysfs cannot be idmapped (nor tmpfs before Linux 6.3): said so, not "Invalid argument"
bad sysfsidmap "idmapped mount of '/sys/kernel' \(OCI idmap\): its file system does not support idmapped mounts" \
    "$USERNS"'
c["mounts"].append({"destination": "/data", "type": "bind", "source": "/sys/kernel", "options": ["bind"], '"$MNT_MAPS"'})'

# ---- berth-spawn --oci-bundle: the same maps
B=$(bundle spawn '["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]' "$USERNS")
OUTPUT=$(timeout 30 "$BERTH_SPAWN" -q --oci-bundle="$B" 2>&1)
expect_match "--oci-bundle: the config's UID map" '^ +2000 +200000 +10$'
expect_match "--oci-bundle: the config's GID map" '^ +0 +300000 +3000$'

# ---- nothing left
expect_eq "the state directory is empty" "" "$(ls -A "$ROOT" 2>&1)"
expect_eq "no cgroup of ours is left" "" "$(find /sys/fs/cgroup -name "*$P*" 2>/dev/null)"
