#!/usr/bin/env python3
"""A socket-input client for the integration tests and the benchmark.

usage:
  sock_client.py stream --socket PATH [--conns N] [--map FILE] EVENTS
      Sends the lines of EVENTS over N concurrent connections, one sending
      process per connection (each takes one Nth of the file, in one
      piece), and waits for all.
  sock_client.py dgram --socket PATH [--procs N] [--map FILE] EVENTS
      Sends each line of EVENTS as one datagram (non-blocking: retries on
      EAGAIN, which is how the agent's backpressure shows), from N processes
      (each takes one Nth of the file, in one piece).
  sock_client.py peers --map FILE --got OUT...
      Checks that every shipped event whose id is in the map carries
      auditship.peer with the pid that sent it and this user's uid and gid.
  sock_client.py block --socket PATH --status FILE [--wait S] EVENTS
      Sends EVENTS over one blocking connection from a thread; after S
      seconds writes "blocked" to FILE if the send has not finished (else
      "done"), then waits for the send to finish.

  sock_client.py find --got OUT... --contains TEXT [--input ID] [--peer]
      [--syslog] [--comm C] [--exe E] [--count N]
      Succeeds when exactly N (default: at least 1) shipped records contain
      TEXT in their `message` (format: raw) or `raw` member, from input ID;
      --peer: with an auditship.peer holding a pid and our uid and gid (a
      short-lived sender may be gone before the agent reads /proc, so comm
      and exe are checked only when asked, for senders that wait);
      --comm, --exe: and that comm and exe; --syslog: decoded by the
      syslog decoder (a `syslog` member).
  sock_client.py linger --socket PATH [--datagram] TEXT
      Sends TEXT (one line or one datagram), then stays alive for a second
      so that the agent finds it in /proc.

--map FILE records "ID PID" for every event sent.  --go FIFO (stream,
dgram): the senders prepare their data and connect, then FIFO.ready is
created and they wait until a line is written to FIFO (made here), so that
a benchmark times the sending alone.  Exit status 0 on
success; the peers check prints "peers: N checked, M wrong".
"""
import argparse
import errno
import json
import mmap
import os
import select
import socket
import sys
import threading
import time


def event_ids(lines):
    out = []
    for line in lines:
        try:
            out.append(json.loads(line).get("id"))
        except ValueError:
            out.append(None)
    return out


def write_map(path, k, pairs):
    """Each sender writes its own part; merge_map joins them."""
    if path is None:
        return
    with open(f"{path}.{k}", "w") as f:
        for i, pid in pairs:
            if i is not None:
                f.write(f"{i} {pid}\n")


def merge_map(path, n):
    if path is None:
        return
    with open(path, "w") as out:
        for k in range(n):
            part = f"{path}.{k}"
            with open(part) as f:
                out.write(f.read())
            os.unlink(part)


class Gate:
    """The --go start gate: children block in wait() until open() runs in
    the parent, which first announces FIFO.ready and waits for a line on
    FIFO.  Without --go both do nothing."""

    def __init__(self, fifo, n):
        self.fifo, self.n = fifo, n
        if fifo:
            os.mkfifo(fifo)
            self.r, self.w = os.pipe()
            self.ready_r, self.ready_w = os.pipe()
            self.cpu_r, self.cpu_w = os.pipe()

    def wait(self):
        if self.fifo:
            os.write(self.ready_w, b"x")
            os.read(self.r, 1)
            self.t0 = os.times()

    def done(self):
        """In a child, after sending: reports its CPU since the release."""
        if self.fifo:
            t = os.times()
            os.write(self.cpu_w, f"{t.user - self.t0.user} "
                     f"{t.system - self.t0.system}\n".encode())

    def cpu(self):
        """In the parent, once every child has exited: the senders' CPU
        since their release (user, system)."""
        os.close(self.cpu_w)
        with os.fdopen(self.cpu_r) as f:
            rows = [tuple(map(float, l.split())) for l in f]
        return sum(r[0] for r in rows), sum(r[1] for r in rows)

    def open(self):
        if not self.fifo:
            return
        for _ in range(self.n):
            os.read(self.ready_r, 1)
        open(self.fifo + ".ready", "w").close()
        with open(self.fifo) as f:
            f.readline()
        os.write(self.w, b"x" * self.n)


def fork_each(n, work, gate=None):
    pids = []
    for k in range(n):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                work(k)
                code = 0
            except Exception as e:  # report and fail the child
                print(f"sock_client: child {k}: {e!r}", file=sys.stderr)
            finally:
                os._exit(code)
        pids.append(pid)
    if gate is not None:
        gate.open()
    ok = True
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        ok = ok and os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    if gate is not None and gate.fifo:
        user, system = gate.cpu()
        print(f"sock_client: senders' CPU from their release {user + system:.2f} s "
              f"(system {system:.2f} s)", file=sys.stderr)
    return ok


def open_events(path):
    """EVENTS mapped read-only: the senders share the page cache instead of
    each holding a private copy (a benchmark's senders should not take
    gigabytes of memory from the agent they measure)."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def split_parts(data, n):
    """n contiguous (start, end) ranges of data, each cut after a newline."""
    bounds = [0]
    for k in range(1, n):
        cut = max(len(data) * k // n, bounds[-1])
        nl = data.find(b"\n", cut)
        bounds.append(len(data) if nl < 0 else nl + 1)
    bounds.append(len(data))
    return list(zip(bounds, bounds[1:]))


def cmd_stream(a):
    data = open_events(a.events)
    parts = split_parts(data, a.conns)
    gate = Gate(a.go, a.conns)
    def work(k):
        start, end = parts[k]
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(a.socket)
        gate.wait()
        s.sendall(memoryview(data)[start:end])
        if end > start and end == len(data) and data[end - 1:end] != b"\n":
            s.sendall(b"\n")
        gate.done()
        s.close()
        if a.map:
            mine = data[start:end].splitlines()
            write_map(a.map, k, [(i, os.getpid()) for i in event_ids(mine)])

    if not fork_each(a.conns, work, gate):
        return 1
    merge_map(a.map, a.conns)
    return 0


def cmd_dgram(a):
    data = open_events(a.events)
    parts = split_parts(data, a.procs)
    gate = Gate(a.go, a.procs)
    def work(k):
        mine = data[parts[k][0]:parts[k][1]].splitlines()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.connect(a.socket)
        s.setblocking(False)
        eagain = 0
        gate.wait()
        for l in mine:
            while True:
                try:
                    s.send(l)
                    break
                except BlockingIOError:
                    eagain += 1
                    select.select([], [s], [], 1.0)
        gate.done()
        s.close()
        if a.map:
            write_map(a.map, k, [(i, os.getpid()) for i in event_ids(mine)])
        if a.verbose:
            print(f"sock_client: pid {os.getpid()}: {len(mine)} datagrams, "
                  f"{eagain} EAGAIN", file=sys.stderr)

    if not fork_each(a.procs, work, gate):
        return 1
    merge_map(a.map, a.procs)
    return 0


def cmd_peers(a):
    want = {}
    with open(a.map) as f:
        for line in f:
            i, pid = line.split()
            want[i] = int(pid)
    checked = wrong = 0
    seen = set()
    for path in a.got:
        with open(path, "rb") as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                i = e.get("id")
                if i not in want:
                    continue
                seen.add(i)
                checked += 1
                p = e.get("auditship", {}).get("peer")
                if (not isinstance(p, dict) or p.get("pid") != want[i]
                        or p.get("uid") != os.getuid()
                        or p.get("gid") != os.getgid()
                        or not p.get("comm")):
                    wrong += 1
                    if wrong <= 3:
                        print(f"peers: {i}: want pid {want[i]}, got {p}",
                              file=sys.stderr)
    missing = len(want) - len(seen)
    print(f"peers: {checked} checked, {wrong} wrong, {missing} not found")
    return 0 if checked > 0 and wrong == 0 and missing == 0 else 1


def cmd_find(a):
    n = 0
    for path in a.got:
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            continue
        with f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                text = e.get("message", e.get("raw", ""))
                if not isinstance(text, str) or a.contains not in text:
                    continue
                au = e.get("auditship", {})
                if a.input is not None and au.get("input") != a.input:
                    continue
                if a.syslog and not isinstance(e.get("syslog"), dict):
                    continue
                peer = au.get("peer")
                if a.peer or a.comm is not None or a.exe is not None:
                    if (not isinstance(peer, dict)
                            or not isinstance(peer.get("pid"), int)
                            or peer["pid"] <= 0
                            or peer.get("uid") != os.getuid()
                            or peer.get("gid") != os.getgid()):
                        continue
                if a.comm is not None and peer.get("comm") != a.comm:
                    continue
                if a.exe is not None and peer.get("exe") != a.exe:
                    continue
                n += 1
    if a.count is not None:
        return 0 if n == a.count else 1
    return 0 if n > 0 else 1


def cmd_linger(a):
    s = socket.socket(socket.AF_UNIX,
                      socket.SOCK_DGRAM if a.datagram else socket.SOCK_STREAM)
    s.connect(a.socket)
    s.sendall(a.text.encode() + (b"" if a.datagram else b"\n"))
    time.sleep(1.0)
    s.close()
    return 0


def cmd_block(a):
    with open(a.events, "rb") as f:
        data = f.read()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(a.socket)
    err = []

    def send():
        try:
            s.sendall(data)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=send)
    t.start()
    t.join(a.wait)
    with open(a.status, "w") as f:
        f.write("blocked\n" if t.is_alive() else "done\n")
    t.join()
    s.close()
    if err:
        print(f"sock_client: send failed: {err[0]!r}", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("stream")
    p.add_argument("--socket", required=True)
    p.add_argument("--conns", type=int, default=1)
    p.add_argument("--map")
    p.add_argument("--go")
    p.add_argument("events")
    p = sub.add_parser("dgram")
    p.add_argument("--socket", required=True)
    p.add_argument("--procs", type=int, default=1)
    p.add_argument("--map")
    p.add_argument("--go")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("events")
    p = sub.add_parser("peers")
    p.add_argument("--map", required=True)
    p.add_argument("--got", nargs="+", required=True)
    p = sub.add_parser("find")
    p.add_argument("--got", nargs="+", required=True)
    p.add_argument("--contains", required=True)
    p.add_argument("--input")
    p.add_argument("--peer", action="store_true")
    p.add_argument("--syslog", action="store_true",
                   help="decoded as syslog: has a `syslog` member")
    p.add_argument("--comm")
    p.add_argument("--exe")
    p.add_argument("--count", type=int)
    p = sub.add_parser("linger")
    p.add_argument("--socket", required=True)
    p.add_argument("--datagram", action="store_true")
    p.add_argument("text")
    p = sub.add_parser("block")
    p.add_argument("--socket", required=True)
    p.add_argument("--status", required=True)
    p.add_argument("--wait", type=float, default=3.0)
    p.add_argument("events")
    a = ap.parse_args()
    return {"stream": cmd_stream, "dgram": cmd_dgram, "peers": cmd_peers,
            "block": cmd_block, "find": cmd_find, "linger": cmd_linger}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
