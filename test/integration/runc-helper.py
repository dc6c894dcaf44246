#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# runc-helper.py — plays containerd's shim for test-runc.sh: the caller of berth-runc
# whose child the container's init must be.
#
#   runc-helper.py shim RUNC ROOT BUNDLE ID
#       create (with --pid-file), check the init is our direct child that has not run
#       yet, start, reap it; prints "ppid=OK exit=N" (or signal=N)
#   runc-helper.py console RUNC ROOT BUNDLE ID
#       the same with --console-socket: receives the pty master (one SCM_RIGHTS
#       message), prints "tty=OK", then what the container wrote to its terminal
import array
import os
import socket
import subprocess
import sys
import tempfile


def fail(msg):
    print(msg)
    sys.exit(1)


def create(runc, root, bundle, cid, pidfile, extra=()):
    # the init keeps create's stdio (it is the container's): no pipe we would wait on
    with tempfile.TemporaryFile(mode='w+') as err:
        r = subprocess.run([runc, '--root', root, 'create', '--bundle', bundle, '--pid-file', pidfile, *extra, cid],
                           stdin=subprocess.DEVNULL, stdout=sys.stdout, stderr=err)
        if r.returncode != 0:
            err.seek(0)
            fail('create failed: ' + err.read().strip())
    with open(pidfile) as f:
        text = f.read()
    if not text.isdigit():
        fail('pid file is not a bare number: %r' % text)
    pid = int(text)
    with open('/proc/%d/stat' % pid) as f:
        ppid = int(f.read().rsplit(')', 1)[1].split()[1])
    return pid, ppid


def start(runc, root, cid):
    r = subprocess.run([runc, '--root', root, 'start', cid], capture_output=True, text=True)
    if r.returncode != 0:
        fail('start failed: ' + r.stderr.strip())


def reap(pid):
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status):
        return 'exit=%d' % os.WEXITSTATUS(status)
    return 'signal=%d' % os.WTERMSIG(status)


def shim(runc, root, bundle, cid):
    pidfile = os.path.join(tempfile.mkdtemp(), 'pid')
    pid, ppid = create(runc, root, bundle, cid, pidfile)
    start(runc, root, cid)
    print('ppid=%s %s' % ('OK' if ppid == os.getpid() else 'WRONG(%d)' % ppid, reap(pid)))


def recv_fd(conn):
    fds = array.array('i')
    msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(fds.itemsize))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[:fds.itemsize])
    if len(fds) != 1:
        fail('no fd in the console socket message')
    return fds[0]


def console(runc, root, bundle, cid):
    d = tempfile.mkdtemp()
    path = os.path.join(d, 'console.sock')
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    pid, ppid = create(runc, root, bundle, cid, os.path.join(d, 'pid'), ('--console-socket', path))
    conn, _ = srv.accept()
    master = recv_fd(conn)
    istty = os.isatty(master)
    start(runc, root, cid)
    out = b''
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:
            break
        if not b:
            break
        out += b
    print('tty=%s ppid=%s %s' % ('OK' if istty else 'NO', 'OK' if ppid == os.getpid() else 'WRONG', reap(pid)))
    sys.stdout.write(out.decode(errors='replace').replace('\r', ''))


if __name__ == '__main__':
    {'shim': shim, 'console': console}[sys.argv[1]](*sys.argv[2:6])
