#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""exchange-race.py A B: swap the paths A and B with renameat2(RENAME_EXCHANGE) in a tight
loop until SIGTERM, then print how many swaps succeeded. A hostile tree author's move
against a launcher that resolves a path inside the tree and then uses it (test-spawn-races)."""
import ctypes
import signal
import sys

AT_FDCWD = -100
RENAME_EXCHANGE = 1 << 1

libc = ctypes.CDLL(None, use_errno=True)
renameat2 = libc.renameat2
renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]

stop = False


def on_term(_signo, _frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
swaps = 0
while not stop:
    if renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
        swaps += 1
# Leave the paths as they were first given, so the next case starts from a known state.
if swaps % 2:
    renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
print(swaps)
