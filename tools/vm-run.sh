#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# vm-run.sh [OPTIONS] [--] COMMAND [ARGS...]
#
# Run COMMAND as root in a throwaway qemu VM that boots Debian's kernel, for tests
# that need kernel features the host lacks (device-mapper, dm-verity, dm-crypt,
# vfat, ...). The VM sees the host's root file system read-only (virtio-9p), so
# host programs run unchanged; /tmp, /var/tmp and /run are fresh tmpfs, and
# --share=DIR makes a host directory writable at the same path. COMMAND's stdout
# and stderr are streamed to ours; vm-run.sh exits with COMMAND's exit status.
#
# The kernel package (linux-image-*-amd64, the one linux-image-amd64 depends on) is
# fetched with "apt-get download" and unpacked, never installed, into
#   ${BERTH_CACHE_DIR:-/var/cache/berth}/vm/<kernel version>/
# with its modules decompressed and indexed (depmod), and an initramfs made of the
# static busybox, tools/vm-init.sh and the modules needed to reach the host's files.
# See tools/README.md and "vm-run.sh --help".
#
# Exit status: COMMAND's; 124 if --timeout expired; 125 if vm-run.sh or the VM failed
# (the end of the VM's console log is shown); 77 if qemu is missing and cannot be
# installed (a test may skip on that).
set -u
umask 022

prog=vm-run.sh
tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
init_script=$tools_dir/vm-init.sh
# Bump when the kernel cache layout or its build steps change (forces a rebuild).
recipe=1
# Bump when build_initramfs changes (vm-init.sh changes are noticed by themselves).
initramfs_recipe=2
# Modules vm-init.sh needs before it can reach the host's root and the job.
boot_modules="virtio_pci 9pnet_virtio 9p virtio_console"

usage() {
    cat <<EOF
usage: $prog [OPTIONS] [--] COMMAND [ARGS...]
       $prog --prepare

Run COMMAND as root in a throwaway qemu VM booted from Debian's kernel, with the
host's root file system shared read-only and fresh tmpfs on /tmp, /var/tmp and /run.

  --mem=MiB          guest memory (default 2048; /tmp may use half of it)
  --cpus=N           guest CPUs (default 1)
  --share=DIR        share host directory DIR writable at the same path (repeatable)
  --env=NAME=VALUE   set NAME in COMMAND's environment (repeatable); --env=NAME
                     passes the caller's value. BERTH_* variables are always passed.
  --cwd=DIR          COMMAND's working directory (default: the current one)
  --modules=M[,M...] kernel modules to load before COMMAND (default: loop dm_mod
                     dm_verity dm_crypt; others load on demand)
  --timeout=SECONDS  kill the VM after SECONDS (exit status 124)
  --accel=kvm|tcg|auto   (default auto: KVM on a hardware-virtualization host, else
                     TCG; also BERTH_VM_ACCEL)
  --kernel=VERSION   kernel to use, e.g. 6.1.0-56-amd64 (default: the newest cached
                     one, else the one linux-image-amd64 depends on; BERTH_VM_KERNEL)
  --verbose          show the VM's console (kernel messages) on stderr
  --prepare          only install what is missing and build the kernel cache

Exit status: COMMAND's; 124 on timeout; 125 if the VM failed; 77 if qemu is not
available and cannot be installed.
EOF
}

die() {
    echo "$prog: $*" >&2
    exit 125
}

unavailable() {
    echo "$prog: $*" >&2
    exit 77
}

say() {
    [ "$verbose" -eq 0 ] || echo "$prog: $*" >&2
}

# quote STRING: STRING as one single-quoted sh word
quote() {
    local q="'\\''"
    printf "'%s'" "${1//\'/$q}"
}

# qemu_path STRING: STRING with commas doubled, for qemu's option syntax
qemu_path() {
    printf '%s' "${1//,/,,}"
}

is_uint() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

# ---------------------------------------------------------------- options

mem=2048
cpus=1
timeout=0
cwd=$PWD
accel=${BERTH_VM_ACCEL:-auto}
kernel=${BERTH_VM_KERNEL:-}
verbose=${BERTH_VM_VERBOSE:-0}
prepare_only=0
shares=()
envs=()
modules="loop dm_mod dm_verity dm_crypt"

while [ "$#" -gt 0 ]; do
    case $1 in
        --mem=*) mem=${1#*=} ;;
        --cpus=*) cpus=${1#*=} ;;
        --share=*) shares+=("${1#*=}") ;;
        --env=*=*) envs+=("${1#*=}") ;;
        --env=*)
            n=${1#*=}
            if [ -n "${!n+x}" ]; then
                envs+=("$n=${!n}")
            fi
            ;;
        --cwd=*) cwd=${1#*=} ;;
        --modules=* | --module=*) modules="$modules ${1#*=}" ;;
        --timeout=*) timeout=${1#*=} ;;
        --accel=*) accel=${1#*=} ;;
        --kernel=*) kernel=${1#*=} ;;
        --verbose | -v) verbose=1 ;;
        --prepare) prepare_only=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        --)
            shift
            break
            ;;
        -*)
            echo "$prog: unknown option $1" >&2
            usage >&2
            exit 125
            ;;
        *) break ;;
    esac
    shift
done
modules=${modules//,/ }

is_uint "$mem" && [ "$mem" -ge 128 ] || die "--mem: a size in MiB (at least 128) expected, got '$mem'"
is_uint "$cpus" && [ "$cpus" -ge 1 ] || die "--cpus: a positive number expected, got '$cpus'"
is_uint "$timeout" || die "--timeout: a number of seconds expected, got '$timeout'"
case $accel in auto | kvm | tcg) ;; *) die "--accel: kvm, tcg or auto expected, got '$accel'" ;; esac
case $verbose in 0 | 1) ;; *) verbose=1 ;; esac
if [ "$prepare_only" -eq 0 ] && [ "$#" -eq 0 ]; then
    usage >&2
    exit 125
fi
for n in "${envs[@]}"; do
    case ${n%%=*} in
        '' | [0-9]* | *[!A-Za-z0-9_]*) die "--env: invalid variable name in '$n'" ;;
    esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root (the VM's root reads the host's files as root)"
[ "$(uname -m)" = x86_64 ] || unavailable "only x86_64 hosts are supported"

# ---------------------------------------------------------------- host packages

# is_static FILE: FILE is an ELF executable without a program interpreter
is_static() {
    local phoff phentsize phnum i type
    [ "$(od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' \n')" = 7f454c46 ] || return 1
    phoff=$(od -An -tu8 -j 32 -N8 "$1" | tr -d ' ')
    phentsize=$(od -An -tu2 -j 54 -N2 "$1" | tr -d ' ')
    phnum=$(od -An -tu2 -j 56 -N2 "$1" | tr -d ' ')
    for ((i = 0; i < phnum; i++)); do
        type=$(od -An -tu4 -j $((phoff + i * phentsize)) -N4 "$1" | tr -d ' ')
        [ "$type" = 3 ] && return 1 # PT_INTERP
    done
    return 0
}

ensure_packages() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null 2>&1 || missing+=(qemu-system-x86)
    command -v depmod >/dev/null 2>&1 && command -v modprobe >/dev/null 2>&1 || missing+=(kmod)
    is_static /bin/busybox || missing+=(busybox-static)
    command -v xz >/dev/null 2>&1 || missing+=(xz-utils)
    [ "${#missing[@]}" -eq 0 ] && return 0

    echo "$prog: installing missing packages: ${missing[*]}" >&2
    if command -v apt-get >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
            { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                --no-install-recommends "${missing[@]}" >&2; }
    fi
    command -v qemu-system-x86_64 >/dev/null 2>&1 ||
        unavailable "qemu-system-x86_64 is not installed and could not be installed (apt-get install qemu-system-x86)"
    command -v depmod >/dev/null 2>&1 && command -v modprobe >/dev/null 2>&1 ||
        die "depmod/modprobe missing (apt-get install kmod)"
    is_static /bin/busybox || die "/bin/busybox is missing or not static (apt-get install busybox-static)"
    command -v xz >/dev/null 2>&1 || die "xz missing (apt-get install xz-utils)"
}

# ---------------------------------------------------------------- kernel cache

cache_base=${BERTH_CACHE_DIR:-/var/cache/berth}
case $cache_base in
    /*) ;;
    *) die "BERTH_CACHE_DIR must be an absolute path (got '$cache_base')" ;;
esac
vmdir=$cache_base/vm
want_stamp="recipe=$recipe"

kernel_is_current() {
    [ -f "$vmdir/$1/stamp" ] && [ "$(cat "$vmdir/$1/stamp")" = "$want_stamp" ] &&
        [ -f "$vmdir/$1/vmlinux" ] && [ -d "$vmdir/$1/modroot/lib/modules/$1" ]
}

# The newest complete kernel in the cache, if any.
newest_cached_kernel() {
    local d v best=
    for d in "$vmdir"/*/; do
        v=${d%/}
        v=${v##*/}
        case $v in *.tmp.* | *.old.*) continue ;; esac
        kernel_is_current "$v" && best="$best$v"$'\n'
    done
    [ -n "$best" ] && printf '%s' "$best" | sort -V | tail -n1
}

# extract_vmlinux BZIMAGE OUT: the uncompressed ELF kernel of BZIMAGE (booted with
# qemu's PVH entry: no decompression in the guest, which TCG makes slow)
extract_vmlinux() {
    local bz=$1 out=$2 sects off len start magic
    sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
    [ "$sects" = 0 ] && sects=4
    off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
    len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
    is_uint "$sects" && is_uint "$off" && is_uint "$len" && [ "$len" -gt 4 ] || return 1
    start=$(((sects + 1) * 512 + off))
    magic=$(od -An -tx1 -j "$start" -N6 "$bz" | tr -d ' \n')
    # (the payload ends with the 4-byte uncompressed size)
    set -- tail -c +$((start + 1)) "$bz"
    case $magic in
        fd377a585a00) "$@" | head -c $((len - 4)) | xz -dc >"$out" ;;
        1f8b*) "$@" | head -c $((len - 4)) | gzip -dc >"$out" ;;
        28b52ffd*) "$@" | head -c $((len - 4)) | zstd -dcq >"$out" ;;
        5d0000*) "$@" | head -c $((len - 4)) | xz -dc --format=lzma >"$out" ;;
        425a68*) "$@" | head -c $((len - 4)) | bzip2 -dc >"$out" ;;
        *) return 1 ;;
    esac
    [ "$(od -An -tx1 -N4 "$out" | tr -d ' \n')" = 7f454c46 ]
}

# remove_dir DIR: remove a cache directory we own, without crossing file systems
remove_dir() {
    [ -e "$1" ] || return 0
    rm -rf --one-file-system "$1"
}

# build_kernel VERSION: download and unpack linux-image-VERSION into $vmdir/VERSION
build_kernel() {
    local v=$1 tmp deb mods f
    local pkg=linux-image-$v
    say "building the kernel cache for $pkg"
    tmp=$(mktemp -d "$vmdir/$v.tmp.XXXXXX") || die "cannot create a directory in $vmdir"
    build_tmp=$tmp
    chmod 0755 "$tmp"
    if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >"$tmp/apt.log" 2>&1; then
        # maybe stale package lists
        apt-get update -q >>"$tmp/apt.log" 2>&1
        (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$pkg") >>"$tmp/apt.log" 2>&1 ||
            die "apt-get download $pkg failed:
$(tail -n 20 "$tmp/apt.log")"
    fi
    deb=$(ls "$tmp"/linux-image-*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "apt-get download $pkg gave no .deb"
    dpkg-deb -x "$deb" "$tmp/x" || die "dpkg-deb -x $deb failed"
    printf 'package=%s\nversion=%s\n' "$pkg" "$(dpkg-deb -f "$deb" Version)" >"$tmp/package"
    rm -f "$deb"

    mkdir -p "$tmp/modroot/lib/modules"
    for mods in "$tmp/x/lib/modules/$v" "$tmp/x/usr/lib/modules/$v"; do
        [ -d "$mods" ] && mv "$mods" "$tmp/modroot/lib/modules/$v"
    done
    [ -d "$tmp/modroot/lib/modules/$v" ] || die "$pkg has no lib/modules/$v"
    # busybox insmod and the kernel's in-kernel decompression need not apply:
    # keep every module uncompressed.
    while IFS= read -r -d '' f; do
        case $f in
            *.ko.xz) xz -dq "$f" ;;
            *.ko.zst) zstd -dq --rm "$f" >/dev/null ;;
            *.ko.gz) gzip -dq "$f" ;;
        esac || die "cannot decompress $f"
    done < <(find "$tmp/modroot" -name '*.ko.*' -print0)
    depmod -b "$tmp/modroot" "$v" || die "depmod failed"

    f=$(ls "$tmp"/x/boot/vmlinuz-* 2>/dev/null | head -n1)
    [ -n "$f" ] || die "$pkg has no boot/vmlinuz-*"
    extract_vmlinux "$f" "$tmp/vmlinux" || die "cannot extract vmlinux from $f"
    remove_dir "$tmp/x"
    rm -f "$tmp/apt.log"
    printf '%s\n' "$want_stamp" >"$tmp/stamp"

    local final=$vmdir/$v old=
    if [ -e "$final" ]; then
        old=$(mktemp -d "$vmdir/$v.old.XXXXXX")
        mv "$final" "$old/"
    fi
    mv "$tmp" "$final" || die "cannot rename $tmp to $final"
    build_tmp=
    [ -z "$old" ] || remove_dir "$old"
    say "kernel cache ready: $final ($(du -sh --one-file-system "$final" | cut -f1))"
}

# build_initramfs: $kdir/initramfs-<hash>.cpio with busybox, vm-init.sh and the boot modules
build_initramfs() {
    local st list m
    st=$(mktemp -d "$kdir/initramfs.tmp.XXXXXX") || die "cannot create a directory in $kdir"
    build_tmp=$st
    mkdir -p "$st/root/bin" "$st/root/dev" "$st/root/proc" "$st/root/sys" "$st/root/run" \
        "$st/root/newroot" "$st/root/lib/modules"
    cp /bin/busybox "$st/root/bin/busybox" || die "cannot copy /bin/busybox"
    install -m 0755 "$init_script" "$st/root/init" || die "cannot copy $init_script"
    mknod -m 0600 "$st/root/dev/console" c 5 1 || die "mknod failed"
    # shellcheck disable=SC2086
    list=$(modprobe -d "$kdir/modroot" -S "$kver" --show-depends -a $boot_modules) ||
        die "cannot resolve the boot modules ($boot_modules)"
    : >"$st/root/lib/modules/order"
    while read -r kind m _; do
        [ "$kind" = insmod ] || continue
        grep -qxF "${m##*/}" "$st/root/lib/modules/order" && continue
        cp "$m" "$st/root/lib/modules/" || die "cannot copy $m"
        echo "${m##*/}" >>"$st/root/lib/modules/order"
    done <<<"$list"
    (cd "$st/root" && find . | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null) >"$st/initramfs.cpio" ||
        die "cpio failed"
    mv -f "$st/initramfs.cpio" "$initrd" || die "cannot create $initrd"
    remove_dir "$st"
    build_tmp=
    # older initramfs images (from other versions of vm-init.sh)
    find "$kdir" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "${initrd##*/}" -mtime +1 -delete 2>/dev/null
}

build_tmp=
prepare() {
    ensure_packages
    mkdir -p "$vmdir" || die "cannot create $vmdir"
    if [ -z "$kernel" ]; then
        kernel=$(newest_cached_kernel)
    fi
    if [ -z "$kernel" ]; then
        kernel=$(apt-cache depends linux-image-amd64 2>/dev/null |
            sed -n 's/^ *Depends: linux-image-\([0-9].*-amd64\)$/\1/p' | head -n1)
        [ -n "$kernel" ] || die "cannot find the kernel linux-image-amd64 depends on (apt-get update?)"
    fi
    kver=$kernel
    kdir=$vmdir/$kver
    local hash
    hash=$( (cat "$init_script" && echo "recipe=$recipe/$initramfs_recipe boot_modules=$boot_modules") | sha256sum | cut -c1-16)
    initrd=$kdir/initramfs-$hash.cpio
    if kernel_is_current "$kver" && [ -f "$initrd" ]; then
        return 0
    fi

    exec 9>"$vmdir/lock"
    if ! flock -n 9; then
        echo "$prog: waiting for another vm-run.sh to build the kernel cache" >&2
        flock 9
    fi
    trap 'rc=$?; [ -z "$build_tmp" ] || remove_dir "$build_tmp"; exit $rc' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    # we hold the lock: temporary directories left are from killed runs
    local d
    for d in "$vmdir"/*.tmp.* "$vmdir"/*.old.* "$vmdir"/*/initramfs.tmp.*; do
        [ -e "$d" ] && remove_dir "$d"
    done
    if ! kernel_is_current "$kver"; then
        echo "$prog: fetching and unpacking linux-image-$kver into $kdir (once)" >&2
        build_kernel "$kver"
    fi
    [ -f "$initrd" ] || build_initramfs
    exec 9>&-
    trap - EXIT INT TERM HUP
}

prepare
if [ "$prepare_only" -eq 1 ]; then
    echo "$kdir"
    exit 0
fi

# ---------------------------------------------------------------- the job

if [ "$accel" = auto ]; then
    # kvm_pvm (a paravirtual KVM for nested use) runs a stock kernel far slower than TCG
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
        accel=kvm
    else
        accel=tcg
    fi
fi
if [ "$accel" = kvm ]; then
    accel_args=(-accel kvm -cpu host)
else
    accel_args=(-accel tcg -cpu max)
fi
# qboot starts a kernel faster than SeaBIOS (qemu-system-data ships it)
if [ -f /usr/share/qemu/qboot.rom ]; then
    accel_args+=(-bios /usr/share/qemu/qboot.rom)
fi
say "kernel $kver, accel $accel"

# Job directories left by a vm-run.sh killed with SIGKILL (its qemu died with it).
for d in "${TMPDIR:-/tmp}"/berth-vm.*; do
    [ -f "$d/pid" ] || continue
    p=$(cat "$d/pid" 2>/dev/null)
    is_uint "$p" || continue
    if ! kill -0 "$p" 2>/dev/null || ! grep -qF "$prog" "/proc/$p/cmdline" 2>/dev/null; then
        rm -rf --one-file-system "$d"
    fi
done
job=$(mktemp -d "${TMPDIR:-/tmp}/berth-vm.XXXXXX") || die "mktemp failed"
echo "$$" >"$job/pid"
qemu_pid=
cat_pids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill -TERM "$qemu_pid" 2>/dev/null
        wait "$qemu_pid" 2>/dev/null
    fi
    unblock_fifos
    [ "${#cat_pids[@]}" -eq 0 ] || wait "${cat_pids[@]}" 2>/dev/null
    rm -rf --one-file-system "$job"
    exit "$rc"
}
# A FIFO reader blocked in open() (qemu never opened the FIFO) is released by
# opening the FIFO read-write and closing it again; this never blocks.
unblock_fifos() {
    local f
    for f in "$job/stdout" "$job/stderr" "$job/console"; do
        if [ -p "$f" ]; then
            exec 8<>"$f"
            exec 8>&-
        fi
    done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mkdir "$job/in"
guest_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Without a /lib/modules on the host (to mount the kernel's modules on), "modprobe"
# in the VM is a wrapper pointing kmod at them.
[ -d /lib/modules ] || guest_path=/run/berth-vm/bin:$guest_path
env_words=(PATH="$guest_path" HOME=/root USER=root LOGNAME=root SHELL=/bin/sh BERTH_VM=1)
while IFS= read -r -d '' n; do
    case $n in BERTH_*=*) env_words+=("$n") ;; esac
done < <(env -0)
env_words+=("${envs[@]}")
for n in "${env_words[@]}"; do
    [ "${n%%=*}" = PATH ] && guest_path=${n#*=}
done

# The modules to load before the command, with their dependencies, in order (paths
# relative to the kernel's module directory): busybox insmod in the VM is much faster
# than starting modprobe there.
preload=
if [ -n "${modules// /}" ]; then
    # shellcheck disable=SC2086
    if ! list=$(modprobe -d "$kdir/modroot" -S "$kver" --show-depends -a $modules 2>"$job/modprobe.err") ||
        [ -s "$job/modprobe.err" ]; then
        die "--modules: $(cat "$job/modprobe.err")"
    fi
    while read -r kind m _; do
        [ "$kind" = insmod ] || continue
        m=${m#"$kdir/modroot/lib/modules/$kver/"}
        case " $preload " in *" $m "*) ;; *) preload="$preload $m" ;; esac
    done <<<"$list"
    preload=${preload# }
fi

share_paths=()
for d in "${shares[@]}"; do
    [ -d "$d" ] || die "--share: $d is not a directory"
    share_paths+=("$(realpath -e "$d")")
done

{
    echo "# written by $prog"
    echo "cwd=$(quote "$cwd")"
    echo "kver=$(quote "$kver")"
    echo "preload=$(quote "$preload")"
    echo "modprobe=$(quote "$(command -v modprobe)")"
    echo "nshares=${#share_paths[@]}"
    for i in "${!share_paths[@]}"; do
        echo "share_path_$i=$(quote "${share_paths[$i]}")"
    done
    echo "command=$(quote "$1")"
    echo "command_path=$(quote "$guest_path")"
    printf 'run_command() {\n    (exec /run/berth-vm/busybox env -i'
    for n in "${env_words[@]}"; do
        printf ' \\\n        %s' "$(quote "$n")"
    done
    printf ' \\\n        "$1"'
    shift
    for n in "$@"; do
        printf ' \\\n        %s' "$(quote "$n")"
    done
    printf ')\n}\n'
} >"$job/in/job"

mkfifo "$job/stdout" "$job/stderr" || die "mkfifo failed"
: >"$job/status"
cat "$job/stdout" &
cat_pids+=($!)
cat "$job/stderr" >&2 &
cat_pids+=($!)
if [ "$verbose" -eq 1 ]; then
    mkfifo "$job/console"
    cat "$job/console" >&2 &
    cat_pids+=($!)
    console=$job/console
    quiet=berth.verbose
else
    console=$job/console.log
    quiet="quiet loglevel=4"
fi

cmdline="console=ttyS0 panic=-1 $quiet ${BERTH_VM_CMDLINE:-} cryptomgr.notests mitigations=off"
cmdline+=" initcall_blacklist=init_kprobe_trace,load_system_certificate_list random.trust_cpu=on"
# shellcheck disable=SC2054
args=(qemu-system-x86_64 -M q35 "${accel_args[@]}" -m "$mem" -smp "$cpus"
    -nodefaults -no-user-config -display none -monitor none -no-reboot -nic none
    -kernel "$kdir/vmlinux" -initrd "$initrd" -append "$cmdline"
    -chardev "file,id=console,path=$(qemu_path "$console")" -serial chardev:console
    -fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap
    -device virtio-9p-pci,fsdev=root,mount_tag=root
    -fsdev "local,id=modules,path=$(qemu_path "$kdir/modroot"),security_model=none,readonly=on"
    -device virtio-9p-pci,fsdev=modules,mount_tag=modules
    -fsdev "local,id=job,path=$(qemu_path "$job/in"),security_model=none,readonly=on"
    -device virtio-9p-pci,fsdev=job,mount_tag=job)
for i in "${!share_paths[@]}"; do
    args+=(-fsdev "local,id=share$i,path=$(qemu_path "${share_paths[$i]}"),security_model=passthrough,multidevs=remap"
        -device "virtio-9p-pci,fsdev=share$i,mount_tag=share$i")
done
# shellcheck disable=SC2054
args+=(-device virtio-serial-pci,max_ports=4
    -chardev "file,id=stdout,path=$(qemu_path "$job/stdout")"
    -device virtserialport,chardev=stdout,name=berth.stdout,nr=1
    -chardev "file,id=stderr,path=$(qemu_path "$job/stderr")"
    -device virtserialport,chardev=stderr,name=berth.stderr,nr=2
    -chardev "file,id=status,path=$(qemu_path "$job/status")"
    -device virtserialport,chardev=status,name=berth.status,nr=3)
# qemu (and timeout) die with vm-run.sh even if it is killed with SIGKILL
if setpriv --help 2>/dev/null | grep -q -- --pdeathsig; then
    args=(setpriv --pdeathsig KILL -- "${args[@]}")
    if [ "$timeout" -gt 0 ]; then
        args=(setpriv --pdeathsig KILL -- timeout -k 5 "$timeout" "${args[@]}")
    fi
elif [ "$timeout" -gt 0 ]; then
    args=(timeout -k 5 "$timeout" "${args[@]}")
fi

"${args[@]}" </dev/null >"$job/qemu.log" 2>&1 &
qemu_pid=$!
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=
unblock_fifos
wait "${cat_pids[@]}" 2>/dev/null
cat_pids=()

status=$(head -n1 "$job/status")
if is_uint "$status" && [ "$status" -le 255 ]; then
    exit "$status"
fi
if [ "$timeout" -gt 0 ] && [ "$qemu_rc" -eq 124 ]; then
    echo "$prog: the VM timed out after ${timeout}s" >&2
    exit 124
fi
{
    echo "$prog: the VM ended without an exit status (qemu exit status $qemu_rc)"
    if [ -s "$job/qemu.log" ]; then
        echo "qemu:"
        sed 's/^/  /' "$job/qemu.log"
    fi
    if [ -s "$job/console.log" ]; then
        echo "end of the console log:"
        tail -n 30 "$job/console.log" | sed 's/^/  /'
    fi
} >&2
exit 125
