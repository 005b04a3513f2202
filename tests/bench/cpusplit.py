#!/usr/bin/env python3
# cpusplit.py - where the CPU of a benchmark session goes: the client's
# (tests/bench/popload), the server's, and the machine's idle share, per
# session (per MB for bulk), for pop23d and Dovecot-hp in turn; then the
# ceiling of each ratio (doc/PERFORMANCE.md, "Where a session's CPU goes,
# and the ceiling of each ratio").  CPU time is a count, not a rate: the
# figures hold on a busy machine (cache effects aside), unlike sessions/s.
#
#   cpusplit.py [--servers NAME ...] [--workloads poll,fetch,fetch-qa,bulk]
#               [-c CONC] [--poll-n N] [--fetch-n N] [--tls implicit|stls]
#               [--reps R] [--no-floor] [--no-warmup]
#
# Run as root after "tests/bench/peers.sh setup" (the users, maildrops
# and settings of common.sh).  A NAME is a server of peers.sh (pop23d,
# dovecot-hp, ...), started by peers.sh inside a fresh cgroup and stopped
# at the end, or NAME:PORT:PIDFILE (or NAME:PORT:PID), a server already
# running (a NAME starting with "pop23d" is pop23d): its process
# tree is moved into the cgroup for the run and back out afterwards (new
# children inherit the cgroup).  popload runs in a second cgroup.  Both
# are cgroup v1 cpuacct groups (/sys/fs/cgroup/cpuacct, or where
# CPUACCT points); cpuacct.usage is the scheduler's exact runtime, split
# into user and system in the proportion of the run's increase of
# cpuacct.usage_user/_sys (tick samples: a rough split at a few hundred
# sessions).  Interrupt work (loopback softirqs) is
# charged to whichever process was running, as the kernel does.
#
# Workloads (popload, every message checked against the manifest):
# poll = USER, PASS, STAT, QUIT; fetch = poll + RETR of every message;
# fetch-qa = fetch with TCP_QUICKACK; bulk = one session RETRs the bulk
# maildrop (per MB of octets received).  -c threads, each -N sessions;
# --reps R runs each workload R times (CPUSPLIT lines) and the tables
# show the median of each figure (CPUSPLIT-MEDIAN lines).
#
# pop23d is also split by process role, from /proc (as rootcpu.py): the
# master's own CPU, the per-connection processes (monitor/session and
# pre-auth child: the master's cutime+cstime, they are its reaped
# children), the long-lived children (auth service and its workers) and
# the rest of the cgroup (processes still exiting, rounding).
#
# The floor: what pop23d's design cannot avoid per session, each part
# measured alone: the SHA512-crypt hash of the benchmark's users (auth
# plugin through tests/bench/authcost, warm), an empty fork+exit
# (tests/bench/cpufloor, twice: monitor and pre-auth child), a round trip
# to the auth worker (socketpair), the server side of a loopback TCP
# connection with the session's request lines, and per MB of message the
# LF->CRLF/dot-stuffing, the read from the page cache and the send.  The
# ceiling of a ratio is (C_dovecot + D) / (C_pop23d + S_min): the rate
# ratio pop23d could reach on these 2 CPUs shared with the client if it
# spent only S_min; the model (C_dovecot + D) / (C_pop23d + S) is what the
# figures predict for today's ratio when the run is CPU-bound (idle ~0).
# bulk is one session, client and server working side by side on the 2
# CPUs: there the slower of the two sets the rate, and CEILING-PIPELINED
# gives max(C_d, D) / max(C_p, S_min) as well.
#
# Output: CPUSPLIT, FLOOR and CEILING lines (key=value), then the same as
# markdown tables.  Under 3 minutes with the defaults.  GPL-3.0-or-later.

import argparse
import errno
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, 'peers.sh')
TICK = os.sysconf('SC_CLK_TCK')
CPUACCT = os.environ.get('CPUACCT', '/sys/fs/cgroup/cpuacct')


def common():
    """The settings of common.sh (and setup.env), as peers.sh sees
    them."""
    keys = ('STATE', 'POPLOAD', 'P23_BUILD', 'NUSERS', 'PASSWORD',
            'TLS_DIR')
    out = subprocess.run(
        ['sh', '-c', '. "$(dirname "$0")/common.sh"; for k in %s; do '
         'eval "echo \\"$k=\\$$k\\""; done' % ' '.join(keys), PEERS],
        capture_output=True, text=True, check=True).stdout
    return dict(line.split('=', 1) for line in out.splitlines()
                if '=' in line)


def load1():
    with open('/proc/loadavg') as f:
        return float(f.read().split()[0])


def proc_stat_cpu():
    """(idle+iowait, total) jiffies of the whole machine."""
    with open('/proc/stat') as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[3] + v[4], sum(v[:8])


def pid_stat(pid):
    """(ppid, utime+stime, cutime+cstime in seconds, cminflt), or
    None."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            s = f.read()
    except OSError:
        return None
    w = s[s.rfind(')') + 2:].split()
    return (int(w[1]), (int(w[11]) + int(w[12])) / TICK,
            (int(w[13]) + int(w[14])) / TICK, int(w[8]))


def zombies(root):
    """How many of ROOT's descendants have exited but not been reaped."""
    n = 0
    for p in tree(root):
        try:
            with open('/proc/%d/stat' % p) as f:
                s = f.read()
        except OSError:
            continue
        if s[s.rfind(')') + 2:].startswith('Z'):
            n += 1
    return n


def tree(root):
    """ROOT and all its descendants."""
    kids = {}
    for d in os.listdir('/proc'):
        if d.isdigit():
            st = pid_stat(int(d))
            if st:
                kids.setdefault(st[0], []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_kb(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Cgroup:
    """A cpuacct cgroup under one parent directory of this run."""

    def __init__(self, parent, name):
        self.path = os.path.join(parent, name)
        os.mkdir(self.path)
        self.procs = os.path.join(self.path, 'cgroup.procs')

    def add(self, pids):
        for p in pids:
            try:
                with open(self.procs, 'w') as f:
                    f.write('%d\n' % p)
            except (ProcessLookupError, OSError):
                pass                    # it exited meanwhile

    def members(self):
        with open(self.procs) as f:
            return [int(x) for x in f.read().split()]

    def usage(self):
        """(total CPU seconds, user ticks, sys ticks)."""
        def rd(n):
            with open(os.path.join(self.path, n)) as f:
                return int(f.read())
        return (rd('cpuacct.usage') / 1e9, rd('cpuacct.usage_user'),
                rd('cpuacct.usage_sys'))

    def remove(self, wait=10.0):
        """Move what is left to the root group and remove the group."""
        end = time.monotonic() + wait
        while self.members() and time.monotonic() < end:
            time.sleep(0.1)
        root = os.path.join(CPUACCT, 'cgroup.procs')
        # A process forked from a member before that member moved is
        # born in this group: rmdir says EBUSY until it is moved too.
        while True:
            for p in self.members():
                try:
                    with open(root, 'w') as f:
                        f.write('%d\n' % p)
                except OSError:
                    pass
            try:
                os.rmdir(self.path)
                return
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > end + 5:
                    raise
            time.sleep(0.05)


class Server:
    def __init__(self, spec, cfg, parent, tls):
        self.cfg = cfg
        self.tls = tls
        parts = spec.split(':')
        self.name = parts[0]
        self.adopted = len(parts) == 3
        if self.adopted:
            self.port = int(parts[1])
            self.pidfile = parts[2]
        else:
            self.port = int(self.sh('port_of %s' % self.name))
            if tls:
                self.tls_port = int(self.sh('tls_port_of %s' % self.name))
            self.pidfile = os.path.join(cfg['STATE'], 'run',
                                        self.name + '.pid')
        self.cg = Cgroup(parent, 'server-' + self.name.replace('/', '_'))
        self.started = False

    @staticmethod
    def sh(cmd):
        return subprocess.run(
            ['sh', '-c', '. "$(dirname "$0")/common.sh"; ' + cmd, PEERS],
            capture_output=True, text=True, check=True).stdout.strip()

    def pid(self):
        if self.pidfile.isdigit():
            return int(self.pidfile)
        with open(self.pidfile) as f:
            return int(f.read().split()[0])

    def start(self):
        if self.adopted:
            self.cg.add(tree(self.pid()))
            return
        st = subprocess.run(['sh', PEERS, 'status'], capture_output=True,
                            text=True).stdout
        if '%s running' % self.name in st:
            sys.exit('%s is already running (peers.sh stop %s first, or '
                     'give NAME:PORT:PIDFILE)' % (self.name, self.name))
        env = dict(os.environ)
        if self.tls:
            env['BENCH_TLS'] = '1'
        # the shell joins the group, then everything it starts
        subprocess.run(['sh', '-c', 'echo $$ >"$0" && exec sh "$1" start '
                        '"$2"', self.cg.procs, PEERS, self.name],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        self.started = True

    def stop(self):
        if self.started:
            subprocess.run(['sh', PEERS, 'stop', self.name],
                           stdout=subprocess.DEVNULL)
        self.cg.remove()

    def settle(self, base, timeout=10.0):
        """Wait until the group has no more processes than BASE and no
        process of the server's tree is a zombie: the sessions have
        exited *and* been reaped.  An exited process leaves the group
        before its parent's wait(); only that wait adds its CPU and page
        faults to the parent's cumulative counters that roles() reads."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                z = zombies(self.pid())
            except (OSError, ValueError, IndexError):
                z = 0
            if len(self.cg.members()) <= base and not z:
                return
            time.sleep(0.05)

    def roles(self):
        """pop23d only: {role: CPU seconds so far} from /proc."""
        if not self.name.startswith('pop23d'):
            return None
        m = self.pid()
        st = pid_stat(m)
        r = {'master': st[1], 'conn': st[2], 'longlived': 0.0,
             'faults': st[3]}
        for p in tree(m):
            if p != m:
                s = pid_stat(p)
                if s:
                    r['longlived'] += s[1] + s[2]
        return r


def popload(cfg, cg, args):
    def join():
        with open(cg.procs, 'w') as f:
            f.write('%d\n' % os.getpid())
    r = subprocess.run([cfg['POPLOAD']] + args, capture_output=True,
                       text=True, preexec_fn=join, timeout=600)
    for line in r.stdout.splitlines():
        if line.startswith('RESULT '):
            return dict(w.split('=', 1) for w in line.split()[1:]
                        if '=' in w)
    sys.exit('popload %s: no RESULT line\n%s%s' % (
        ' '.join(args), r.stdout, r.stderr))


def workload_args(a, cfg, srv, wl):
    port = srv.port
    if a.tls == 'implicit' and not srv.adopted:
        port = srv.tls_port
    tls = ['--tls', a.tls, '--ca', os.path.join(cfg['TLS_DIR'], 'ca.pem')] \
        if a.tls else []
    if wl == 'bulk':
        return ['bulk', '-p', str(port), '--quickack', '-l', srv.name] + \
            shlex.split(a.bulk_login) + tls
    n = a.poll_n if wl == 'poll' else a.fetch_n
    args = ['poll' if wl == 'poll' else 'fetch', '-p', str(port), '-c',
            str(a.conc), '-N', str(n), '-l', srv.name] + \
        shlex.split(a.login) + tls
    if wl == 'fetch-qa':
        args.append('--quickack')
    return args


def measure(a, cfg, srv, ccg, wl):
    args = workload_args(a, cfg, srv, wl)
    srv.settle(a.base_procs[srv.name], 5)
    la = load1()
    r0 = srv.roles()
    s0, c0 = srv.cg.usage(), ccg.usage()
    i0, t0 = proc_stat_cpu()
    res = popload(cfg, ccg, args)
    i1, t1 = proc_stat_cpu()
    srv.settle(a.base_procs[srv.name])
    s1, c1 = srv.cg.usage(), ccg.usage()
    r1 = srv.roles()
    errors = int(res.get('errors', '1'))
    if wl == 'bulk':
        units = int(res.get('octets', 0)) / 1e6
        unit = 'MB'
    else:
        units = int(res.get('sessions', 0))
        unit = 'session'
    if units <= 0:
        sys.exit('%s %s: nothing done: %r' % (srv.name, wl, res))
    row = {'server': srv.name, 'workload': wl, 'load1': la, 'unit': unit,
           'units': units, 'errors': errors,
           'idle_pct': 100.0 * (i1 - i0) / max(t1 - t0, 1)}
    for k, (u0, u1) in (('client', (c0, c1)), ('server', (s0, s1))):
        # exact total, split in the proportion of the tick samples
        tot = (u1[0] - u0[0]) * 1000 / units
        du, ds = u1[1] - u0[1], u1[2] - u0[2]
        fu = du / (du + ds) if du + ds > 0 else 0.5
        row[k + '_ms'] = tot
        row[k + '_user_ms'] = tot * fu
        row[k + '_sys_ms'] = tot * (1 - fu)
    if wl != 'bulk':
        secs = float(res.get('secs', 0))
        row['mb_per_session'] = float(res.get('MB_per_s', 0)) * secs / units
        row['msgs_per_session'] = float(res.get('msgs_per_s', 0)) * secs \
            / units
    if r0 and r1:
        tot = 0.0
        for k in ('master', 'conn', 'longlived'):
            row['role_%s_ms' % k] = (r1[k] - r0[k]) * 1000 / units
            tot += r1[k] - r0[k]
        row['role_other_ms'] = row['server_ms'] - tot * 1000 / units
        # minor page faults of the reaped per-connection processes
        row['conn_faults'] = (r1['faults'] - r0['faults']) / units
    print('CPUSPLIT ' + ' '.join(
        '%s=%s' % (k, ('%.3f' % v) if isinstance(v, float) else v)
        for k, v in row.items()), flush=True)
    return row


def median(rows):
    """One row of the median of each figure over repetitions."""
    out = dict(rows[0])
    for k, v in out.items():
        if isinstance(v, (int, float)) and k != 'errors':
            out[k] = sorted(r[k] for r in rows)[len(rows) // 2]
    out['errors'] = sum(r['errors'] for r in rows)
    if len(rows) > 1:
        print('CPUSPLIT-MEDIAN ' + ' '.join(
            '%s=%s' % (k, ('%.3f' % v) if isinstance(v, float) else v)
            for k, v in out.items()), flush=True)
    return out


def floor(a, cfg, tmp):
    """The parts of S_min, in ms (per MB for the *_mb ones)."""
    build = cfg['P23_BUILD']
    fl = os.path.join(build, 'tests', 'bench', 'cpufloor')
    if not os.access(fl, os.X_OK):
        fl = os.path.join(tmp, 'cpufloor')
        subprocess.run(['cc', '-O2', '-o', fl,
                        os.path.join(HERE, 'cpufloor.c')], check=True)
    ac = os.path.join(build, 'tests', 'bench', 'authcost')
    if not os.access(ac, os.X_OK):
        subprocess.run(['make', '-s', '-C', build, 'tests/bench/authcost'],
                       check=True, stdout=subprocess.DEVNULL)

    def run(*args):
        out = subprocess.run([str(x) for x in args], capture_output=True,
                             text=True, check=True, timeout=120).stdout
        return out
    part = {}

    def kv(out):
        for line in out.splitlines():
            if line.startswith('FLOOR '):
                for w in line.split()[1:]:
                    k, v = w.split('=')
                    part[k] = float(v)
    n = a.floor_n
    kv(run(fl, 'fork', n, 0))
    part['fork_exit_empty_us'] = part.pop('fork_exit_us')
    kv(run(fl, 'fork', n, a.master_rss_kb or 0))
    part['fork_exit_master_size_us'] = part.pop('fork_exit_us')
    part.pop('heap_kb', None)
    kv(run(fl, 'ipc', n * 10))
    kv(run(fl, 'conn', n, 4))
    part['conn_poll_us'] = part.pop('conn_us')
    kv(run(fl, 'conn', n, 54))
    part['conn_fetch50_us'] = part.pop('conn_us')
    part.pop('requests', None)
    kv(run(fl, 'fsync', max(n // 10, 5), tmp))
    kv(run(fl, 'wire', a.wire_mb))
    # the hash: the benchmark users' SHA512-crypt (peers.sh make_users)
    pw = cfg.get('PASSWORD', 'popbench')
    h = subprocess.run(['openssl', 'passwd', '-6', '-salt', 'popbenchsalt',
                        pw], capture_output=True, text=True,
                       check=True).stdout.strip()
    pf = os.path.join(tmp, 'passwd')
    with open(pf, 'w') as f:
        f.write('floor:{CRYPT}%s:65534:65534::/nonexistent::\n' % h)
    out = run(ac, os.path.join(build, '.libs', 'auth_passwdfile.so'),
              'floor', pw, max(n // 10, 20), 'passwdfile.path=' + pf)
    for line in out.splitlines():
        if line.startswith('warm'):
            part['hash_us'] = float(line.split(':')[1].split()[0])
    print('FLOOR ' + ' '.join('%s=%.1f' % kv_ for kv_ in part.items()),
          flush=True)
    return part


def smin(part, wl, row):
    """S_min in ms per session (per MB for bulk) and what it is made of."""
    mb_us = part['crlf_us_per_mb'] + part['pread_us_per_mb'] + \
        part['send_us_per_mb'] * part['wire_mb_per_mb']
    if wl == 'bulk':
        return mb_us / 1000, {'wire per MB': mb_us / 1000}
    items = {'hash': part['hash_us'],
             '2 x fork+exit (empty)': 2 * part['fork_exit_empty_us'],
             'auth worker round trip': part['ipc_roundtrip_us']}
    if wl == 'poll':
        items['TCP server side, 4 requests'] = part['conn_poll_us']
    else:
        # the request lines scale with the messages (50 per session)
        k = row.get('msgs_per_session', 50) / 50
        items['TCP server side, %d requests' % (
            4 + round(50 * k))] = part['conn_poll_us'] + \
            (part['conn_fetch50_us'] - part['conn_poll_us']) * k
        items['wire %.2f MB' % row['mb_per_session']] = \
            mb_us * row['mb_per_session']
    return sum(items.values()) / 1000, {k: v / 1000 for k, v in
                                        items.items()}


def tables(rows, part, a):
    print('\n| server | workload | load1 | per | client ms (user+sys) | '
          'server ms (user+sys) | idle % | errors |')
    print('|---|---|---|---|---|---|---|---|')
    for r in rows:
        print('| %s | %s | %.1f | %s | %.3f (%.3f+%.3f) | %.3f (%.3f+%.3f)'
              ' | %.0f | %d |' % (
                  r['server'], r['workload'], r['load1'], r['unit'],
                  r['client_ms'], r['client_user_ms'], r['client_sys_ms'],
                  r['server_ms'], r['server_user_ms'], r['server_sys_ms'],
                  r['idle_pct'], r['errors']))
    rr = [r for r in rows if 'role_conn_ms' in r]
    if rr:
        print('\n| pop23d, ms per unit | master | per-connection '
              '(monitor/session + pre-auth) | auth service + workers | '
              'rest | page faults of the per-connection processes |')
        print('|---|---|---|---|---|---|')
        for r in rr:
            print('| %s | %.3f | %.3f | %.3f | %.3f | %.1f |' % (
                r['workload'], r['role_master_ms'], r['role_conn_ms'],
                r['role_longlived_ms'], r['role_other_ms'],
                r['conn_faults']))
    if part is None:
        return
    by = {(r['server'], r['workload']): r for r in rows}
    ours = [s for s in a.names if s.startswith('pop23d')]
    refs = [s for s in a.names if not s.startswith('pop23d')]
    if not ours or not refs:
        return
    print('\n| workload | C pop23d | S pop23d | C %s | D %s | S_min | '
          'model (C_d+D)/(C_p+S) | ceiling (C_d+D)/(C_p+S_min) |'
          % (refs[0], refs[0]))
    print('|---|---|---|---|---|---|---|---|')
    pipe = []
    for wl in a.wl:
        p, d = by.get((ours[0], wl)), by.get((refs[0], wl))
        if not p or not d:
            continue
        sm, items = smin(part, wl, p)
        model = (d['client_ms'] + d['server_ms']) / \
            (p['client_ms'] + p['server_ms'])
        ceil = (d['client_ms'] + d['server_ms']) / (p['client_ms'] + sm)
        print('CEILING workload=%s c_pop23d_ms=%.3f s_pop23d_ms=%.3f '
              'c_ref_ms=%.3f d_ref_ms=%.3f s_min_ms=%.3f model=%.2f '
              'ceiling=%.2f %s' % (
                  wl, p['client_ms'], p['server_ms'], d['client_ms'],
                  d['server_ms'], sm, model, ceil,
                  ' '.join('[%s]=%.3f' % (k.replace(' ', '_'), v)
                           for k, v in items.items())), flush=True)
        print('| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | **%.2f** |'
              % (wl, p['client_ms'], p['server_ms'], d['client_ms'],
                 d['server_ms'], sm, model, ceil))
        if wl == 'bulk':
            # one session: client and server run side by side on the 2
            # CPUs, so the slower of the two sets the rate
            pipe.append('CEILING-PIPELINED workload=bulk model=%.2f '
                        'ceiling=%.2f (max(C_d, D) / max(C_p, S or S_min))'
                        % (max(d['client_ms'], d['server_ms']) /
                           max(p['client_ms'], p['server_ms']),
                           max(d['client_ms'], d['server_ms']) /
                           max(p['client_ms'], sm)))
    for line in pipe:
        print(line)
    if a.tls:
        print('\n(--tls: S_min has no TLS handshake and no encryption in '
              'it, so these ceilings are upper bounds)')
    print('\nS_min parts (us): ' + ', '.join(
        '%s %.1f' % kv for kv in part.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--servers', nargs='+', default=['pop23d',
                                                      'dovecot-hp'])
    ap.add_argument('--workloads', default='poll,fetch,fetch-qa,bulk')
    ap.add_argument('-c', '--conc', type=int, default=16)
    ap.add_argument('--poll-n', type=int, default=25,
                    help='sessions per thread for poll [25]')
    ap.add_argument('--fetch-n', type=int, default=10,
                    help='sessions per thread for fetch [10]')
    ap.add_argument('--reps', type=int, default=1,
                    help='repetitions of each workload; the tables show '
                    'the median of each figure [1]')
    ap.add_argument('--tls', choices=('implicit', 'stls'))
    ap.add_argument('--login', help='popload login options for poll and '
                    'fetch [the benchmark users of common.sh]')
    ap.add_argument('--bulk-login', help='popload login options for bulk '
                    '[popbenchbulk]')
    ap.add_argument('--no-warmup', action='store_true')
    ap.add_argument('--no-floor', action='store_true')
    ap.add_argument('--floor-n', type=int, default=500)
    ap.add_argument('--wire-mb', type=int, default=64)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit('run as root (cgroups, the servers of peers.sh)')
    if not os.path.exists(os.path.join(CPUACCT, 'cpuacct.usage')):
        sys.exit('no cgroup v1 cpuacct at %s (set CPUACCT)' % CPUACCT)
    cfg = common()
    st = cfg['STATE']
    if a.login is None:
        a.login = '-u popbench%%d -r 1:%s -P %s -M %s/manifest' % (
            cfg['NUSERS'], cfg['PASSWORD'], st)
    if a.bulk_login is None:
        a.bulk_login = '-u popbenchbulk -P %s -M %s/manifest' % (
            cfg['PASSWORD'], st)
    a.wl = [w for w in a.workloads.split(',') if w]
    for w in a.wl:
        if w not in ('poll', 'fetch', 'fetch-qa', 'bulk'):
            sys.exit('unknown workload %s' % w)
    a.names = [s.split(':')[0] for s in a.servers]
    a.base_procs = {}
    a.master_rss_kb = 0
    t_start = time.monotonic()
    parent = os.path.join(CPUACCT, 'pop23d-cpusplit.%d' % os.getpid())
    os.mkdir(parent)
    tmp = tempfile.mkdtemp(prefix='cpusplit-')
    rows, part = [], None
    ccg = None
    srv = None

    def stop(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    try:
        ccg = Cgroup(parent, 'client')
        print('# cpusplit: %s, %d CPUs, load average at start %s' % (
            time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()),
            os.cpu_count(), open('/proc/loadavg').read().split()[0]),
            flush=True)
        print('# cgroups: %s' % parent, flush=True)
        for spec in a.servers:
            srv = Server(spec, cfg, parent, a.tls)
            try:
                srv.start()
                time.sleep(0.3)
                if not a.no_warmup:
                    # every index and cache exists before counting
                    for wl in ('fetch', 'bulk'):
                        if wl in [w.split('-')[0] for w in a.wl]:
                            args = workload_args(a, cfg, srv, wl)
                            if wl == 'fetch':
                                args[args.index('-N') + 1] = '2'
                            popload(cfg, ccg, args)
                time.sleep(0.3)
                a.base_procs[srv.name] = len(srv.cg.members())
                if srv.name.startswith('pop23d'):
                    a.master_rss_kb = rss_kb(srv.pid())
                for wl in a.wl:
                    rows.append(median([measure(a, cfg, srv, ccg, wl)
                                        for _ in range(a.reps)]))
            finally:
                srv.stop()
                srv = None
        if not a.no_floor:
            part = floor(a, cfg, tmp)
        tables(rows, part, a)
        print('\n# %.0f s; load average at the end %s' % (
            time.monotonic() - t_start,
            open('/proc/loadavg').read().split()[0]))
    finally:
        if srv is not None:
            srv.stop()
        if ccg is not None:
            ccg.remove()
        os.rmdir(parent)
        subprocess.run(['rm', '-rf', tmp])


if __name__ == '__main__':
    main()
