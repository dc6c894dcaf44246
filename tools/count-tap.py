#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Count individual TAP results in meson's testlog.json and print 'N passed, N failed, N skipped'.

A test that crashed or timed out without a failing TAP line counts as one failure, so a
broken test can never look green. Each failing check is printed first with the diagnostic
lines that follow it (meson's --print-errorlogs shows only stderr, and a CI log is often
all there is to go on). Exit status 1 if anything failed."""

import json
import re
import sys

MAX_DIAG = 40


def report_failure(name, lines, i):
    """Print the failing TAP line lines[i] of test NAME and the '#' lines after it."""
    print(f"FAILED in {name}: {lines[i]}")
    for l in lines[i + 1:i + 1 + MAX_DIAG]:
        if not l.startswith("#"):
            break
        print(f"    {l}")


passed = failed = skipped = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    t = json.loads(line)
    out = t.get("stdout") or t.get("stdo") or ""
    tp = fp = 0
    lines = out.splitlines()
    for i, l in enumerate(lines):
        m = re.match(r"^(not ok|ok)\b(.*)$", l)
        if m:
            if re.search(r"#\s*SKIP", m.group(2), re.I):
                skipped += 1
            elif m.group(1) == "ok":
                tp += 1
            else:
                fp += 1
                report_failure(t.get("name", "?"), lines, i)
        elif re.match(r"^1\.\.0\s*#\s*SKIP", l, re.I):
            skipped += 1
    if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and fp == 0:
        fp = 1
        print(f"FAILED: {t.get('name', '?')} ended {t.get('result')} without a failing TAP line; "
              "its last lines:")
        for l in lines[-MAX_DIAG:]:
            print(f"    {l}")
    passed += tp
    failed += fp

print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
