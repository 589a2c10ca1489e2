"""A loopback HTTP proxy in front of the AWS stand-in (moto) that injects the
faults real S3 and Glue produce, on chosen calls, so the tests can prove what
costjob does under them (tests/it/s3.rs).

  fault_proxy.py LISTEN_PORT UPSTREAM_URL RULES_JSON

RULES_JSON is a list of rules; a request takes the first rule that matches it
and still has uses left. A rule matches on every field it has:

  method     "GET", "PUT", ...               the HTTP method
  path       a substring of the path, as sent (the SDK writes "=" in a key
             as "%3D")  e.g. the key "/exports/2026-11-23/"
  target     a substring of X-Amz-Target     e.g. "AWSGlue.BatchUpdatePartition"
  body       a substring of the request body e.g. "flow_summary"
  header     a header the request has        e.g. "If-Match"
  no_header  a header the request lacks      e.g. "Range"

and applies its fault:

  cut        the upstream's status and headers (Content-Length whole), then
             half of the body, then the connection closed: a reset mid-object
  short      the upstream's response with half of its body and a Content-Length
             that matches it: a body that ends early without an error
  status     an error response instead of the upstream's: "status" (default
             503) with "code" (S3 XML, or a JSON "__type" for JSON APIs)
  stall      waits "seconds", then forwards the request

"times" bounds how often a rule fires (default: always); with "per_path" the
bound counts per distinct path (each object's first GET, say). Each fault
applied is printed as one JSON line on stdout: {"fault", "method", "path"}.
"""
import http.client
import http.server
import json
import sys
import threading
import time
import urllib.parse

listen_port, upstream, rules = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
target = urllib.parse.urlparse(upstream)
assert target.hostname == "127.0.0.1", "loopback only"
used = {}
lock = threading.Lock()


def pick(method, path, headers, body):
    """The first matching rule with uses left, its use counted."""
    text = body.decode("utf-8", "replace") if body else ""
    for n, rule in enumerate(rules):
        if "method" in rule and rule["method"] != method:
            continue
        if "path" in rule and rule["path"] not in path:
            continue
        if "target" in rule and rule["target"] not in headers.get("X-Amz-Target", ""):
            continue
        if "body" in rule and rule["body"] not in text:
            continue
        if "header" in rule and rule["header"] not in headers:
            continue
        if "no_header" in rule and rule["no_header"] in headers:
            continue
        key = (n, path) if rule.get("per_path") else n
        with lock:
            if "times" in rule and used.get(key, 0) >= rule["times"]:
                continue
            used[key] = used.get(key, 0) + 1
        with lock:
            sys.stdout.write(json.dumps({"fault": rule["fault"], "method": method, "path": path}) + "\n")
            sys.stdout.flush()
        return rule
    return None


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        rule = pick(self.command, self.path, self.headers, body)
        fault = rule["fault"] if rule else None
        if fault == "stall":
            time.sleep(rule.get("seconds", 5))
        if fault == "status":
            return self.error(rule)
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        conn.request(self.command, self.path, body=body, headers=dict(self.headers))
        response = conn.getresponse()
        data = response.read()
        if fault == "short":
            data = data[: len(data) // 2]
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() == "content-length" and fault == "short":
                v = str(len(data))
            if k.lower() not in ("transfer-encoding", "connection"):
                self.send_header(k, v)
        self.end_headers()
        if fault == "cut":
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data)

    def error(self, rule):
        status = rule.get("status", 503)
        code = rule.get("code", "SlowDown" if status == 503 else "InternalError")
        if "X-Amz-Target" in self.headers:  # a JSON API (Glue, Athena)
            data = json.dumps({"__type": code, "message": "injected by the fault proxy"}).encode()
            kind = "application/x-amz-json-1.1"
        else:  # S3's XML errors
            data = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>"
                    f"<Message>injected by the fault proxy</Message></Error>").encode()
            kind = "application/xml"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = forward


http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Proxy).serve_forever()
