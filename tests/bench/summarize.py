#!/usr/bin/env python3
# summarize.py - tables from a benchmark raw.txt (tests/bench/run.sh):
# per workload and server the median over the repetitions, min-max, the
# ratio of the median to the reference server's median from the same run,
# the load average seen before the measurements, and the error count;
# then one table of ratios.  GPL-3.0-or-later.
#
#   summarize.py RAW [REFERENCE]          REFERENCE defaults to dovecot-hp
#   summarize.py --pop2 RAW               run.sh pop2: POP2 against POP3
#
# A raw line is "TEST <workload> <rep> load1=<x> RESULT key=value ...";
# run.sh pop2 writes "TEST pop2-<dialogue> load1=<x> RESULT|RATIO ..." (the
# lines of tests/bench/pop23bench).

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


def tls_metric(work):
    """run.sh tls workloads: tls-fetch-implicit-full and the like"""
    if work.startswith("tls-"):
        return ("sess_per_s", "sessions/s",
                ["resumed_pct", "p50_ms", "p99_ms"])
    return ("sess_per_s", "", [])


def pop2_rounds(rows, num, den):
    """Per-round ratios NUM/DEN (predicates on a RESULT row): by round=N
    when the lines have it, else the phases in pairs (older raw files)."""
    if all("round" in r for r in rows):
        groups = {}
        for r in rows:
            groups.setdefault(r["round"], []).append(r)
        groups = [groups[k] for k in sorted(groups, key=int)]
    else:
        groups = [rows[k:k + 2] for k in range(0, len(rows) - 1, 2)]
    out = []
    for g in groups:
        a = [float(r["sess_per_s"]) for r in g if num(r)]
        b = [float(r["sess_per_s"]) for r in g if den(r)]
        if a and b and b[0] > 0:
            out.append("%.3f" % (a[0] / b[0]))
    return out


def pop2_summary(path):
    """Mean POP2 and POP3 rates per dialogue, the ratio, per-round ratios;
    with pop23bench --control a second table: POP3 with POP2's round trips
    per message between the two."""
    phases = {}         # dialogue -> [(proto, kv)]
    for line in open(path):
        f = line.split()
        if len(f) < 4 or f[0] != "TEST" or not f[1].startswith("pop2-"):
            continue
        if f[3] != "RESULT":
            continue
        kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
        phases.setdefault(f[1][5:], []).append(kv)

    def is2(r):
        return r.get("proto") == "pop2"

    def is3(r):         # plain POP3 (older lines have no control)
        return r.get("proto") == "pop3" and r.get("style", "-") == "-"

    def isc(r):         # the POP3 control
        return r.get("proto") == "pop3" and r.get("style", "-") != "-"

    def rates(rows, pred):
        return [float(r["sess_per_s"]) for r in rows if pred(r)]

    def ratio(a, b):
        return statistics.mean(a) / statistics.mean(b) if a and b \
            and statistics.mean(b) > 0 else 0
    print("\n### POP2 against POP3 on pop23d, same users and maildrops "
          "(sessions/s per phase; ratio = mean POP2 / mean POP3)\n")
    print("| POP2 dialogue | POP3 sessions/s | POP2 sessions/s | "
          "POP2/POP3 | per round | load1 | errors | verify errors | "
          "target >= 0.95 |")
    print("|" + "---|" * 9)
    controls = []
    for dialogue, rows in phases.items():
        if any(r.get("failed") == "1" for r in rows):
            print("| %s | failed | | | | | | | |" % dialogue)
            continue
        r3 = rates(rows, is3)
        r2 = rates(rows, is2)
        errors = sum(int(r.get("errors", 0)) for r in rows)
        verify = sum(int(r.get("err_verify", 0)) for r in rows)
        loads = [float(r["load1"]) for r in rows if "load1" in r]
        rounds = pop2_rounds(rows, is2, is3)
        q = ratio(r2, r3)
        print("| %s | %s | %s | **%.3f** | %s | %s | %d | %d | %s |" % (
            dialogue, ", ".join(number(v) for v in r3),
            ", ".join(number(v) for v in r2), q, ", ".join(rounds),
            number(statistics.median(loads)) if loads else "-",
            errors, verify,
            "met" if q >= 0.95 and errors == 0 else "not met"))
        if any(isc(r) for r in rows):
            controls.append((dialogue, rows, errors))
    if not controls:
        return 0
    print("\n### The round trips on their own: POP3 with POP2's round trips "
          "per message (pop23bench --control)\n")
    print("POP3 control / POP3 is what the extra round trips cost in client "
          "and kernel; POP2 / POP3 control is what POP2's server code "
          "costs beyond them (1.0: nothing).\n")
    print("| POP2 dialogue | POP3 control | POP3 | POP3 control | POP2 | "
          "control/POP3 | POP2/control | POP2/control per round | "
          "POP2/POP3 |")
    print("|" + "---|" * 9)
    for dialogue, rows, errors in controls:
        r3, rc, r2 = rates(rows, is3), rates(rows, isc), rates(rows, is2)
        ctl = next(r["style"] for r in rows if isc(r))
        print("| %s | %s | %s | %s | %s | **%.3f** | **%.3f** | %s | "
              "%.3f |" % (
                  dialogue, ctl, ", ".join(number(v) for v in r3),
                  ", ".join(number(v) for v in rc),
                  ", ".join(number(v) for v in r2), ratio(rc, r3),
                  ratio(r2, rc), ", ".join(pop2_rounds(rows, is2, isc)),
                  ratio(r2, r3)))
    return 0


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
        sys.exit("usage: summarize.py RAW [REFERENCE] | --pop2 RAW")
    if sys.argv[1] == "--pop2":
        return pop2_summary(sys.argv[2])
    ref = sys.argv[2] if len(sys.argv) > 2 else "dovecot-hp"
    runs, order, servers = parse(sys.argv[1])
    medians = {}
    for work in order:
        metric, unit, extra = METRICS.get(work, tls_metric(work))
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
