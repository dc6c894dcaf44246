#!/bin/sh
# make-debian-tree.sh [--print-path] [--flavour=FLAVOUR] — build (once) and cache a
# debootstrapped Debian 12 (bookworm) root tree for tests and demos, and print its path.
#
# The tree lives outside the repository, in
#   ${BERTH_CACHE_DIR:-/var/cache/berth}/debian-bookworm[-FLAVOUR]
# FLAVOUR (default: none, the plain tree most tests boot):
#   host      the plain tree plus what a systemd host running berth has:
#             systemd-container (the real machinectl), libnss-mymachines, btrfs-progs
#             and berth's own runtime libraries (test/systemd: the systemd-as-PID-1 rig)
#   sysvinit  sysvinit-core as PID 1 instead of systemd (the init.d script's rig)
#   openrc    sysvinit-core as PID 1 with OpenRC as the service manager instead of
#             sysv-rc (Debian's openrc: /etc/init.d/rc runs openrc; the OpenRC script's rig)
# Each flavour is cached under its own name and stamp, so building one never
# rebuilds another that other tests are using.
# It is built in a temporary sibling directory and renamed into place only when
# complete. A stamp file next to it records the recipe (suite, variant, package
# list); if the stamp does not match this script, the tree is rebuilt. A flock
# lock serialises concurrent callers.
#
# The mirror comes from apt's own configuration (deb822 *.sources first, then
# one-line sources.list), or from BERTH_DEBIAN_MIRROR if set.
set -eu

prog=${0##*/}
suite=bookworm
variant=minbase
include=systemd,systemd-sysv,dbus,iproute2
swap_in=
# Bump when the post-debootstrap steps below change, to force a rebuild.
recipe=1

usage() {
    echo "usage: $prog [--print-path] [--flavour=host|sysvinit|openrc]" >&2
    echo "  Builds (if needed) the cached Debian $suite tree and prints its path." >&2
    echo "  --print-path  quiet: build output goes to a log file, shown only on failure" >&2
    echo "  --flavour=F   a variant of the tree with more packages, cached separately" >&2
    exit 2
}

die() {
    echo "$prog: $*" >&2
    exit 1
}

quiet=0
flavour=
for arg; do
    case $arg in
        --print-path) quiet=1 ;;
        --flavour=host)
            flavour=host
            # berth's runtime libraries (meson install --destdir into the guest) that
            # minbase lacks, and what the tests drive: machinectl, nss-mymachines, btrfs
            include=$include,systemd-container,libnss-mymachines,btrfs-progs,libseccomp2,libmnl0,libnftnl11,libfdisk1
            ;;
        --flavour=sysvinit)
            flavour=sysvinit
            include=sysvinit-core,dbus,iproute2,libsystemd0,libseccomp2,libmnl0,libnftnl11,libfdisk1,procps
            ;;
        --flavour=openrc)
            flavour=openrc
            # (libjson-c5: berth-spawn's, which berthd runs for the enabled machine)
            include=sysvinit-core,dbus,iproute2,libsystemd0,libseccomp2,libmnl0,libnftnl11,libfdisk1,libjson-c5,procps
            # openrc conflicts with sysv-rc, the first of sysvinit-core's "sysv-rc | file-rc |
            # openrc", which debootstrap takes whatever --include and --exclude say: apt
            # installs openrc in the finished tree instead (and removes sysv-rc)
            swap_in=openrc
            ;;
        *) usage ;;
    esac
done

say() {
    [ "$quiet" -eq 1 ] || echo "$prog: $*" >&2
}

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap needs it)"

cache_base=${BERTH_CACHE_DIR:-/var/cache/berth}
case $cache_base in
    /*) ;;
    *) die "BERTH_CACHE_DIR must be an absolute path (got '$cache_base')" ;;
esac
name=debian-$suite${flavour:+-$flavour}
tree=$cache_base/$name
stamp=$cache_base/$name.stamp
lock=$cache_base/$name.lock
log=$cache_base/$name.log

want_stamp=$(printf 'recipe=%s\nsuite=%s\nvariant=%s\ninclude=%s\n' \
    "$recipe" "$suite" "$variant" "$include")
# (only where apt adds packages: the other flavours' stamps stay as they are)
[ -z "$swap_in" ] || want_stamp=$(printf '%s\nswap_in=%s\n' "$want_stamp" "$swap_in")

tree_is_current() {
    [ -d "$tree" ] && { [ -L "$tree/sbin/init" ] || [ -f "$tree/sbin/init" ]; } && [ -f "$stamp" ] &&
        [ "$(cat "$stamp")" = "$want_stamp" ]
}

# Print every "deb" URI configured for $suite, best first: deb822 sources,
# then one-line sources. Comment lines (starting with #) are skipped.
apt_mirrors() {
    set --
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && set -- "$@" "$f"
    done
    if [ "$#" -gt 0 ]; then
        awk -v suite="$suite" '
            function flush(  n, i, u) {
                if (enabled != "no" && index(" " types " ", " deb ") &&
                    index(" " suites " ", " " suite " ")) {
                    n = split(uris, u, " ")
                    for (i = 1; i <= n; i++) print u[i]
                }
                types = suites = uris = enabled = last = ""
            }
            FNR == 1 && NR > 1 { flush() }
            /^#/ { next }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]/ {                      # continuation of the previous field
                v = $0; gsub(/[ \t]+/, " ", v)
                if (last == "types") types = types " " v
                else if (last == "suites") suites = suites " " v
                else if (last == "uris") uris = uris " " v
                next
            }
            {
                c = index($0, ":")
                if (c == 0) next
                last = tolower(substr($0, 1, c - 1))
                v = substr($0, c + 1); gsub(/[ \t]+/, " ", v)
                if (last == "types") types = v
                else if (last == "suites") suites = v
                else if (last == "uris") uris = v
                else if (last == "enabled") { enabled = tolower(v); gsub(/ /, "", enabled) }
            }
            END { flush() }
        ' "$@"
    fi
    set --
    [ -f /etc/apt/sources.list ] && set -- /etc/apt/sources.list
    for f in /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && set -- "$@" "$f"
    done
    if [ "$#" -gt 0 ]; then
        awk -v suite="$suite" '
            /^[ \t]*#/ { next }
            $1 == "deb" {
                line = $0
                sub(/^[ \t]*deb[ \t]+/, "", line)
                if (substr(line, 1, 1) == "[") sub(/^\[[^]]*\][ \t]*/, "", line)
                split(line, f, /[ \t]+/)
                if (f[2] == suite) print f[1]
            }
        ' "$@"
    fi
}

find_mirror() {
    if [ -n "${BERTH_DEBIAN_MIRROR:-}" ]; then
        echo "$BERTH_DEBIAN_MIRROR"
        return 0
    fi
    for uri in $(apt_mirrors); do
        case $uri in
            http://*|https://*|file:/*) echo "$uri"; return 0 ;;
        esac
    done
    return 1
}

# Unmount anything left mounted below $1 (an interrupted debootstrap leaves
# proc/sys mounted in the target), deepest first, then remove it without
# crossing into any file system we failed to unmount.
remove_tree() {
    [ -e "$1" ] || return 0
    awk -v p="$1/" 'index($5 "/", p) == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
    rm -rf --one-file-system "$1"
}

mkdir -p "$cache_base"

exec 9>"$lock"
if ! flock -n 9; then
    say "another build holds $lock; waiting"
    flock 9
fi

if tree_is_current; then
    # Booting the cached tree read-write makes systemd write the machine ID
    # (and a journal, etc.) into it. Say so, but leave the tree alone: another
    # caller may be using it.
    if [ -s "$tree/etc/machine-id" ]; then
        echo "$prog: warning: $tree/etc/machine-id is set, so the cached tree was booted" \
            "read-write; boot it read-only, ephemeral or volatile instead" \
            "(remove $stamp to rebuild)" >&2
    fi
    echo "$tree"
    exit 0
fi

# We hold the lock, so any temporary directories left over are from killed runs.
for d in "$cache_base/$name.tmp."* "$cache_base/$name.old."*; do
    [ -e "$d" ] || continue
    say "removing leftover $d"
    remove_tree "$d"
done

mirror=$(find_mirror) || die "no 'deb' source for suite '$suite' found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list; configure one in apt or set BERTH_DEBIAN_MIRROR"

if ! command -v debootstrap >/dev/null 2>&1; then
    say "debootstrap not found; installing it"
    if [ "$quiet" -eq 1 ]; then
        apt-get install -y debootstrap >/dev/null 2>&1 ||
            die "debootstrap is missing and 'apt-get install -y debootstrap' failed"
    else
        apt-get install -y debootstrap >&2 ||
            die "debootstrap is missing and 'apt-get install -y debootstrap' failed"
    fi
fi

tmp=$(mktemp -d "$cache_base/$name.tmp.XXXXXX")
old=
cleanup() {
    rc=$?
    trap - EXIT INT TERM HUP
    [ -z "$tmp" ] || remove_tree "$tmp"
    [ -z "$old" ] || remove_tree "$old"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
chmod 0755 "$tmp"

# Run a build step: progress to stderr, or to the log in quiet mode.
run() {
    if [ "$quiet" -eq 1 ]; then
        "$@" >>"$log" 2>&1
    else
        "$@" >&2
    fi
}

[ "$quiet" -eq 0 ] || : >"$log"
say "building Debian $suite ($variant + $include) from $mirror"
say "into $tmp; this takes a few minutes"
start=$(date +%s)
if ! run debootstrap --variant="$variant" --include="$include" "$suite" "$tmp" "$mirror"; then
    if [ "$quiet" -eq 1 ]; then
        tail -n 30 "$log" >&2
    fi
    die "debootstrap failed (log: $log; debootstrap's own log is in the removed tree)"
fi

# Post-install adjustments. Keep the tree a normal minbase install otherwise.
# Empty machine-id: systemd then uses a transient one (derived from the
# container UUID under nspawn) instead of one baked into the cache.
: >"$tmp/etc/machine-id"
# dbus keeps its own copy unless it is a symlink to /etc/machine-id.
if [ -e "$tmp/var/lib/dbus/machine-id" ] && [ ! -L "$tmp/var/lib/dbus/machine-id" ]; then
    ln -sf /etc/machine-id "$tmp/var/lib/dbus/machine-id"
fi
# debootstrap copies these from the host; the container's hostname comes from
# the launcher, and the launcher supplies resolv.conf as it sees fit.
rm -f "$tmp/etc/hostname" "$tmp/etc/resolv.conf"
# Packages debootstrap cannot install (see --flavour=openrc): the tree's apt resolves them
# with debootstrap's package lists and says which files it needs (--print-uris); the
# host's apt fetches those (the tree need not reach the mirror: names the host resolves
# may not resolve in the chroot), checking each against the lists' hash; then the tree's
# apt installs them from its archive without a download.
if [ -n "$swap_in" ]; then
    uris=$(chroot "$tmp" apt-get install -y -qq --print-uris --no-install-recommends $swap_in) ||
        die "apt-get install --print-uris $swap_in in the new tree failed"
    echo "$uris" | while read -r uri file _ hash; do
        uri=${uri#\'} uri=${uri%\'}
        run /usr/lib/apt/apt-helper download-file "$uri" "$tmp/var/cache/apt/archives/$file" "$hash" ||
            die "downloading $file for the new tree failed (log: $log)"
    done
    run chroot "$tmp" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-download --no-install-recommends $swap_in ||
        die "apt-get install $swap_in in the new tree failed (log: $log)"
fi
# Lock root's password (no login is needed; tests drive systemctl from outside).
run chroot "$tmp" passwd -l root
run chroot "$tmp" apt-get clean
# Drop the package indexes debootstrap left (apt-get update fetches fresh ones);
# keep the lists/partial directory apt expects.
rm -f "$tmp/var/lib/apt/lists/"*_* "$tmp/var/log/bootstrap.log"

# Swap the finished tree into place: drop the stamp first so a crash between
# the renames leaves no stamp, hence a rebuild rather than a stale tree.
rm -f "$stamp"
if [ -e "$tree" ]; then
    old=$(mktemp -d "$cache_base/$name.old.XXXXXX")
    mv "$tree" "$old/tree"
fi
mv "$tmp" "$tree"
tmp=
printf '%s\n' "$want_stamp" >"$stamp.new"
mv "$stamp.new" "$stamp"
if [ -n "$old" ]; then
    remove_tree "$old"
    old=
fi

end=$(date +%s)
say "done in $((end - start))s: $(du -sh --one-file-system "$tree" | cut -f1) in $tree"
echo "$tree"
