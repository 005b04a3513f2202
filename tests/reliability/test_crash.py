#!/usr/bin/env python3
# test_crash.py - kill -9 of the session during UPDATE (doc/SECURITY.md
# R1, R3; doc/RELIABILITY.md "Crash safety").  For every storage backend
# whose plugin is built (crashlib.backends()):
#
# test_kill9_random_points
#     P23_CRASH_CYCLES cycles (default 100; 1000 with P23_LONG=1, as
#     `make check-long` runs it)
#     of: log in, check STAT and every LIST size against what is stored,
#     RETR and DELE random messages while a deliverer process keeps adding
#     mail, send QUIT and SIGKILL the session a random time later (0 to
#     1.2 x the time an UPDATE takes; every 5th cycle is left alone to
#     measure that time).  After each cycle: no message lost, duplicated,
#     changed or brought back (content compared with what was delivered),
#     the deleted ones present or absent (all absent after a +OK), and the
#     next session's STAT exact, with an index record (CRC, sizes) for
#     every message.
#
# test_kill9_every_step
#     the same session script with the LD_PRELOAD shim (faultinj.so)
#     killing the session just before its k-th write, fsync, rename,
#     unlink, link, create or close of a written file in the maildrop,
#     for every k, with an index at login, with churn (records stored and
#     pruned at login), without renameat2, and (P23_LONG=1) without an
#     index at login: every crash point of login, UPDATE and the index
#     writes, enumerated.
#
# P23_CRASH_SEED sets the random seed (default 1939).  GPL-3.0-or-later.

import collections
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crashlib  # noqa: E402
from crashlib import p23  # noqa: E402

LONG = bool(os.environ.get('P23_LONG'))
CYCLES = int(os.environ.get('P23_CRASH_CYCLES', '1000' if LONG else '100'))
SEED = int(os.environ.get('P23_CRASH_SEED', '1939'))
# Keep the maildrop between these sizes (messages).
LOW, HIGH = 30, 80


def steps_of(shim, pid):
    """Steps the shim has traced for process PID so far."""
    if shim is None:
        return 0
    return sum(1 for t in shim.trace() if t[0] == pid)


class Crash(p23.TestCase):

    def random_points(self, backend_cls):
        srv = self.server(start=False)
        be = backend_cls(srv, 'alice')
        srv.conf.update(be.conf())
        srv.write_config()
        be.prepare()
        model = crashlib.Model(be)
        for seq in range(1, 41):
            model.add(seq, be.deliver(crashlib.message(seq)))
        # The shim only counts and traces here: how many steps of UPDATE
        # each killed session had done.
        shim = crashlib.Shim(srv, be.mount_point()) \
            if crashlib.shim_available() else None
        if shim:
            shim.set('count', trace=True)
        srv.start()
        dl = crashlib.Deliverer(be, os.path.join(srv.tmp, 'delivered'),
                                interval=0.0005)
        self.addCleanup(dl.stop)
        dl.pause()
        rnd = random.Random(SEED)
        times = collections.deque(maxlen=30)
        stats = collections.Counter()
        problems = []
        t_start = time.monotonic()
        for cycle in range(CYCLES):
            probs = model.check(delivered=dl.delivered())
            if shim:
                open(shim.trace_path, 'w').close()
            c = crashlib.login(srv, 'alice')
            try:
                seqs = crashlib.listing(c, model)
                idx = be.index_path()
                if idx is not None:
                    bad, stale = crashlib.check_index(idx, model.present())
                    probs += ['index: ' + b for b in bad]
                pid = crashlib.session_pid(srv)
                if len(model.live) < HIGH:
                    dl.resume()
                n = len(seqs)
                nretr = min(n, rnd.randint(0, 6))
                for k in rnd.sample(range(1, n + 1), nretr):
                    crashlib.retr_check(c, k, seqs[k - 1])
                ndel = rnd.randint(0, n // 2) if n > LOW else \
                    rnd.randint(0, 2)
                dele = rnd.sample(range(1, n + 1), min(n, ndel))
                for k in dele:
                    r = c.cmd('DELE %d' % k)
                    if not r.startswith('+OK'):
                        probs.append('DELE %d: %r' % (k, r))
                marked = [seqs[k - 1] for k in dele]
                # The kill time: a recent UPDATE's duration (QUIT sent
                # to reply read) times U(0, 1.2), so kills spread over
                # the whole of UPDATE and a little past it.
                kill = cycle % 5 != 0 and len(times) > 0
                delay = rnd.choice(times) * rnd.uniform(0, 1.2) \
                    if kill else None
                before_quit = steps_of(shim, pid)
                t0 = time.perf_counter()
                c.send('QUIT\r\n')
                if kill:
                    crashlib.burn_until(t0 + delay)
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass        # it had finished
                try:
                    reply = c.line(20)
                except (EOFError, OSError, TimeoutError):
                    reply = ''
                if reply and not kill:
                    times.append(time.perf_counter() - t0)
                crashlib.wait_gone(pid)
                if kill and not reply and shim:
                    done = steps_of(shim, pid) - before_quit
                    stats['killed after %s UPDATE steps' % (
                        '0' if done == 0 else '1-4' if done < 5 else
                        '5-9' if done < 10 else '10-19' if done < 20 else
                        '20+')] += 1
            except crashlib.SessionError as e:
                probs.append(str(e))
                reply, marked, kill = '', [], False
            finally:
                c.close()
            dl.pause()
            before = set(model.live)
            probs += model.check(marked=marked,
                                 committed=reply.startswith('+OK'),
                                 delivered=dl.delivered())
            gone = len(set(marked) & (before - model.live))
            if reply.startswith('+OK'):
                stats['answered +OK'] += 1
            elif reply:
                stats['answered ' + reply[:20]] += 1
                if not reply.startswith('-ERR [SYS/TEMP]'):
                    probs.append('QUIT answered %r' % reply)
            elif not marked:
                stats['killed, nothing to delete'] += 1
            elif gone == 0:
                stats['killed, none of the deletions done'] += 1
            elif gone < len(marked):
                stats['killed, some of the deletions done'] += 1
            else:
                stats['killed, all deletions done, no reply'] += 1
            if kill:
                stats['killed'] += 1
            for p in probs:
                problems.append('cycle %d: %s' % (cycle, p))
            if len(problems) > 20:
                break
        # The end: every message RETRed once more, intact.
        dl.stop()
        problems += ['end: ' + p for p in
                     model.check(delivered=dl.delivered())]
        c = crashlib.login(srv, 'alice')
        try:
            seqs = crashlib.listing(c, model)
            for n, seq in enumerate(seqs, 1):
                crashlib.retr_check(c, n, seq)
            self.assertOK(crashlib.quit_session(c))
        finally:
            c.close()
        took = time.monotonic() - t_start
        delivered = len(dl.delivered())
        print('%s: %d cycles in %.1f s (seed %d), %d messages delivered '
              'by a concurrent deliverer, %d removed, %d left; UPDATE '
              'took up to %.1f ms; %s; problems: %d' % (
                  backend_cls.NAME, cycle + 1, took, SEED, delivered,
                  len(model.removed), len(model.live),
                  1000 * max(times or [0]),
                  ', '.join('%s: %d' % kv for kv in sorted(stats.items())),
                  len(problems)))
        self.assertEqual(problems, [], '\n'.join(problems[:20]))
        self.assertTrue(srv.running())

    def every_step(self, backend_cls):
        if not crashlib.shim_available():
            self.skipTest('faultinj.so not built')
        sc = crashlib.Scenario(self, backend_cls, nmsgs=12)
        retr, dele = (1, 2, 5, 9), (2, 3, 4, 9, 12)
        problems = []
        summary = []
        # (index at login, churn, renameat2 with RENAME_NOREPLACE works);
        # the first (no index: 72 crash points) only in long runs
        setups = ((False, False, True), (True, False, True),
                  (True, True, True), (True, False, False))
        for warm, churn, rn2 in setups if LONG else setups[1:]:
            sc.reset(warm, churn=churn)
            sc.shim.set('count', trace=True, renameat2=rn2)
            out = sc.run(retr, dele)
            steps = [t for t in sc.shim.trace()]
            problems += ['count run: ' + p for p in out['problems'] +
                         sc.verify(out)]
            self.assertTrue(out['quit'].startswith('+OK'), out)
            n = len(steps)
            self.assertGreater(n, 4, 'the shim saw no steps: %r' % steps)
            ops = collections.Counter(t[2] for t in steps)
            what = '%s index%s%s' % ('warm' if warm else 'cold',
                                     ', churn' if churn else '',
                                     '' if rn2 else ', no renameat2')
            kinds = collections.Counter()
            for k in range(1, n + 2):
                sc.reset(warm, churn=churn)
                sc.shim.set('kill', k, renameat2=rn2)
                out = sc.run(retr, dele, kill_expected=True)
                if out['quit'].startswith('+OK'):
                    kinds['+OK'] += 1
                elif out['login'].startswith('+OK'):
                    kinds['killed after login'] += 1
                else:
                    kinds['killed during login'] += 1
                for p in sc.verify(out):
                    problems.append('%s, kill at step %d (%s): %s' %
                                    (what, k,
                                     ' '.join(map(str, steps[k - 1][2:4]))
                                     if k <= n else 'none', p))
            summary.append('%s: %d steps (%s), %d crash points: %s'
                           % (what, n,
                              ', '.join('%s %d' % kv for kv in
                                        sorted(ops.items())), n + 1,
                              ', '.join('%s %d' % kv for kv in
                                        sorted(kinds.items()))))
        print('%s: %s; problems: %d' % (backend_cls.NAME,
                                        '; '.join(summary), len(problems)))
        self.assertEqual(problems, [], '\n'.join(problems[:20]))


def _add_tests():
    for b in crashlib.BACKENDS.values():
        def rp(self, b=b):
            if not b.available():
                self.skipTest('%s not built' % b.PLUGIN)
            self.random_points(b)

        def es(self, b=b):
            if not b.available():
                self.skipTest('%s not built' % b.PLUGIN)
            self.every_step(b)
        setattr(Crash, 'test_kill9_random_points_%s' % b.NAME, rp)
        setattr(Crash, 'test_kill9_every_step_%s' % b.NAME, es)


_add_tests()

if __name__ == '__main__':
    p23.main()
