#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Count individual TAP results in meson's testlog.json and print 'N passed, N failed, N skipped'.

A test that crashed or timed out without a failing TAP line counts as one failure, so a
broken test can never look green. Exit status 1 if anything failed."""

import json
import re
import sys

passed = failed = skipped = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    t = json.loads(line)
    out = t.get("stdout") or t.get("stdo") or ""
    tp = fp = 0
    for l in out.splitlines():
        m = re.match(r"^(not ok|ok)\b(.*)$", l)
        if m:
            if re.search(r"#\s*SKIP", m.group(2), re.I):
                skipped += 1
            elif m.group(1) == "ok":
                tp += 1
            else:
                fp += 1
        elif re.match(r"^1\.\.0\s*#\s*SKIP", l, re.I):
            skipped += 1
    if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and fp == 0:
        fp = 1
    passed += tp
    failed += fp

print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
