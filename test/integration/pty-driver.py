#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""pty-driver.py: run a command on a fresh pty (as its controlling terminal) and
drive it like a person at a terminal would.

usage: pty-driver.py [--timeout SECS] [--rows R --cols C] ACTION... -- COMMAND [ARGS...]

Actions, run in order:
  expect:REGEX      wait until the output so far matches REGEX (Python re, bytes)
  send:TEXT         write TEXT to the terminal (Python escapes: \\x1d, \\n, ...)
  resize:ROWS:COLS  change the terminal size (the foreground process group gets SIGWINCH)
  sleep:SECS        wait, still collecting output
  mark:TEXT         note the time: "mark TEXT at T" goes to stderr (T seconds since start)

Afterwards wait for COMMAND to exit. The whole transcript goes to stdout; the
exit status is COMMAND's (128+N if killed by signal N), 124 on a timeout (the
command is then SIGKILLed), 125 if an expect: did not match in time.
"""

import argparse
import codecs
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        print("pty-driver: missing -- COMMAND", file=sys.stderr)
        return 2
    split = argv.index("--")
    own, command = argv[:split], argv[split + 1:]
    p = argparse.ArgumentParser()
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--rows", type=int, default=24)
    p.add_argument("--cols", type=int, default=80)
    p.add_argument("actions", nargs="*")
    args = p.parse_args(own)

    start = time.monotonic()
    deadline = start + args.timeout
    master, slave = os.openpty()
    set_size(slave, args.rows, args.cols)

    def child_setup():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave,
                            preexec_fn=child_setup, close_fds=True)
    os.close(slave)
    transcript = bytearray()

    def pump(until):
        """read output until time `until` or EOF; returns False on EOF"""
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([master], [], [], min(left, 0.05))
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                transcript.extend(data)
            elif proc.poll() is not None:
                # drain whatever is left, then report EOF
                try:
                    while select.select([master], [], [], 0.05)[0]:
                        data = os.read(master, 65536)
                        if not data:
                            break
                        transcript.extend(data)
                except OSError:
                    pass
                return False

    status = None
    for action in args.actions:
        kind, _, arg = action.partition(":")
        if kind == "expect":
            pat = re.compile(arg.encode())
            while not pat.search(transcript):
                if time.monotonic() >= deadline or not pump(min(deadline, time.monotonic() + 0.1)):
                    if not pat.search(transcript):
                        print("pty-driver: expect %r failed" % arg, file=sys.stderr)
                        status = 125
                    break
            if status is not None:
                break
        elif kind == "send":
            os.write(master, codecs.decode(arg, "unicode_escape").encode("latin-1"))
        elif kind == "resize":
            rows, _, cols = arg.partition(":")
            set_size(master, int(rows), int(cols))
        elif kind == "sleep":
            pump(time.monotonic() + float(arg))
        elif kind == "mark":
            print("mark %s at %.3f" % (arg, time.monotonic() - start), file=sys.stderr)
        else:
            print("pty-driver: unknown action %r" % action, file=sys.stderr)
            status = 2
            break

    if status is None:
        while proc.poll() is None and time.monotonic() < deadline:
            pump(min(deadline, time.monotonic() + 0.1))
        pump(time.monotonic() + 0.1)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        if status is None:
            print("pty-driver: timed out", file=sys.stderr)
            status = 124
    else:
        print("pty-driver: exited after %.3f s" % (time.monotonic() - start), file=sys.stderr)
    if status is None:
        rc = proc.returncode
        status = 128 - rc if rc < 0 else rc
    os.close(master)
    sys.stdout.buffer.write(bytes(transcript))
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
