#!/usr/bin/env python3
# test_faults.py - I/O errors and a full disk during login, UPDATE and the
# index writes (doc/SECURITY.md D9, R6, R7; doc/RELIABILITY.md "Crash
# safety").  For every storage backend whose plugin is built:
#
# test_injected_errors
#     the LD_PRELOAD shim (faultinj.so) makes the k-th write, fsync,
#     rename, link, unlink, create or close of a written file in the
#     maildrop fail with EIO, ENOSPC or EDQUOT (in turn), once ("fail1")
#     or from then on ("failall", a disk that stays full), for every k of
#     one session (log in, RETR, DELE, QUIT), with an index at login,
#     with churn, without renameat2 and (P23_LONG=1) without an index;
#     short runs take one of fail1/failall per k, in turn.
#
# test_disk_full_tmpfs, test_disk_full_ext4 (root only: they mount)
#     the maildrop and its index on a 1 MiB tmpfs, and on an 8 MiB ext4
#     image (1 KiB blocks) on a loop device, filled up to all but F octets
#     for F = 0, 4 KiB, 8 KiB, ... (tmpfs) or 0, 1 KiB, 2 KiB, ... (ext4)
#     before the same session (12 messages and 13
#     values of F in short runs; 12 and 40 messages and 25 values with
#     P23_LONG=1).
#
# test_dotlock_unlink_fails_{mbox,spool}
#     the unlink that releases the mbox dotlock fails once, in the session
#     (mbox in the home) and in the gid-mail helper (/var/mail layout,
#     root only): the next take reclaims the lock at once.
#
# test_dotlock_refreshed_during_update_{mbox,spool}
#     an UPDATE slowed by the shim (delay=) keeps its dotlock fresh: a lock
#     aged by an hour gets a current mtime back, in-process and through
#     the helper.
#
# test_offset_record_rewrite_killed_mbox
#     SIGKILL before each write, close and rename of the mbox offset
#     record that UPDATE writes for the file it has just compacted (after
#     the truncation): the maildrop is complete, no record is left (or a
#     valid one), and the next login parses the file whole and answers
#     exactly; without a kill the next login reads nothing.
#
# Every run must end with: the login answered +OK or "-ERR [SYS/TEMP]";
# QUIT answered +OK (then every deleted message is gone) or
# "-ERR [SYS/TEMP]" (then some or none are); no message lost, changed,
# truncated or duplicated, none deleted without a DELE; and a next session
# (no faults, space freed) with the exact STAT and LIST, every message
# intact by RETR, an index record checked for every message, and, after
# it deletes everything, nothing left.  GPL-3.0-or-later.

import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crashlib  # noqa: E402
from crashlib import p23  # noqa: E402

LONG = bool(os.environ.get('P23_LONG'))
ERRNOS = ('EIO', 'ENOSPC', 'EDQUOT')
RETR, DELE = (1, 2, 5, 9), (2, 3, 4, 9, 12)


def judge(out):
    """Problems with the replies of one faulty run."""
    probs = list(out['problems'])
    lg, q = out['login'], out['quit']
    if not (lg.startswith('+OK') or lg.startswith('-ERR [SYS/TEMP]')):
        probs.append('login answered %r' % lg)
    if lg.startswith('+OK') and not (q.startswith('+OK') or
                                     q.startswith('-ERR [SYS/TEMP]')):
        probs.append('QUIT answered %r' % q)
    return probs


def outcome(out):
    if not out['login'].startswith('+OK'):
        return 'login -ERR [SYS/TEMP]'
    if out['quit'].startswith('+OK'):
        return 'QUIT +OK'
    return 'QUIT ' + out['quit'][:15]


class Faults(p23.TestCase):

    def injected(self, backend_cls):
        if not crashlib.shim_available():
            self.skipTest('faultinj.so not built')
        sc = crashlib.Scenario(self, backend_cls, nmsgs=12)
        problems, summary = [], []
        runs = 0
        setups = ((False, False, True), (True, False, True),
                  (True, True, True), (True, False, False))
        for warm, churn, rn2 in setups if LONG else setups[1:]:
            what = '%s index%s%s' % ('warm' if warm else 'cold',
                                     ', churn' if churn else '',
                                     '' if rn2 else ', no renameat2')
            sc.reset(warm, churn=churn)
            sc.shim.set('count', trace=True, renameat2=rn2)
            out = sc.run(RETR, DELE)
            steps = sc.shim.trace()
            problems += ['count run: ' + p for p in judge(out) +
                         sc.verify(out)]
            n = len(steps)
            self.assertGreater(n, 4, 'the shim saw no steps')
            seen = collections.Counter()
            for k in range(1, n + 1):
                # short runs: one mode per k, in turn
                modes = ('fail1', 'failall') if LONG else \
                    (('fail1', 'failall')[k % 2],)
                for mode in modes:
                    err = ERRNOS[(k + (mode == 'failall')) % len(ERRNOS)]
                    sc.reset(warm, churn=churn)
                    sc.shim.set(mode, k, err, renameat2=rn2)
                    t0 = time.monotonic()
                    out = sc.run(RETR, DELE)
                    took = time.monotonic() - t0
                    runs += 1
                    # No single error may leave the session waiting for
                    # a lock (lock_timeout is 20 s; a run takes < 1 s).
                    if took > 10:
                        out['problems'].append('the session took %.1f s'
                                               % took)
                    seen[outcome(out)] += 1
                    for p in judge(out) + sc.verify(out):
                        problems.append('%s, %s %s at step %d (%s): %s' % (
                            what, mode, err, k,
                            ' '.join(steps[k - 1][2:3]), p))
            summary.append('%s: %d steps, %d runs: %s' %
                           (what, n, sum(seen.values()), ', '.join(
                               '%s %d' % kv for kv in sorted(seen.items()))))
        print('%s: %d runs; %s; problems: %d' % (
            backend_cls.NAME, runs, '; '.join(summary), len(problems)))
        self.assertEqual(problems, [], '\n'.join(problems[:20]))

    def test_dotlock_unlink_fails_mbox(self):
        """The unlink that releases the dotlock after the login scan
        fails once: the lock file (our pid in it) stays; the UPDATE must
        take it back as its own at once, not wait lock_timeout for
        itself and answer QUIT with -ERR (it did, found by
        test_injected_errors_mbox with churn at step 8)."""
        b = crashlib.BACKENDS['mbox']
        if not crashlib.shim_available():
            self.skipTest('faultinj.so not built')
        if not b.available():
            self.skipTest('%s not built' % b.PLUGIN)
        sc = crashlib.Scenario(self, b, nmsgs=12)
        sc.reset(True, churn=True)
        # only unlinks are counted: whether the login rewrites the
        # offset record (a record made within 50 ms of the file's last
        # change is racy) depends on timing, and must not move the step
        sc.shim.set('count', trace=True, ops=['unlink'])
        sc.verify(sc.run(RETR, DELE))
        steps = sc.shim.trace()
        lock = [s[1] for s in steps
                if s[2] == 'unlink' and s[4].endswith('.lock')]
        self.assertGreaterEqual(len(lock), 2, steps)
        for err in ERRNOS:
            sc.reset(True, churn=True)
            sc.shim.set('fail1', lock[0], err, ops=['unlink'])
            t0 = time.monotonic()
            out = sc.run(RETR, DELE)
            took = time.monotonic() - t0
            self.assertEqual(sc.verify(out), [])
            self.assertTrue(out['quit'].startswith('+OK'),
                            '%s: QUIT %r' % (err, out['quit']))
            self.assertLess(took, 5, err)
        self.assertIn('cannot remove the dotlock', sc.srv.log_text())
        self.assertFalse(os.path.exists(b(sc.srv, 'alice').mbox() +
                                        '.lock'))

    def test_dotlock_unlink_fails_spool(self):
        """The same as test_dotlock_unlink_fails_mbox on the /var/mail
        path: the spool is root:mail 2775, so the dotlock is made and
        removed by the gid-mail helper (src/dotlock.c, helper_main).  Its
        unlink of the lock after the login scan fails once (the shim
        counts only unlinks in the spool, which only the helper makes):
        the helper must keep the lock as the session's and give it back
        at the UPDATE's take at once."""
        b = crashlib.SpoolBackend
        if not crashlib.shim_available():
            self.skipTest('faultinj.so not built')
        if not b.available():
            self.skipTest('needs root (the helper) and %s' % b.PLUGIN)
        sc = crashlib.Scenario(self, b, nmsgs=12)
        spool = sc.be.spool()
        sc.reset(True)
        sc.shim.set('count', trace=True, ops=['unlink'], prefix=spool)
        sc.verify(sc.run(RETR, DELE))
        steps = sc.shim.trace()
        lock = [s for s in steps if s[4].endswith('.lock')]
        self.assertGreaterEqual(len(lock), 2, steps)
        # one process (the helper) made every spool unlink
        self.assertEqual(len({s[0] for s in steps}), 1, steps)
        k = lock[0][1]		# its own step number
        for err in ERRNOS:
            sc.reset(True)
            sc.shim.set('fail1', k, err, ops=['unlink'], prefix=spool,
                        trace=True)
            t0 = time.monotonic()
            out = sc.run(RETR, DELE)
            took = time.monotonic() - t0
            failed = [s for s in sc.shim.trace() if s[3] == 'FAIL']
            self.assertEqual([s[4] for s in failed], [lock[0][4]], err)
            self.assertEqual(sc.verify(out), [])
            self.assertTrue(out['quit'].startswith('+OK'),
                            '%s: QUIT %r' % (err, out['quit']))
            self.assertLess(took, 5, err)
        self.assertIn('cannot remove the dotlock', sc.srv.log_text())
        self.assertFalse(os.path.exists(sc.be.mbox() + '.lock'))

    # ------------------------------------------- dotlock refresh (UPDATE)
    def refreshed(self, backend_cls):
        """An UPDATE slowed down by the shim (80 ms before every write
        below the home: the stage is written one message at a time) runs
        for over 10 s with dotlock_stale = 30, so the dotlock must be
        touched every 6 s.  A watcher ages every new lock it sees by an
        hour (as if the UPDATE had run that long) and must then see its
        mtime come back to now, the same inode: the session refreshed
        it, in-process (mbox) or through the gid-mail helper (spool)."""
        if not crashlib.shim_available():
            self.skipTest('faultinj.so not built')
        if not backend_cls.available():
            self.skipTest('%s not available here' % backend_cls.NAME)
        import threading
        sc = crashlib.Scenario(self, backend_cls, nmsgs=150,
                               conf={'mbox.dotlock_stale': 30})
        sc.reset(True)
        lock = sc.be.mbox() + '.lock'
        aged, seen = {}, {}
        done = threading.Event()

        def watch():
            while not done.is_set():
                try:
                    st = os.lstat(lock)
                except FileNotFoundError:
                    time.sleep(0.02)
                    continue
                if st.st_ino not in aged:
                    old = time.time() - 3600
                    try:
                        os.utime(lock, (old, old), follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    aged[st.st_ino] = old
                elif st.st_mtime > aged[st.st_ino] + 3000:
                    seen[st.st_ino] = st.st_mtime
                time.sleep(0.05)

        sc.shim.set('count', ops=['write'], delay_ms=80)
        t = threading.Thread(target=watch)
        t.start()
        t0 = time.monotonic()
        try:
            out = sc.run((), (1,))
        finally:
            done.set()
            t.join()
        took = time.monotonic() - t0
        self.assertTrue(out['quit'].startswith('+OK'), out)
        self.assertGreater(took, 8, 'the UPDATE was not slow enough')
        self.assertTrue(seen, 'no aged dotlock was refreshed during a '
                        '%.1f s session (locks seen: %d)' % (took,
                                                             len(aged)))
        self.assertNotIn('cannot refresh the dotlock', sc.srv.log_text())
        self.assertEqual(sc.verify(out), [])
        self.assertFalse(os.path.exists(lock))

    def test_dotlock_refreshed_during_update_mbox(self):
        self.refreshed(crashlib.MboxBackend)

    def test_dotlock_refreshed_during_update_spool(self):
        self.refreshed(crashlib.SpoolBackend)

    # ------------------------------- the offset record after UPDATE
    def test_offset_record_rewrite_killed_mbox(self):
        """UPDATE writes the offset record of the compacted file after
        the truncation (pop23d.mbox-cache.tmp, then rename).  A kill
        before any of those steps must leave the maildrop as QUIT left it
        (every DELE'd message gone: the truncation was done) and no
        usable record: the next login parses the file whole (read=all)
        and gives exact answers.  Without a kill, the next login uses the
        rewritten record and reads nothing (read=none)."""
        b = crashlib.MboxBackend
        if not crashlib.shim_available():
            self.skipTest('faultinj.so not built')
        if not b.available():
            self.skipTest('%s not built' % b.PLUGIN)
        sc = crashlib.Scenario(self, b, nmsgs=12)

        def reads():
            return re.findall(r'mbox scan path=\S+ messages=\d+ '
                              r'read=(\S+)', sc.srv.log_text())

        def trunc_step(steps):
            return min([s[1] for s in steps if s[2] == 'ftruncate'] or [0])

        def settle():
            """One more fault-free login, 100 ms after the last change:
            whatever the warm-up's record was (racy or not: timing), the
            record is now one the next login uses without writing, so
            every run has the same steps."""
            time.sleep(0.1)
            c = crashlib.login(sc.srv, 'alice')
            crashlib.quit_session(c)
            c.close()
            sc.wait_idle()

        sc.reset(True)
        settle()
        sc.shim.set('count', trace=True)
        out = sc.run(RETR, DELE)
        self.assertTrue(out['quit'].startswith('+OK'), out)
        steps = sc.shim.trace()
        self.assertFalse([s for s in steps if s[1] < trunc_step(steps) and
                          s[4].endswith('pop23d.mbox-cache.tmp')],
                         'the login wrote the record: the steps would '
                         'depend on timing')
        trunc = [s[1] for s in steps if s[2] == 'ftruncate']
        self.assertEqual(len(trunc), 1, steps)
        rec = [s[1] for s in steps if s[1] > trunc[0] and
               'pop23d.mbox-cache' in s[4]]
        self.assertGreaterEqual(len(rec), 3, steps)   # open, write, rename
        self.assertIn('rewritten after UPDATE', sc.srv.log_text())
        n = len(reads())
        self.assertEqual(sc.verify(out), [])
        self.assertEqual(reads()[n], 'none')        # the verification login
        for k in rec:
            sc.reset(True)
            settle()
            sc.shim.set('kill', k)
            out = sc.run(RETR, DELE, kill_expected=True)
            self.assertEqual(out['quit'], '', 'step %d: not killed' % k)
            # the kill came after the truncation: every DELE is done
            out['quit'] = '+OK (killed after the truncation)'
            n = len(reads())
            self.assertEqual(sc.verify(out), [], 'kill at step %d' % k)
            self.assertEqual(reads()[n], 'all', 'kill at step %d' % k)

    # ------------------------------------------------------ disk full
    def disk_full(self, backend_cls, fstype):
        if not p23.ROOT:
            self.skipTest('needs root to mount a small file system')
        if fstype == 'ext4' and not (shutil.which('mkfs.ext4') and
                                     shutil.which('losetup')):
            self.skipTest('mkfs.ext4 or losetup missing')
        img = {}

        def mount(sc):
            mp = sc.be.mount_point()
            if not os.path.isdir(mp):
                os.makedirs(mp)
            if fstype == 'tmpfs':
                cmd = ['mount', '-t', 'tmpfs', '-o', 'size=1m,mode=755',
                       'tmpfs', mp]
            else:
                fd, img['path'] = tempfile.mkstemp(prefix='p23-ext4-')
                os.close(fd)
                os.truncate(img['path'], 8 << 20)
                subprocess.run(['mkfs.ext4', '-q', '-F', '-m', '0',
                                img['path']], check=True,
                               capture_output=True)
                cmd = ['mount', '-o', 'loop', img['path'], mp]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                self.skipTest('cannot mount %s: %s' % (fstype,
                                                       r.stderr.strip()))
            self.addCleanup(umount, mp)
            os.chmod(mp, 0o755)

        def umount(mp):
            subprocess.run(['umount', '-l', mp], capture_output=True)
            if 'path' in img:
                os.unlink(img['path'])

        sc = crashlib.Scenario(self, backend_cls, nmsgs=12, shim=False,
                               before_prepare=mount)
        top = sc.be.mount_point()
        filler = os.path.join(top, 'filler')

        def fill(leave):
            """Leave LEAVE octets free (as the file system counts)."""
            st = os.statvfs(top)
            want = max(st.f_bavail * st.f_frsize - leave, 0)
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o600)
            try:
                while want > 0:
                    want -= os.write(fd, b'\0' * min(want, 1 << 20))
            except OSError:
                pass        # the file system's own metadata took the rest
            finally:
                os.close(fd)

        problems = []
        seen = collections.Counter()
        runs = 0
        step = 1024 if fstype == 'ext4' else 4096
        for nmsgs in (12, 40) if LONG else (12,):
            sc.nmsgs = nmsgs
            # With 40, every message is read: 30-odd renames into cur/
            # need a second directory block there (1 KiB blocks on ext4).
            retr = RETR if nmsgs == 12 else tuple(range(1, nmsgs + 1))
            dele = DELE + tuple(range(14, nmsgs + 1, 2))
            for warm in (False, True):
                for i in range(25 if LONG else 13):
                    leave = i * step
                    sc.reset(warm)
                    fill(leave)
                    out = sc.run(retr, dele)
                    os.unlink(filler)
                    # ext4 reuses freed blocks once the journal commits
                    os.sync()
                    runs += 1
                    seen[outcome(out)] += 1
                    for p in judge(out) + sc.verify(out):
                        problems.append('%d messages, %s index, %d octets '
                                        'free: %s' % (nmsgs, 'warm' if warm
                                                      else 'cold', leave,
                                                      p))
        # A write error is logged with its cause (a full disk must say
        # so), also when GDBM gives no handle to ask.
        bare = re.findall(r'.*File write error(?!: ).*', sc.srv.log_text())
        problems += ['logged without its cause: ' + b for b in bare[:3]]
        log = sc.srv.log_text().lower()
        print('%s on %s: %d runs: %s; write errors logged: %d; problems: %d'
              % (backend_cls.NAME, fstype, runs,
                 ', '.join('%s %d' % kv for kv in sorted(seen.items())),
                 log.count('write error') + log.count('no space left'),
                 len(problems)))
        self.assertEqual(problems, [], '\n'.join(problems[:20]))


def _add_tests():
    for b in crashlib.BACKENDS.values():
        def inj(self, b=b):
            if not b.available():
                self.skipTest('%s not built' % b.PLUGIN)
            self.injected(b)

        def tmpfs(self, b=b):
            if not b.available():
                self.skipTest('%s not built' % b.PLUGIN)
            self.disk_full(b, 'tmpfs')

        def ext4(self, b=b):
            if not b.available():
                self.skipTest('%s not built' % b.PLUGIN)
            self.disk_full(b, 'ext4')
        setattr(Faults, 'test_injected_errors_%s' % b.NAME, inj)
        setattr(Faults, 'test_disk_full_tmpfs_%s' % b.NAME, tmpfs)
        setattr(Faults, 'test_disk_full_ext4_%s' % b.NAME, ext4)


_add_tests()

if __name__ == '__main__':
    p23.main()
