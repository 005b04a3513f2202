#!/usr/bin/env python3
# summarize.py - tables from a benchmark raw.txt (tests/bench/run.sh):
# per workload and server the median over the repetitions, min-max, the
# ratio of the median to the reference server's median from the same run,
# the load average seen before the measurements, and the error count;
# then one table of ratios.  GPL-3.0-or-later.
#
#   summarize.py RAW [REFERENCE]          REFERENCE defaults to dovecot-hp
#
# A raw line is "TEST <workload> <rep> load1=<x> RESULT key=value ...".

import statistics
import sys

# workload -> (metric, unit, extra columns)
METRICS = {
    "fetch": ("sess_per_s", "sessions/s", ["msgs_per_s", "MB_per_s",
                                           "p50_ms", "p99_ms"]),
    "fetch-qa": ("sess_per_s", "sessions/s", ["msgs_per_s", "MB_per_s",
                                              "p50_ms", "p99_ms"]),
    "poll": ("sess_per_s", "sessions/s", ["p50_ms", "p99_ms"]),
    "bulk": ("MB_per_s", "MB/s", ["retr_secs"]),
    "bulk-qa": ("MB_per_s", "MB/s", ["retr_secs"]),
    "idle": ("pss_per_sess_kb", "PSS KB/session (lower is better)",
             ["rss_per_sess_kb", "ok", "procs"]),
    "login-cold": ("login_median_s", "s (lower is better)",
                   ["stat_median_s"]),
    "login-warm": ("login_median_s", "s (lower is better)",
                   ["stat_median_s"]),
}


def number(text):
    s = "%.3g" % text if abs(text) < 10 else "%.1f" % text
    return s if abs(text) < 100000 else "%.0f" % text


def parse(path):
    runs = {}           # (workload, server) -> [dict]
    order = []          # workloads in order of appearance
    servers = []
    for line in open(path):
        f = line.split()
        if len(f) < 5 or f[0] != "TEST" or f[4] != "RESULT":
            continue
        work = f[1]
        kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
        srv = kv.get("server", "?")
        runs.setdefault((work, srv), []).append(kv)
        if work not in order:
            order.append(work)
        if srv not in servers:
            servers.append(srv)
    return runs, order, servers


def values(rows, key):
    out = []
    for r in rows:
        try:
            out.append(float(r[key]))
        except (KeyError, ValueError):
            pass
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: summarize.py RAW [REFERENCE]")
    ref = sys.argv[2] if len(sys.argv) > 2 else "dovecot-hp"
    runs, order, servers = parse(sys.argv[1])
    medians = {}
    for work in order:
        metric, unit, extra = METRICS.get(work, ("sess_per_s", "", []))
        print("\n### %s: %s, median [min-max] of the repetitions; "
              "ratio = median / %s median\n" % (work, unit, ref))
        print("| server | reps | median | min-max | ratio | "
              + " | ".join(extra) + " | load1 | errors |")
        print("|" + "---|" * (7 + len(extra)))
        refv = values(runs.get((work, ref), []), metric)
        refm = statistics.median(refv) if refv else None
        for srv in servers:
            rows = runs.get((work, srv))
            if not rows:
                continue
            v = values(rows, metric)
            failed = sum(1 for r in rows if r.get("failed") == "1")
            errors = sum(int(float(r.get("errors", 0))) for r in rows)
            if not v:
                print("| %s | %d | failed | | | %s | | %d |"
                      % (srv, len(rows), " | ".join("" for _ in extra),
                         failed))
                continue
            m = statistics.median(v)
            medians[(work, srv)] = m
            ratio = "%.2f" % (m / refm) if refm else "-"
            ex = []
            for k in extra:
                xv = values(rows, k)
                ex.append(number(statistics.median(xv)) if xv else "-")
            lv = values(rows, "load1")
            print("| %s | %d | %s | %s-%s | %s | %s | %s | %d |"
                  % (srv, len(v), number(m), number(min(v)),
                     number(max(v)), ratio, " | ".join(ex),
                     number(statistics.median(lv)) if lv else "-",
                     errors + failed))
    print("\n### Ratios to %s (same run; medians)\n" % ref)
    print("| server | " + " | ".join(order) + " |")
    print("|" + "---|" * (1 + len(order)))
    for srv in servers:
        cells = []
        for work in order:
            m = medians.get((work, srv))
            r = medians.get((work, ref))
            cells.append("%.2f" % (m / r) if m is not None and r else "-")
        print("| %s | %s |" % (srv, " | ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
