"""A loopback HTTP proxy in front of the S3 stand-in that cuts the first GET of
each object whose key contains a marker: it sends the headers and half of the
body, then drops the connection. Used by tests/it/s3.rs to prove that costjob
resumes the object with a ranged GET and counts nothing twice.

  flaky_proxy.py LISTEN_PORT UPSTREAM_URL MARKER
"""
import http.client
import http.server
import sys
import threading
import urllib.parse

listen_port, upstream, marker = int(sys.argv[1]), sys.argv[2], sys.argv[3]
target = urllib.parse.urlparse(upstream)
cut = set()
lock = threading.Lock()


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        conn.request(self.command, self.path, body=body, headers=dict(self.headers))
        response = conn.getresponse()
        data = response.read()
        with lock:
            first = (self.command == "GET" and marker in self.path and "Range" not in self.headers
                     and self.path not in cut and response.status == 200)
            if first:
                cut.add(self.path)
                print(f"cut {self.path}", flush=True)
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() not in ("transfer-encoding", "connection"):
                self.send_header(k, v)
        self.end_headers()
        if first:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Proxy).serve_forever()
