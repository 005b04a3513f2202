#!/usr/bin/env python3
# crosstab.py - one markdown table from the raw lines of logins.sh,
# mbox.sh and maildir100k.sh: a row per measurement (the TEST name), a
# column per server, each cell the median over the repetitions with its
# min-max, then the ratio of each server to the reference server in the
# same row, the errors and the 1-minute load average seen before the
# measurements.  GPL-3.0-or-later.
#
#   crosstab.py RAW REF [--row ROW=LABEL]... [--lower]
#
# A raw line is "TEST <row> <rep> load1=<x> RESULT key=value ...".  The
# metric of a row is sess_per_s (fetch, poll), MB_per_s (bulk) or, for
# popload login, the login+STAT time in seconds of every repetition in the
# line (login<i>_s + stat<i>_s); for times the ratio is REF's time over
# the server's, so that above 1 is better for every row.

import statistics
import sys


def numbers(kv):
    mode = kv.get("mode")
    if mode == "login":
        out = []
        i = 1
        while "login%d_s" % i in kv:
            out.append(float(kv["login%d_s" % i]) +
                       float(kv.get("stat%d_s" % i, 0)))
            i += 1
        return out, "s"
    for key, unit in (("sess_per_s", "sessions/s"), ("MB_per_s", "MB/s")):
        if key in kv:
            return [float(kv[key])], unit
    return [], ""


def fmt(x):
    if x >= 100:
        return "%.1f" % x
    if x >= 1:
        return "%.2f" % x
    return "%.3f" % x


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        sys.exit("usage: crosstab.py RAW REF [--row ROW=LABEL]...")
    raw, ref = args[0], args[1]
    labels = {}
    rest = args[2:]
    while rest:
        if rest[0] == "--row" and len(rest) > 1:
            k, _, v = rest[1].partition("=")
            labels[k] = v
            rest = rest[2:]
        else:
            sys.exit("crosstab.py: unknown argument %r" % rest[0])
    cells = {}        # (row, server) -> [values]
    errs = {}         # (row, server) -> errors
    loads = {}        # row -> [load1]
    units = {}
    rows, servers = [], []
    for line in open(raw):
        f = line.split()
        if len(f) < 5 or f[0] != "TEST" or f[4] != "RESULT":
            continue
        row = f[1]
        kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
        srv = kv.get("server", "?")
        if row not in rows:
            rows.append(row)
        if srv not in servers:
            servers.append(srv)
        v, unit = numbers(kv)
        if unit:
            units[row] = unit
        cells.setdefault((row, srv), []).extend(v)
        e = int(float(kv.get("errors", 0)))
        if kv.get("mode") == "login":
            e += 0 if kv.get("ok") == kv.get("reps") else 1
        if kv.get("failed") == "1" or not v:
            e += 1
        errs[(row, srv)] = errs.get((row, srv), 0) + e
        try:
            loads.setdefault(row, []).append(float(kv["load1"]))
        except (KeyError, ValueError):
            pass
    others = [s for s in servers if s != ref]
    head = ["measurement", "unit"] + servers + \
        ["%s / %s" % (s, ref) for s in others] + ["errors", "load1"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        unit = units.get(row, "")
        med = {}
        out = [labels.get(row, row), unit]
        for s in servers:
            v = cells.get((row, s), [])
            if not v:
                out.append("—")
                continue
            med[s] = statistics.median(v)
            out.append("%s [%s-%s] n=%d" % (fmt(med[s]), fmt(min(v)),
                                             fmt(max(v)), len(v)))
        for s in others:
            if s in med and ref in med and med[s] and med[ref]:
                r = med[ref] / med[s] if unit == "s" else med[s] / med[ref]
                out.append("**%.2f×**" % r)
            else:
                out.append("—")
        out.append(str(sum(errs.get((row, s), 0) for s in servers)))
        ld = loads.get(row, [])
        out.append("%s-%s" % (fmt(min(ld)), fmt(max(ld))) if ld else "—")
        print("| " + " | ".join(out) + " |")
    print()
    print("Ratios: above 1 means faster than %s (for times: %s's time / "
          "the server's time)." % (ref, ref))
    return 0


if __name__ == "__main__":
    sys.exit(main())
