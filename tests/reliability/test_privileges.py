#!/usr/bin/env python3
# test_privileges.py - what each pop23d process may do, read from /proc
# during live sessions (doc/SECURITY.md S3, G8; doc/RELIABILITY.md
# "Privilege checks").
#
# One server (root only: without root every role is the same user) whose
# mail user has its own uid and gid (64023), distinct from login_user
# (nobody), so that the pre-auth process could not read the maildrop even
# outside its chroot.  With one connection waiting at the greeting and one
# logged in, every role is alive: the master, the monitor and the pre-auth
# child of the first, the session of the second, and the auth service
# (role "auth": the master's child that holds the auth plugin, as
# auth_user, doc/DESIGN.md section 2.6) with its pool of workers (role
# "auth-worker", auth_workers = 2 here: the same rules as "auth"); any
# other child of the master is checked as "service".
# For each: uids, gids, groups, capabilities, NoNewPrivs, Seccomp, root
# and working directory, every descriptor (classified: a listening or a
# client TCP socket, a Unix socket, a pipe, /dev/null, the log, a file of
# the maildrop, anything else), resource limits and the plugins mapped.
#
#   test_roles          the rules in test_roles(), and the table for
#                       doc/RELIABILITY.md (P23_PRIV_TABLE=1 prints it)
#   test_preauth_cannot_read_maildrop
#                       a process with the pre-auth child's uid, gid and
#                       groups cannot open the maildrop or a message
#   test_no_root_reads_client_bytes
#                       strace -f of the master through POP3 and POP2
#                       logins (good and bad) and sessions: every read of a
#                       client TCP socket is made by a process that has
#                       left uid 0; skipped without strace
#
# GPL-3.0-or-later.

import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'integ'))
import p23  # noqa: E402
from pop2client import Pop2  # noqa: E402

MAIL_UID = MAIL_GID = 64023
LOGIN_USER = 'nobody'


class MailUserServer(p23.Server):
    """A p23.Server whose mail user is MAIL_UID:MAIL_GID."""

    def _own(self, path):
        if p23.ROOT:
            os.chown(path, MAIL_UID, MAIL_GID, follow_symlinks=False)

    def passwd_line(self, name):
        pw = self.users[name]
        pw, scheme = pw if isinstance(pw, tuple) else (pw, 'plain')
        return '%s:%s:%d:%d::%s::\n' % (name, self._hash(pw, scheme),
                                         MAIL_UID, MAIL_GID,
                                         self.home(name))


def status(pid):
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            out[k] = v.strip()
    return out


def limits(pid):
    """{name: (soft, hard)} from /proc/PID/limits."""
    out = {}
    with open('/proc/%d/limits' % pid) as f:
        next(f)
        for line in f:
            m = re.match(r'(.+?)\s{2,}(\S+)\s+(\S+)', line)
            if m:
                out[m.group(1)] = (m.group(2), m.group(3))
    return out


def sockets():
    """{inode: description} of the TCP and Unix sockets in /proc/net."""
    out = {}
    for name in ('tcp', 'tcp6'):
        try:
            with open('/proc/net/' + name) as f:
                next(f)
                for line in f:
                    w = line.split()
                    out[w[9]] = 'tcp-listen' if w[3] == '0A' else \
                        'tcp-client'
        except FileNotFoundError:
            pass
    with open('/proc/net/unix') as f:
        next(f)
        for line in f:
            w = line.split()
            # SOCK_DGRAM is the log relay (or syslog), SOCK_SEQPACKET the
            # monitor/pre-auth channel
            out[w[6]] = 'unix-dgram' if w[4] == '0002' else 'unix'
    return out


def descriptors(pid, srv, socks):
    """{fd: (class, target)} of PID."""
    out = {}
    d = '/proc/%d/fd' % pid
    for fd in sorted(os.listdir(d), key=int):
        try:
            t = os.readlink('%s/%s' % (d, fd))
        except OSError:
            continue
        m = re.match(r'socket:\[(\d+)\]$', t)
        if m:
            cls = socks.get(m.group(1), 'socket')
            if cls == 'unix-dgram' and fd == '2':
                cls = 'log'     # stderr: the log relay to the master
        elif t.startswith('pipe:'):
            cls = 'pipe'
        elif t == '/dev/null':
            cls = 'null'
        elif t == srv.log_path:
            cls = 'log'
        elif t.startswith(srv.tmp + '/home/'):
            rel = os.path.relpath(t, srv.maildir('alice'))
            cls = 'maildrop:' + rel
        else:
            cls = 'other'
        out[int(fd)] = (cls, t)
    return out


def describe(pid, srv, socks):
    st = status(pid)
    return {
        'pid': pid,
        'uid': [int(x) for x in st['Uid'].split()],
        'gid': [int(x) for x in st['Gid'].split()],
        'groups': [int(x) for x in st['Groups'].split()],
        'CapPrm': int(st['CapPrm'], 16), 'CapEff': int(st['CapEff'], 16),
        'CapAmb': int(st['CapAmb'], 16), 'CapBnd': int(st['CapBnd'], 16),
        'NoNewPrivs': int(st.get('NoNewPrivs', '0')),
        'Seccomp': int(st.get('Seccomp', '0')),
        'root': os.readlink('/proc/%d/root' % pid),
        'cwd': os.readlink('/proc/%d/cwd' % pid),
        'fds': descriptors(pid, srv, socks),
        'limits': limits(pid),
        'plugins': sorted({os.path.basename(l.split()[-1])
                           for l in open('/proc/%d/maps' % pid)
                           if re.search(r'/(auth|store)_\w+\.so$',
                                        l.strip())}),
    }


def fd_summary(fds):
    kinds = {}
    for fd, (cls, t) in sorted(fds.items()):
        kinds.setdefault(cls, []).append(str(fd))
    return ', '.join('%s %s' % (k, '/'.join(v)) for k, v in kinds.items())


def table(roles):
    """The markdown table of doc/RELIABILITY.md."""
    rows = [('role', 'uid (r/e/s/fs)', 'gid', 'groups', 'CapEff / CapPrm',
             'NoNewPrivs', 'Seccomp', 'root', 'descriptors',
             'NOFILE / NPROC / FSIZE / CORE', 'plugins mapped')]
    for name, d in roles:
        lim = d['limits']
        rows.append((
            name, '/'.join(map(str, d['uid'])),
            '/'.join(map(str, d['gid'])),
            ' '.join(map(str, d['groups'])) or '-',
            '%x / %x' % (d['CapEff'], d['CapPrm']),
            str(d['NoNewPrivs']), str(d['Seccomp']),
            d['root'].replace(d.get('tmp', ''), '<tmp>'),
            fd_summary(d['fds']),
            ' / '.join(lim.get(k, ('?',))[0] for k in (
                'Max open files', 'Max processes', 'Max file size',
                'Max core file size')),
            ' '.join(d['plugins']) or '-'))
    return '\n'.join('| ' + ' | '.join(r) + ' |' for r in
                     rows[:1] + [tuple('---' for _ in rows[0])] + rows[1:])


class Privileges(p23.TestCase):

    def setUp(self):
        if not p23.ROOT:
            self.skipTest('needs root: without it every process is the '
                          'same user (rootless mode)')
        self.srv = MailUserServer(start=False, pop2=True,
                                  conf={'auth_workers': '2'})
        self.addCleanup(self.srv.cleanup)
        self.srv.add_message('alice', p23.sized_message(400, 'priv'))
        self.srv.start()

    def roles(self):
        """[(role, description)] with one connection at the greeting and
        one logged in; also returns the two connections."""
        srv = self.srv
        # the master starts the auth service right after its port file
        # and the service its two workers
        p23.wait_until(lambda: len(srv.auth_services(with_workers=True))
                       == 3, 5)
        services = [p for p in p23.descendants(srv.pid)]
        waiting = self.conn(srv)
        self.assertTrue(waiting.line().startswith('+OK'))
        p23.wait_until(lambda: len(p23.descendants(srv.pid)) >=
                       len(services) + 2, 5)
        kids = [p for p in p23.descendants(srv.pid) if p not in services]
        monitor = [p for p in kids if p23.proc_stat(p)[0] == srv.pid][0]
        preauth = [p for p in kids if p23.proc_stat(p)[0] == monitor][0]
        session_conn = self.login(srv)
        self.assertTrue(session_conn.cmd('STAT').startswith('+OK'))
        kids = [p for p in p23.descendants(srv.pid)
                if p not in services + [monitor, preauth]]
        self.assertEqual(len(kids), 1, kids)
        socks = sockets()
        out = [('master', describe(srv.pid, srv, socks))]
        auth = srv.auth_services()
        workers = [k for k in srv.auth_services(with_workers=True)
                   if k not in auth]
        for p in services:
            d = describe(p, srv, socks)
            out.append(('auth' if p in auth else 'auth-worker'
                        if p in workers else 'service', d))
        out += [('monitor', describe(monitor, srv, socks)),
                ('pre-auth', describe(preauth, srv, socks)),
                ('session', describe(kids[0], srv, socks))]
        for name, d in out:
            d['tmp'] = srv.tmp
        return out

    def test_roles(self):
        srv = self.srv
        roles = self.roles()
        if os.environ.get('P23_PRIV_TABLE'):
            print('\n' + table(roles))
        login_uid = int(subprocess.run(['id', '-u', LOGIN_USER],
                                       capture_output=True, text=True,
                                       check=True).stdout)
        problems = []

        def check(cond, role, what):
            if not cond:
                problems.append('%s: %s' % (role, what))

        for name, d in roles:
            kinds = {c for c, t in d['fds'].values()}
            check('other' not in kinds, name, 'unexpected descriptor(s): '
                  '%s' % fd_summary(d['fds']))
            if name in ('pre-auth', 'session', 'service', 'auth',
                        'auth-worker'):
                check(0 not in d['uid'] + d['gid'], name,
                      'uid/gid 0: %r %r' % (d['uid'], d['gid']))
                check(d['CapEff'] == 0 and d['CapPrm'] == 0 and
                      d['CapAmb'] == 0, name, 'holds capabilities')
                check('tcp-listen' not in kinds, name,
                      'holds a listening socket')
                check(not [c for c in kinds if c == 'pipe'], name,
                      'holds a pipe (the master\'s signal pipe?)')
            if name in ('pre-auth', 'session'):
                check(d['NoNewPrivs'] == 1, name, 'NoNewPrivs is not set')
            if name == 'pre-auth':
                check(d['Seccomp'] == 2, name, 'no seccomp filter')
                lim = d['limits']
                check(lim['Max file size'][0] == '0', name,
                      'may write files (RLIMIT_FSIZE %s)' %
                      lim['Max file size'][0])
                check(lim['Max processes'][0] == '0', name,
                      'may fork (RLIMIT_NPROC %s)' % lim['Max processes'][0])
                check(int(lim['Max open files'][0]) <= len(d['fds']), name,
                      'may open descriptors (RLIMIT_NOFILE %s, holds %d)' %
                      (lim['Max open files'][0], len(d['fds'])))
                check(d['uid'] == [login_uid] * 4, name,
                      'uids %r, want %d' % (d['uid'], login_uid))
                check(MAIL_UID not in d['uid'], name, 'is the mail user')
                check(d['root'] == os.path.join(srv.tmp, 'empty'), name,
                      'root %s, not the login_chroot' % d['root'])
                check(d['cwd'].startswith(os.path.join(srv.tmp, 'empty')),
                      name, 'cwd %s outside the chroot' % d['cwd'])
                check(not [c for c in kinds if c.startswith('maildrop')],
                      name, 'holds a maildrop descriptor')
                check(kinds <= {'null', 'log', 'tcp-client', 'unix'},
                      name, 'descriptors %s' % fd_summary(d['fds']))
                check(list(kinds).count('tcp-client') <= 1, name,
                      'more than the client socket')
            if name == 'session':
                check(d['uid'] == [MAIL_UID] * 4 and
                      d['gid'] == [MAIL_GID] * 4, name,
                      'ids %r %r, want the mail user' % (d['uid'],
                                                         d['gid']))
                check(set(d['groups']) <= {MAIL_GID}, name,
                      'supplementary groups %r' % d['groups'])
                check(d['root'] == '/', name, 'root %s' % d['root'])
                allowed = {'null', 'log', 'tcp-client', 'maildrop:.',
                           'maildrop:new', 'maildrop:cur',
                           'maildrop:pop23d.lock', 'maildrop:pop23d.index'}
                check(kinds <= allowed, name, 'descriptors it does not '
                      'need: %s' % fd_summary(d['fds']))
                check(sum(1 for c, t in d['fds'].values()
                          if c == 'tcp-client') == 1, name,
                      'not exactly one client socket')
                check(not [p for p in d['plugins'] if p.startswith('auth')],
                      name, 'an auth plugin is mapped: %r' % d['plugins'])
            if name in ('auth', 'auth-worker'):
                check(d['uid'] == [p23.AUTH_UID] * 4 and
                      d['gid'] == [p23.AUTH_GID] * 4, name,
                      'ids %r %r, want auth_user %s' % (
                          d['uid'], d['gid'], p23.AUTH_USER))
                check(set(d['groups']) <= {p23.AUTH_GID}, name,
                      'supplementary groups %r' % d['groups'])
                check(d['NoNewPrivs'] == 1, name, 'NoNewPrivs is not set')
                check(d['uid'][0] != login_uid and
                      MAIL_UID not in d['uid'], name,
                      'shares a uid with login_user or the mail user')
                check(kinds <= {'null', 'log', 'unix'}, name,
                      'descriptors %s' % fd_summary(d['fds']))
                check(d['plugins'] == ['auth_passwdfile.so'], name,
                      'plugins mapped: %r' % d['plugins'])
            if name in ('monitor', 'pre-auth', 'master'):
                # master: loads it to check the configuration only
                check(name == 'master' or not [
                    p for p in d['plugins'] if p.startswith('auth')],
                    name, 'an auth plugin is mapped: %r' % d['plugins'])
            if name == 'monitor':
                check(kinds <= {'null', 'log', 'tcp-client', 'unix'},
                      name, 'descriptors %s' % fd_summary(d['fds']))
                check('tcp-listen' not in kinds, name,
                      'holds a listening socket')
            if name == 'master':
                check('tcp-client' not in kinds, name,
                      'holds a client socket')
        self.assertEqual(problems, [], '\n'.join(problems) + '\n' +
                         table(roles))
        self.assertEqual([n for n, d in roles].count('auth'), 1,
                         table(roles))
        self.assertEqual([n for n, d in roles].count('auth-worker'), 2,
                         table(roles))

    def test_preauth_cannot_read_maildrop(self):
        roles = dict(self.roles())
        pre = roles['pre-auth']
        md = self.srv.maildir('alice')
        victims = [md, os.path.join(md, 'new')] + \
            [os.path.join(md, 'new', f) for f in
             os.listdir(os.path.join(md, 'new'))]
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                os.setgroups(pre['groups'])
                os.setresgid(*pre['gid'][:3])
                os.setresuid(*pre['uid'][:3])
                opened = []
                for v in victims:
                    try:
                        if os.path.isdir(v):
                            os.listdir(v)
                        else:
                            open(v, 'rb').close()
                        opened.append(v)
                    except PermissionError:
                        pass
                os.write(w, repr(opened).encode())
            finally:
                os._exit(0)
        os.close(w)
        got = b''
        while True:
            d = os.read(r, 65536)
            if not d:
                break
            got += d
        os.close(r)
        os.waitpid(pid, 0)
        self.assertEqual(got, b'[]', 'the pre-auth uid could open: %s'
                         % got.decode())

    def test_no_root_reads_client_bytes(self):
        if shutil.which('strace') is None:
            self.skipTest('strace not installed')
        srv = self.srv
        trace = os.path.join(srv.tmp, 'strace.out')
        st = subprocess.Popen(
            ['strace', '-f', '-qq', '-yy', '-o', trace, '-e',
             'trace=read,readv,recvfrom,recvmsg,recvmmsg,setresuid,'
             'setuid,setreuid', '-p', str(srv.pid)],
            stderr=subprocess.PIPE)
        self.addCleanup(lambda: st.poll() is None and st.kill())
        # strace prints nothing when attached with -qq: wait until the
        # master is traced.
        p23.wait_until(lambda: status(srv.pid).get('TracerPid', '0') !=
                       '0', 10)
        if status(srv.pid).get('TracerPid', '0') == '0':
            self.skipTest('strace cannot attach: %s' %
                          st.stderr.read(500).decode(errors='replace'))
        # POP3: a failed login, garbage, a good login and a session
        c = self.conn(srv)
        c.line()
        self.assertERR(c.cmd('USER alice') and c.cmd('PASS wrong'))
        c.cmd('XYZZY %n%n')
        c.close()
        c = self.login(srv)
        self.assertOK(c.cmd('STAT'))
        self.assertOK(c.retr(1)[0])
        self.assertOK(c.cmd('QUIT'))
        # POP2: a good session
        p = Pop2(srv.pop2_port)
        self.addCleanup(p.close)
        self.assertEqual(p.login('alice', 'alicepw'), 1)
        p.send(b'QUIT\r\n')
        p.closed(5)
        time.sleep(0.5)
        st.send_signal(signal.SIGINT)
        st.wait(10)
        uid = {}            # pid -> current uid (0 until it changes)
        pending = {}        # pid -> uid of an unfinished set*uid call
        client_reads = {}   # (pid, uid) -> count
        with open(trace) as f:
            for line in f:
                line = line.strip()
                m = re.match(r'(\d+) +<\.\.\. (\w+) resumed>.*= (-?\d+)',
                             line)
                if m:
                    pid = int(m.group(1))
                    if pid in pending and m.group(3) == '0':
                        uid[pid] = pending[pid]
                    pending.pop(pid, None)
                    continue
                m = re.match(r'(\d+) +(\w+)\((.*)', line)
                if not m:
                    continue
                pid, call, rest = int(m.group(1)), m.group(2), m.group(3)
                if call in ('setresuid', 'setuid', 'setreuid'):
                    # the first argument that is not -1
                    new = int(re.search(r'(?<!-)\b(\d+)', rest).group(1))
                    if line.endswith('<unfinished ...>'):
                        pending[pid] = new
                    elif re.search(r'\) += 0$', line):
                        uid[pid] = new
                    continue
                if re.match(r'\d+<TCP(v6)?:\[[^\]]*->', rest):
                    key = (pid, uid.get(pid, 0))
                    client_reads[key] = client_reads.get(key, 0) + 1
        as_root = {k: v for k, v in client_reads.items() if k[1] == 0}
        print('reads of client sockets by (pid, uid): %r' % client_reads)
        self.assertTrue(client_reads, 'no client read seen: is the trace '
                        'empty?')
        self.assertEqual(as_root, {}, 'client bytes read as root')


if __name__ == '__main__':
    p23.main()
