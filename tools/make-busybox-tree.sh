#!/bin/sh
# make-busybox-tree.sh DIR — build a minimal merged-/usr busybox root tree in DIR.
# Idempotent: re-running on an existing tree brings it back to the same state.
set -eu

usage() {
    echo "usage: $0 DIR" >&2
    exit 2
}

[ "$#" -eq 1 ] || usage
[ -n "$1" ] || usage
dir=$1

if [ -x /bin/busybox ]; then
    busybox=/bin/busybox
elif [ -x /usr/bin/busybox ]; then
    busybox=/usr/bin/busybox
else
    echo "$0: /bin/busybox not found; install it with: apt-get install busybox-static" >&2
    exit 1
fi

# The tree needs a static busybox: a dynamic one would need host libraries inside.
if ! "$busybox" --list >/dev/null 2>&1; then
    echo "$0: $busybox does not work; install it with: apt-get install busybox-static" >&2
    exit 1
fi
if command -v file >/dev/null 2>&1; then
    case $(file -L "$busybox") in
        *"statically linked"*|*"static-pie linked"*) ;;
        *)
            echo "$0: $busybox is not statically linked; install it with: apt-get install busybox-static" >&2
            exit 1
            ;;
    esac
elif [ -r "$busybox" ] && grep -q 'ld-linux' "$busybox" 2>/dev/null; then
    echo "$0: $busybox looks dynamically linked; install it with: apt-get install busybox-static" >&2
    exit 1
fi

umask 022
mkdir -p "$dir"
cd "$dir"

# merged-/usr layout
mkdir -p usr/bin usr/sbin usr/lib
for l in bin:usr/bin sbin:usr/sbin lib:usr/lib; do
    name=${l%%:*}
    target=${l#*:}
    if [ -L "$name" ]; then
        [ "$(readlink "$name")" = "$target" ] || { rm -f "$name"; ln -s "$target" "$name"; }
    elif [ -e "$name" ]; then
        echo "$0: $dir/$name exists and is not a symlink; refusing to touch it" >&2
        exit 1
    else
        ln -s "$target" "$name"
    fi
done

# busybox itself (cp to a temp name + mv, so a running busybox is never truncated)
if ! cmp -s "$busybox" usr/bin/busybox 2>/dev/null; then
    cp "$busybox" usr/bin/.busybox.tmp
    chmod 0755 usr/bin/.busybox.tmp
    mv -f usr/bin/.busybox.tmp usr/bin/busybox
fi

# one symlink per applet, all in usr/bin (busybox --list prints bare names).
# Only shell builtins in the loop (one fork per missing link), so re-runs are fast.
applets=$("$busybox" --list)
set -f   # applet names like "[" must not be globbed
for applet in $applets; do
    case $applet in
        busybox|*/*) continue ;;
    esac
    [ -L "usr/bin/$applet" ] || ln -sf busybox "usr/bin/$applet"
done
# repair applet links that point somewhere else (one find, usually no output)
find usr/bin -maxdepth 1 -type l ! -lname busybox -printf '%f\n' |
    while IFS= read -r name; do
        if printf '%s\n' "$applets" | grep -qFx -e "$name"; then
            ln -sfn busybox "usr/bin/$name"
        fi
    done
set +f

# busybox has no getent; systemd-nspawn --user runs "getent passwd USER" and
# "getent initgroups USER" inside the tree, so provide a minimal files-only one
# (lets tests compare berth-spawn with systemd-nspawn on this tree).
if [ ! -e usr/bin/getent ] || [ -L usr/bin/getent ]; then
    rm -f usr/bin/getent
    cat > usr/bin/getent <<'GETENT'
#!/bin/sh
# minimal getent for the berth busybox test tree (reads /etc files only):
#   getent passwd|group [KEY...]     getent initgroups USER
db=${1:-}
[ "$#" -gt 0 ] && shift
case $db in
    passwd|group)
        [ "$#" -gt 0 ] || exec cat "/etc/$db"
        rc=0
        for key in "$@"; do
            awk -F: -v k="$key" '$1 == k || $3 == k { print; f = 1; exit } END { exit !f }' "/etc/$db" || rc=2
        done
        exit "$rc" ;;
    initgroups)
        [ "$#" -eq 1 ] || { echo "getent: initgroups needs one user" >&2; exit 1; }
        gid=$(awk -F: -v k="$1" '$1 == k { print $4; exit }' /etc/passwd)
        [ -n "$gid" ] || exit 2
        awk -F: -v u="$1" -v g="$gid" '
            BEGIN { out = g }
            { n = split($4, m, ","); for (i = 1; i <= n; i++) if (m[i] == u && $3 != g) out = out " " $3 }
            END { printf "%-21s %s\n", u, out }' /etc/group ;;
    *) echo "getent: unsupported database: $db" >&2; exit 1 ;;
esac
GETENT
    chmod 0755 usr/bin/getent
fi

# directories
mkdir -p etc proc sys dev run tmp root home/berthtest
chmod 0755 proc sys dev run
chmod 1777 tmp
chmod 0700 root
chown 1000:1000 home/berthtest
chmod 0755 home/berthtest

cat > etc/passwd <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
berthtest:x:1000:1000:berth test user:/home/berthtest:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/nologin
PASSWD

cat > etc/group <<'GROUP'
root:x:0:
tty:x:5:
berthtest:x:1000:
nogroup:x:65534:
GROUP

cat > etc/os-release <<'OSREL'
ID=berth-busybox
NAME="Berth BusyBox test tree"
PRETTY_NAME="Berth BusyBox test tree"
VERSION_ID=1
OSREL

chmod 0644 etc/passwd etc/group etc/os-release
rm -f etc/hostname
