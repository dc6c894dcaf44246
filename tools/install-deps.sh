#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install everything berth needs to build and to run its tests, from Debian packages.
set -eu

if [ "$(id -u)" != 0 ]; then
        echo "install-deps.sh: run as root (apt-get install)." >&2
        exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# fdisk (sfdisk), e2fsprogs, squashfs-tools, dosfstools, cryptsetup-bin: the disk images of
# test-dissect, test-spawn-image and of the fuzz seeds; erofs-utils, xfsprogs: those of
# test-spawn-image; clang + libclang-rt-dev: the libFuzzer build of tools/run-fuzzers.sh
# (meson suite 'fuzz'); hyperfine (and bubblewrap, crun: the peers): tools/bench-*.sh;
# strace: test-spawn-security checks that a start reads the cached system call filter;
# libarchive, libcurl, libssl (libcrypto), gpgv: berth-import; gpg: the import test makes a key;
# qemu-utils: berth-import converts qcow2 images with qemu-img (and the test makes them).
# libnss-mymachines: test-berthd-compat resolves a machine name through it.
# containerd, runc: test-runc-containerd runs berth-runc under containerd's runc shim, and
# runc is the peer of tools/bench-runc.sh; golang-go, make: tools/runtime-tools-validate.sh
# builds the OCI conformance suite offline; podman (with conmon): test-runc-podman runs
# berth-runc as podman's --runtime.
# openssh-server: test-berthctl-remote runs `berthctl -H` against an sshd of its own
# (the package's own sshd service is not used; policy-rc.d keeps it stopped in containers).
# docker-registry, skopeo: test-berth-importd-oci runs a registry on loopback and pushes
# the images it builds; umoci: tools/bench-oci.sh compares with skopeo copy + umoci unpack.
# libdbus-1-dev, libpolkit-gobject-1-dev: only their pkg-config files, which say where the
# bus policy, activation file and polkit actions go (units/meson.build).
# bpftool: test-cgroup-devices lists the device programs attached to a machine's cgroup2
# directory and checks that they go with it.
apt-get install -y -q --no-install-recommends \
        meson ninja-build pkg-config gcc libc6-dev python3 \
        libsystemd-dev libmount-dev libarchive-dev libcurl4-openssl-dev libssl-dev gpgv gpg libblkid-dev libfdisk-dev libcryptsetup-dev openssl \
        libseccomp-dev libcap-dev libmnl-dev libnftnl-dev libjson-c-dev \
        busybox-static util-linux iproute2 dbus btrfs-progs nftables debootstrap \
        bsdextrautils procps systemd-container polkitd \
        qemu-system-x86 qemu-utils kmod xz-utils \
        fdisk e2fsprogs squashfs-tools dosfstools cryptsetup-bin erofs-utils xfsprogs \
        clang libclang-rt-dev \
        hyperfine strace bubblewrap crun libnss-mymachines \
        containerd runc golang-go make openssh-server podman \
        docker-registry skopeo umoci \
        libdbus-1-dev libpolkit-gobject-1-dev bpftool
