#!/usr/bin/env python3
"""Compares the events written (source NDJSON files) with the events shipped
(output NDJSON files), matching them by their `id` member.

usage: exactly_once.py --sent FILE... --got FILE... [--allow-dup]

Prints one line "sent N got M missing K duplicated D altered A" and exits 0
only when something was sent, nothing is missing, nothing is duplicated (unless --allow-dup) and
every shipped event equals the one sent, apart from the reserved `auditship`
member and values (or parts of strings) the scrubber replaced with
"[REDACTED]".
"""
import argparse
import json
import re
import sys


def load(paths):
    for p in paths:
        try:
            with open(p, "rb") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        e = json.loads(line)
                    except ValueError:
                        continue  # a deliberately invalid line
                    if isinstance(e, dict) and "id" in e:
                        yield e
        except FileNotFoundError:
            pass


def same(sent, got):
    if isinstance(got, str) and got == "[REDACTED]":
        return True
    if isinstance(got, str) and isinstance(sent, str) and "[REDACTED]" in got:
        # A secret inside a string: only that part was replaced.
        pat = ".+".join(re.escape(p) for p in got.split("[REDACTED]"))
        return re.fullmatch(pat, sent, re.S) is not None
    if isinstance(sent, dict) and isinstance(got, dict):
        if set(sent) != set(got) - {"auditship"}:
            return False
        return all(same(sent[k], got[k]) for k in sent)
    if isinstance(sent, list) and isinstance(got, list):
        return len(sent) == len(got) and all(same(a, b) for a, b in zip(sent, got))
    return sent == got


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sent", nargs="+", required=True)
    ap.add_argument("--got", nargs="+", required=True)
    ap.add_argument("--allow-dup", action="store_true")
    ap.add_argument("--ignore-id", action="append", default=[],
                    help="an event sent on purpose invalid (not expected)")
    a = ap.parse_args()
    sent = {}
    for e in load(a.sent):
        if e["id"] not in a.ignore_id:
            sent[e["id"]] = e
    seen = {}
    altered = 0
    for e in load(a.got):
        i = e.get("id")
        if i is None:
            continue
        seen[i] = seen.get(i, 0) + 1
        if i in sent and seen[i] == 1 and not same(sent[i], e):
            altered += 1
    missing = sum(1 for i in sent if i not in seen)
    dup = sum(n - 1 for n in seen.values())
    print(f"sent {len(sent)} got {sum(seen.values())} missing {missing} "
          f"duplicated {dup} altered {altered}")
    ok = len(sent) > 0 and missing == 0 and altered == 0 and (dup == 0 or a.allow_dup)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
