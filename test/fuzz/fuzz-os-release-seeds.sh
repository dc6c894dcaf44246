#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fuzz-os-release-seeds.sh DIR — write the seed corpus of fuzz-os-release into DIR: a
# Debian-like and a Fedora-like os-release, and one with every quoting form the parser
# knows (single, double with escapes, bare with a backslash), comments, blank and
# indented lines, CRLF, a repeated key, and lines it must skip.
set -eu

[ "$#" -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
out=$1
mkdir -p "$out"

cat >"$out/debian" <<'OS'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
OS

cat >"$out/fedora" <<'OS'
NAME="Fedora Linux"
VERSION="40 (Container Image)"
ID=fedora
VERSION_ID=40
PLATFORM_ID="platform:f40"
PRETTY_NAME="Fedora Linux 40 (Container Image)"
ANSI_COLOR="0;38;2;60;110;180"
LOGO=fedora-logo-icon
CPE_NAME="cpe:/o:fedoraproject:fedora:40"
DEFAULT_HOSTNAME="fedora"
VARIANT="Container Image"
VARIANT_ID=container
OS

printf '%s\n' \
    '# a comment' \
    '' \
    '   INDENTED=yes' \
    "SINGLE='it is \"quoted\"'" \
    'DOUBLE="a \"b\" \$c \`d\` \\e \x"' \
    'BARE=a\ b' \
    'MIXED="x"'"'y'"'z' \
    'ID=first' \
    'ID=second' \
    'UNTERMINATED="open' \
    'SPACED=a b' \
    '9DIGIT=no' \
    'no equals sign' \
    'UTF="caf'"$(printf '\303\251')"'"' >"$out/quoting"
printf 'ID=crlf\r\nNAME="CR LF"\r\n' >"$out/crlf"
