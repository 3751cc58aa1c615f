#!/usr/bin/env python3
"""A test collector for the http output: a real HTTP(S) server (stdlib).

Serves POSTs of NDJSON or JSON-array bodies (gzip or not) and records:
  DIR/requests.ndjson  one JSON object per request: key (Idempotency-Key),
                       lines, status answered, accepted, dup, headers of
                       interest, client port (one per connection), client
                       certificate subject, fault applied
  DIR/all.ndjson       every line of every accepted request (duplicates
                       included)
  DIR/dedup.ndjson     the lines of accepted requests whose Idempotency-Key
                       was new: the collector's deduplicated copy
A request is "accepted" when its lines were recorded; a retry of an
accepted request (same key) is answered 200, counted as a duplicate and
kept out of dedup.ndjson.  Keys survive a restart (read back from
requests.ndjson).

Faults, set at start (--faults JSON) or at run time (POST /_control with a
JSON object; counts are numbers of requests to apply the fault to):
  {"fail_500": N}                 answer 500, record nothing
  {"fail_429": N, "retry_after": "2" | "date:2"}
                                  429 with Retry-After in seconds, or as an
                                  HTTP-date that many seconds ahead
  {"max_body": BYTES}             413 when the decoded body is larger
  {"slow": N, "slow_secs": S}     record, then answer only after S seconds
                                  (past the client's timeout: it retries)
  {"reset": N}                    read the body, then reset the connection
  {"reset_accepted": N}           record, then reset the connection
  {"answer": {"status": 400, "n": N, "record": false, "body": "..."}}
                                  answer that status (recording first when
                                  record is true)
  {"delay_ms_max": MS}            sleep a random 0..MS before answering
                                  every request (answers come out of order)
  {"hold": N}                     record, then answer nothing until
                                  {"release": true} (or hold_secs, default
                                  60), then reset the connection: the
                                  client never learns it was accepted
GET /_stats returns counters as JSON.  --count-only records nothing but
the counters (benchmarks).

TLS: --tls-cert/--tls-key serve HTTPS; --client-ca requires a client
certificate signed by that CA.

Usage:
  collector.py serve --dir DIR [--port N] [--port-file F] [options]
  collector.py ctl [--https] PORT JSON    POST /_control
  collector.py stats [--https] PORT       GET /_stats
"""
import argparse
import email.utils
import gzip
import http.server
import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.request


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.faults = {}
        self.released = threading.Event()
        self.seen = set()
        self.stats = {"requests": 0, "accepted": 0, "dups": 0, "lines": 0,
                      "dedup_lines": 0, "dup_lines": 0, "bytes": 0,
                      "decoded_bytes": 0, "rejected": 0}
        self.files = None
        if not args.count_only:
            os.makedirs(args.dir, exist_ok=True)
            path = os.path.join(args.dir, "requests.ndjson")
            if os.path.exists(path):
                with open(path) as f:
                    for line in f:
                        try:
                            r = json.loads(line)
                        except ValueError:
                            continue
                        if r.get("accepted") and r.get("key"):
                            self.seen.add(r["key"])
            self.files = {name: open(os.path.join(args.dir, name), "ab")
                          for name in ("requests.ndjson", "all.ndjson",
                                       "dedup.ndjson")}

    def take(self, name):
        """Consumes one application of a counted fault; True if applied."""
        n = self.faults.get(name, 0)
        if n > 0:
            self.faults[name] = n - 1
            return True
        return False

    def log_request(self, rec):
        if self.files is not None:
            self.files["requests.ndjson"].write(
                (json.dumps(rec, sort_keys=True) + "\n").encode())
            self.files["requests.ndjson"].flush()

    def record(self, key, lines):
        """Records an accepted request; returns True when it is a dup."""
        dup = key is not None and key in self.seen
        if key is not None:
            self.seen.add(key)
        self.stats["accepted"] += 1
        self.stats["lines"] += len(lines)
        if dup:
            self.stats["dups"] += 1
            self.stats["dup_lines"] += len(lines)
        else:
            self.stats["dedup_lines"] += len(lines)
        if self.files is not None:
            data = b"".join(l + b"\n" for l in lines)
            self.files["all.ndjson"].write(data)
            self.files["all.ndjson"].flush()
            if not dup:
                self.files["dedup.ndjson"].write(data)
                self.files["dedup.ndjson"].flush()
        return dup


def split_lines(body, ctype):
    """The records of a body, byte-exact: NDJSON lines or array items."""
    if body[:1] == b"[":
        text = body.decode("utf-8")
        dec = json.JSONDecoder()
        out, i, n = [], 1, len(text)
        while i < n:
            while i < n and text[i] in " \t\r\n,":
                i += 1
            if i >= n or text[i] == "]":
                break
            _, end = dec.raw_decode(text, i)
            out.append(text[i:end].encode("utf-8"))
            i = end
        return out
    return [l for l in body.split(b"\n") if l]


def count_records(body):
    if body[:1] == b"[":
        return len(split_lines(body, None))
    return body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the status line and headers go out in one write and the
    # body in another; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms on loopback), which bounded every request.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError) as e:
                self.server.state.stats.setdefault("tls_failures", 0)
                self.server.state.stats["tls_failures"] += 1
                self.close_connection = True
                raise

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reset(self):
        # SO_LINGER 0: close() sends a RST instead of a FIN.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def do_GET(self):
        st = self.server.state
        if self.path == "/_stats":
            with st.lock:
                body = json.dumps(st.stats).encode()
            self.reply(200, body, {"Content-Type": "application/json"})
        else:
            self.reply(404)

    def do_POST(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length) if length > 0 else b""
        if self.path == "/_control":
            with st.lock:
                ctl = json.loads(raw or b"{}")
                if ctl.pop("release", False):
                    st.released.set()
                if ctl.get("hold"):
                    st.released.clear()
                st.faults.update(ctl)
            self.reply(200, b"ok\n")
            return
        try:
            body = gzip.decompress(raw) \
                if self.headers.get("Content-Encoding") == "gzip" else raw
        except (OSError, EOFError):
            self.reply(400, b"bad gzip\n")
            return
        key = self.headers.get("Idempotency-Key")
        rec = {"t": time.time(), "key": key, "path": self.path,
               "bytes": len(raw), "decoded": len(body),
               "encoding": self.headers.get("Content-Encoding"),
               "ctype": self.headers.get("Content-Type"),
               "authorization": self.headers.get("Authorization"),
               "x_tenant": self.headers.get("X-Tenant"),
               "user_agent": self.headers.get("User-Agent"),
               "client_port": self.client_address[1],
               "accepted": False, "dup": False}
        if isinstance(self.connection, ssl.SSLSocket):
            cert = self.connection.getpeercert()
            if cert:
                rec["client_cert"] = dict(
                    x[0] for x in cert.get("subject", ()))
        fault, status, answer_body, headers = None, 200, b"ok\n", {}
        with st.lock:
            st.stats["requests"] += 1
            st.stats["bytes"] += len(raw)
            st.stats["decoded_bytes"] += len(body)
            delay = st.faults.get("delay_ms_max", 0)
            ans = st.faults.get("answer")
            if st.take("fail_500"):
                fault, status = "500", 500
            elif st.take("fail_429"):
                fault, status = "429", 429
                ra = str(st.faults.get("retry_after", "1"))
                if ra.startswith("date:"):
                    headers["Retry-After"] = email.utils.formatdate(
                        time.time() + float(ra[5:]), usegmt=True)
                else:
                    headers["Retry-After"] = ra
                rec["retry_after"] = headers["Retry-After"]
            elif st.faults.get("max_body") and \
                    len(body) > st.faults["max_body"]:
                fault, status = "413", 413
                answer_body = b"payload too large\n"
            elif ans and ans.get("n", 0) > 0:
                ans["n"] -= 1
                fault, status = "answer", int(ans["status"])
                answer_body = ans.get("body", "no").encode()
            elif st.take("reset"):
                fault = "reset"
            elif st.take("reset_accepted"):
                fault = "reset_accepted"
            elif st.take("slow"):
                fault = "slow"
            elif st.take("hold"):
                fault = "hold"
            accept = fault in (None, "slow", "reset_accepted", "hold") or \
                (fault == "answer" and ans.get("record"))
            if accept:
                if st.args.count_only:
                    n = count_records(body)
                    st.stats["accepted"] += 1
                    st.stats["lines"] += n
                    st.stats["dedup_lines"] += n
                else:
                    rec["lines"] = len(split_lines(body, rec["ctype"]))
                    rec["dup"] = st.record(key, split_lines(body,
                                                            rec["ctype"]))
                rec["accepted"] = True
            elif status >= 400:
                st.stats["rejected"] += 1
            rec["fault"] = fault
            rec["status"] = status
            st.log_request(rec)
            slow_secs = float(st.faults.get("slow_secs", 3))
            hold_secs = float(st.faults.get("hold_secs", 60))
        if fault == "hold":
            st.released.wait(hold_secs)
        if fault in ("reset", "reset_accepted", "hold"):
            self.reset()
            return
        if fault == "slow":
            time.sleep(slow_secs)
        elif delay:
            time.sleep(random.uniform(0, delay) / 1000.0)
        try:
            self.reply(status, answer_body, headers)
        except OSError:
            self.close_connection = True


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass  # TLS failures and resets: counted, not printed


def serve(args):
    state = State(args)
    if args.faults:
        state.faults.update(json.loads(args.faults))
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = state
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                     do_handshake_on_connect=False)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        os.rename(tmp, args.port_file)
    srv.serve_forever(poll_interval=0.1)


def request(port, path, data=None, https=False):
    req = urllib.request.Request("%s://127.0.0.1:%d%s" % (
        "https" if https else "http", port, path), data=data)
    ctx = ssl._create_unverified_context() if https else None
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        return r.read().decode()


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--dir", default=".")
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--port-file")
    s.add_argument("--faults")
    s.add_argument("--count-only", action="store_true")
    s.add_argument("--tls-cert")
    s.add_argument("--tls-key")
    s.add_argument("--client-ca")
    c = sub.add_parser("ctl")
    c.add_argument("--https", action="store_true")
    c.add_argument("port", type=int)
    c.add_argument("json")
    t = sub.add_parser("stats")
    t.add_argument("--https", action="store_true")
    t.add_argument("port", type=int)
    args = ap.parse_args()
    if args.cmd == "serve":
        serve(args)
    elif args.cmd == "ctl":
        sys.stdout.write(request(args.port, "/_control",
                                 args.json.encode(), args.https))
    else:
        print(request(args.port, "/_stats", None, args.https))


if __name__ == "__main__":
    main()
