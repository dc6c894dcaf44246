#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""etag-http.py DIR PORT: serve DIR on 127.0.0.1:PORT like `python3 -m http.server`,
but with an ETag (size and mtime of the file) on every file and 304 Not Modified when a
request's If-None-Match names the current one. While DIR/.ignore-inm exists the server
ignores If-None-Match (and still sends the ETag), as some servers do; while
DIR/.throttle exists it sends at most 64 KiB every 50 ms (about 1.3 MB/s), so a
transfer lasts long enough to watch and interrupt. One log line per
request on stderr: "METHOD PATH STATUS" after the usual prefix."""

import functools
import http.server
import os
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    etag = None

    def send_head(self):
        path = self.translate_path(self.path)
        self.etag = None
        if os.path.isfile(path):
            st = os.stat(path)
            self.etag = '"%x-%x"' % (st.st_size, st.st_mtime_ns)
            ignore = os.path.exists(os.path.join(self.directory, ".ignore-inm"))
            if not ignore and self.headers.get("If-None-Match") == self.etag:
                self.send_response(304)
                self.end_headers()
                return None
        return super().send_head()

    def copyfile(self, source, outputfile):
        if not os.path.exists(os.path.join(self.directory, ".throttle")):
            return super().copyfile(source, outputfile)
        while True:
            chunk = source.read(64 * 1024)
            if not chunk:
                return
            outputfile.write(chunk)
            time.sleep(0.05)

    def end_headers(self):
        if self.etag:
            self.send_header("ETag", self.etag)
        super().end_headers()


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    handler = functools.partial(Handler, directory=directory)
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        httpd.serve_forever()


if __name__ == "__main__":
    main()
