#!/usr/bin/env python3
# gen-maildrops.py - deterministic maildrops for the benchmark
# (doc/PERFORMANCE.md).  GPL-3.0-or-later.
#
# For every user it writes the same messages three ways, so that every
# server serves the same octets:
#   <home-root>/<user>/Maildir/cur/<name>,S=<size>,W=<crlf size>:2,S
#   <spool>/<user>                      (an mbox, for popa3d)
#   <manifest>/<user>                   one line per message:
#                                       "<octets with CRLF> <crc32 hex>"
# The manifest is what tests/bench/popload checks every retrieved message
# against: its length and the CRC-32 (zlib's, IEEE 802.3) of its CRLF
# form, so a changed, missing or extra octet is caught.
#
# Messages: LF line ends on disk, a plain RFC 5322 header, printable body
# lines; some body lines are ".", start with "." or with "..", so
# dot-stuffing is exercised; none starts with "From " (mbox-safe without
# quoting).  Sizes are log-uniform between --min and --max octets.  The
# random generator is seeded with "<seed>/<user>", so a user's messages do
# not depend on which other users are generated.
#
#   gen-maildrops.py --users popbench1..popbench100 --msgs 50 \
#       --min 1024 --max 102400 --manifest DIR [--seed 42] [--chown]
#   gen-maildrops.py --users popbenchbulk --msgs 2000 --min 102400 \
#       --max 102400 --manifest DIR

import argparse
import math
import os
import pwd
import random
import shutil
import sys
import zlib

VOCAB = ("mail server maildrop message octet line dot stuffing header body "
         "retrieve delete quit status list unique identifier session lock "
         "index cache process privilege root session user password login "
         "greeting capability pipelining timeout folder mailbox spool "
         "delivery client network packet window buffer kernel socket "
         "benchmark median repetition ratio figure quiet machine").split()

def words(rng, lo, hi):
    return " ".join(rng.choice(VOCAB) for _ in range(rng.randint(lo, hi)))


def body_line(rng):
    r = rng.random()
    if r < 0.02:
        return "."                          # a lone dot: stuffed to ".."
    if r < 0.05:
        return "." + words(rng, 1, 6)       # sent as "..word ..."
    if r < 0.07:
        return ".." + words(rng, 1, 6)      # sent as "...word ..."
    if r < 0.10:
        return ""
    return words(rng, 3, 12)


def message(rng, user, n, target):
    head = ("Return-Path: <bench%d@example.org>\n"
            "From: Bench Sender %d <bench%d@example.org>\n"
            "To: %s@example.net\n"
            "Subject: benchmark message %d for %s\n"
            "Date: Mon, 01 Jan 2024 %02d:%02d:00 +0000\n"
            "Message-ID: <%s.%d.%d@bench.example>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n"
            "\n" % (n % 13, n % 13, n % 13, user, n, user, n // 60 % 24,
                    n % 60, user, n, rng.getrandbits(32)))
    parts = [head]
    size = len(head)
    while size < target:
        line = body_line(rng) + "\n"
        parts.append(line)
        size += len(line)
    text = "".join(parts)
    if len(text) > target > len(head) + 2:
        # cut to the exact target, keeping a final newline
        text = text[:target - 1].rstrip("\n") + "\n"
    if "\nFrom " in text:
        raise SystemExit("internal error: a body line starts with From")
    return text.encode("ascii")


def user_list(spec):
    """'name1..name100' (same prefix, numeric suffixes) or 'a,b,c'."""
    if ".." in spec:
        first, last = spec.split("..", 1)
        p1 = first.rstrip("0123456789")
        p2 = last.rstrip("0123456789")
        if p1 != p2 or p1 == first or p2 == last:
            raise SystemExit("bad user range %r" % spec)
        return ["%s%d" % (p1, i)
                for i in range(int(first[len(p1):]), int(last[len(p2):]) + 1)]
    return [u for u in spec.split(",") if u]


def chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for f in files:
            os.chown(os.path.join(root, f), uid, gid)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--users", required=True)
    ap.add_argument("--msgs", type=int, default=50)
    ap.add_argument("--min", type=int, default=1024)
    ap.add_argument("--max", type=int, default=102400)
    ap.add_argument("--seed", default="42")
    ap.add_argument("--home-root", default="/home")
    ap.add_argument("--spool", default="/var/mail")
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--no-mbox", action="store_true",
                    help="write only the Maildir (and the manifest)")
    ap.add_argument("--chown", action="store_true",
                    help="give each user's files to the system user")
    a = ap.parse_args()
    if a.min < 256 or a.max < a.min:
        raise SystemExit("need 256 <= --min <= --max")

    os.makedirs(a.manifest, exist_ok=True)
    if not a.no_mbox:
        os.makedirs(a.spool, exist_ok=True)
    users = user_list(a.users)
    total_msgs = total_octets = 0
    for user in users:
        rng = random.Random("%s/%s" % (a.seed, user))
        md = os.path.join(a.home_root, user, "Maildir")
        if os.path.isdir(md):
            shutil.rmtree(md)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        lines = []
        mbox = None
        if not a.no_mbox:
            mbox = open(os.path.join(a.spool, user), "wb")
        for n in range(1, a.msgs + 1):
            if a.min == a.max:
                target = a.min
            else:
                target = int(math.exp(rng.uniform(math.log(a.min),
                                                  math.log(a.max))))
            data = message(rng, user, n, target)
            wire = data.replace(b"\n", b"\r\n")
            name = "%d.M%dP%d.bench,S=%d,W=%d:2,S" % (
                1700000000 + n, n, 1000 + n % 97, len(data), len(wire))
            with open(os.path.join(md, "cur", name), "wb") as f:
                f.write(data)
            if mbox is not None:
                mbox.write(b"From bench@example.org Mon Jan  1 00:00:00 2024\n")
                mbox.write(data)
                mbox.write(b"\n")
            lines.append("%d %08x\n" % (len(wire), zlib.crc32(wire)))
            total_msgs += 1
            total_octets += len(wire)
        if mbox is not None:
            mbox.close()
        with open(os.path.join(a.manifest, user), "w") as f:
            f.writelines(lines)
        if a.chown:
            pw = pwd.getpwnam(user)
            chown_tree(os.path.join(a.home_root, user), pw.pw_uid, pw.pw_gid)
            if mbox is not None:
                sp = os.path.join(a.spool, user)
                os.chown(sp, pw.pw_uid, pw.pw_gid)
                os.chmod(sp, 0o600)
    print("gen-maildrops: %d users, %d messages, %d octets on the wire"
          % (len(users), total_msgs, total_octets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
