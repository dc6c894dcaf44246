#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install dependencies, build, run every test suite, and print "N passed, N failed, N skipped"
# counted over the individual TAP results of all tests. Exit status is non-zero on any failure.
set -eu

cd "$(dirname "$0")/.."
sh tools/install-deps.sh

if [ -f build/build.ninja ]; then
        meson setup --reconfigure build
else
        meson setup build
fi
ninja -C build

status=0
meson test -C build --print-errorlogs --num-processes 1 || status=$?
python3 tools/count-tap.py build/meson-logs/testlog.json || status=1
exit $status
