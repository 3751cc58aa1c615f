#!/usr/bin/env python3
"""Appends reference events to a file the way applications do while tests
rotate it: every burst reopens the file in append mode, so after a rename
the writer continues in the new file.

usage: writer.py FILE --events-from SRC [--burst N] [--pause SECONDS]
                 [--truncate-every N --shipped FILE] [--hold FILE]

With --truncate-every, after every N events the writer waits until the
agent has shipped them (FILE holds that many lines), then truncates FILE in
place (`: > FILE`), the rotation a tool without copy does.

With --hold FILE, the writer stops between bursts while FILE exists and
creates FILE.ack while it waits, so a test can run `logrotate` with
copytruncate outside the window in which that strategy itself destroys
lines (written after the copy, before the truncation).
"""
import argparse
import os
import time


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--events-from", required=True)
    ap.add_argument("--burst", type=int, default=20)
    ap.add_argument("--pause", type=float, default=0.002)
    ap.add_argument("--truncate-every", type=int, default=0)
    ap.add_argument("--shipped")
    ap.add_argument("--hold")
    a = ap.parse_args()
    with open(a.events_from, "rb") as f:
        events = f.readlines()
    written = 0
    while written < len(events):
        if a.hold and os.path.exists(a.hold):
            open(a.hold + ".ack", "w").close()
            while os.path.exists(a.hold):
                time.sleep(0.005)
            os.unlink(a.hold + ".ack")
        chunk = events[written:written + a.burst]
        with open(a.file, "ab") as out:
            out.write(b"".join(chunk))
        written += len(chunk)
        if a.truncate_every and written % a.truncate_every == 0 and written < len(events):
            deadline = time.time() + 60
            while count_lines(a.shipped) < written and time.time() < deadline:
                time.sleep(0.05)
            os.truncate(a.file, 0)
        time.sleep(a.pause)


if __name__ == "__main__":
    main()
