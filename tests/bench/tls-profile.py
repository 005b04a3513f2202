#!/usr/bin/env python3
# tls-profile.py - what one TLS session costs pop23d beyond a plaintext
# one, by process role, in counts that do not depend on how busy the
# machine is (doc/PERFORMANCE.md, "TLS: counted per session").
# GPL-3.0-or-later.
#
# Runs the daemon with a pop3 (STLS optional) and a pop3s listener, the
# same EC P-256 test certificate as tests/bench/peers.sh, one maildrop of
# M messages, and K sessions of one kind (poll: USER, PASS, STAT, QUIT;
# fetch: also RETR every message) in one mode:
#   plain     plaintext on the pop3 port (the baseline);
#   implicit  pop3s, TLS from the first octet;
#   stls      greeting, STLS, handshake on the pop3 port;
# each TLS 1.3, X25519, a full handshake per session, or with --resume the
# ticket of the session before (as popload --resume).  Counts per session:
#   --strace     system calls by process role (strace -ff attached to the
#                master after a warm-up session; the roles are found from
#                the fork return values: master, monitor -> session,
#                pre-auth child -> TLS proxy);
#   --faults     page faults by role (perf record -e page-faults -c 1,
#                attached the same way; roles from perf's fork records);
#   --callgrind  instructions (Ir) by role and the inclusive Ir of the TLS
#                functions (handshake, proxy, close, tls_forget) and of
#                OpenSSL's public-key operations.  The daemon runs rootless
#                with prof-noseccomp.so (session-profile.py explains why);
#                a plaintext pre-auth child is SIGKILLed by its monitor and
#                leaves no counts (under TLS it stays as the proxy and
#                exits by itself).
#
#   tls-profile.py --mode plain|implicit|stls [--resume] [--kind poll]
#       [-k 20] [-m 50] --strace|--faults|--callgrind
#       [--binary _build/pop23d] [--plugins _build/.libs]

import argparse
import collections
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

import profsetup as ps

PW = 'tppass'
ROLES = ('master', 'monitor/session', 'pre-auth/proxy', 'other')


class Client:
    def __init__(self, ports, mode, resume, ca):
        self.ports, self.mode, self.resume = ports, mode, resume
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.ctx.set_ecdh_curve('X25519')
        self.sess = None
        self.resumed = 0

    def session(self, kind):
        port = self.ports['pop3s' if self.mode == 'implicit' else 'pop3']
        raw = socket.create_connection(('127.0.0.1', port), timeout=60)
        s = raw
        sess = self.sess if self.resume else None
        if self.mode == 'implicit':
            s = self.ctx.wrap_socket(raw, server_hostname='localhost',
                                     session=sess)
        f = s.makefile('rwb', buffering=0)

        f.readline()
        if self.mode == 'stls':
            ps.command(f, b'STLS')
            f.close()
            s = self.ctx.wrap_socket(raw, server_hostname='localhost',
                                     session=sess)
            f = s.makefile('rwb', buffering=0)
        ps.pop3_mail(f, 'tp', PW, kind)
        if self.mode != 'plain':
            self.resumed += s.session_reused
            # the TLS 1.3 ticket came after the handshake
            self.sess = s.session
            try:
                s.unwrap()
            except (OSError, ssl.SSLError):
                pass
        f.close()
        s.close()
        raw.close()


def roles_from_parents(master, parent):
    """pid -> role: the master's children are monitors (and the auth
    service, which forks before any session), theirs pre-auth children."""
    role = {master: 'master'}
    for pid, pp in parent.items():
        if pp == master:
            role[pid] = 'monitor/session'
    for pid, pp in parent.items():
        if role.get(pp) == 'monitor/session':
            role[pid] = 'pre-auth/proxy'
    return role


def strace_report(prefix, master, n):
    parent = {}
    calls = {}
    for name in os.listdir(os.path.dirname(prefix)):
        if not name.startswith(os.path.basename(prefix) + '.'):
            continue
        pid = int(name.rsplit('.', 1)[1])
        c = collections.Counter()
        for line in open(os.path.join(os.path.dirname(prefix), name),
                         errors='replace'):
            m = re.match(r'(?:<\.\.\. )?([a-z_0-9]+)[( ]', line)
            if not m or line.startswith('+++') or line.startswith('---'):
                continue
            c[m.group(1)] += 1
            m2 = re.search(r'^(?:<\.\.\. )?(clone3?|v?fork)\b.*= (\d+)$',
                           line.rstrip())
            if m2:
                parent[int(m2.group(2))] = pid
        calls[pid] = c
    role = roles_from_parents(master, parent)
    per = {r: collections.Counter() for r in ROLES}
    procs = collections.Counter()
    for pid, c in calls.items():
        r = role.get(pid, 'other')
        per[r].update(c)
        procs[r] += 1
    print('system calls per session, by role (strace -ff, %d sessions):' % n)
    for r in ROLES:
        tot = sum(per[r].values())
        if tot == 0:
            continue
        top = ', '.join('%s %.1f' % (k, v / n)
                        for k, v in per[r].most_common(12))
        print('  %-16s %7.1f  (%d processes)  %s' % (r, tot / n, procs[r],
                                                     top))


def faults_report(data, master, n):
    out = subprocess.run(['perf', 'script', '-i', data, '--show-task-events',
                          '-F', 'pid,event'], capture_output=True,
                         text=True).stdout
    parent = {}
    faults = collections.Counter()
    for line in out.splitlines():
        m = re.search(r'PERF_RECORD_FORK\((\d+):\d+\):\((\d+):\d+\)', line)
        if m:
            parent[int(m.group(1))] = int(m.group(2))
            continue
        m = re.match(r'\s*(\d+)\s+page-faults', line)
        if m:
            faults[int(m.group(1))] += 1
    role = roles_from_parents(master, parent)
    per = collections.Counter()
    for pid, k in faults.items():
        per[role.get(pid, 'other')] += k
    print('page faults per session, by role (perf, %d sessions):' % n)
    for r in ROLES:
        if per[r]:
            print('  %-16s %8.1f' % (r, per[r] / n))
    print('  %-16s %8.1f' % ('all', sum(per.values()) / n))


WANT = ('preauth_child', 'tls_accept', 'SSL_accept', 'tls_proxy',
        'tls_close', 'tls_forget', 'tls_io_read', 'tls_io_write',
        'SSL_read_ex', 'SSL_write_ex', 'SSL_new', 'SSL_free',
        'SSL_shutdown', 'tls_ticket_cb', 'tls_mem_free',
        'ossl_x25519', 'x25519_', 'ecdsa_', 'ossl_ecdsa', 'ECDSA_',
        'EVP_PKEY_derive', 'EVP_DigestSign', 'EVP_PKEY_keygen',
        'tls13_', 'ossl_prov_', 'EVP_MD_fetch', 'EVP_CIPHER_fetch',
        'evp_generic_fetch', 'ossl_method_store', 'EVP_KDF_fetch',
        'tls_construct_', 'session_run', 'session_serve',
        'monitor_login', 'session_end_proxy', 'SSL_CTX_free',
        'fork', 'pop3_preauth', 'login_handover', 'net_flush',
        'priv_harden_preauth', 'explicit_bzero', 'malloc', 'free',
        'CRYPTO_malloc', 'CRYPTO_free', 'CRYPTO_zalloc', '_dl_')


def callgrind_report(tmp, n):
    per = collections.defaultdict(list)
    for name in sorted(os.listdir(tmp)):
        if not name.startswith('cg.') or not name.endswith('-01'):
            continue
        path = os.path.join(tmp, name)
        text = open(path, errors='replace').read()
        m = re.search(r'^(?:summary|totals): (\d+)', text, re.M)
        ir = int(m.group(1)) if m else 0
        if 'fn=' not in text or ir == 0:
            continue
        if 'priv_harden_preauth' in text:
            r = 'pre-auth/proxy'
        elif 'session_serve' in text:
            r = 'monitor/session'
        elif 'pool_serve' in text or 'authsvc' in text:
            r = 'other'
        else:
            r = 'master'
        per[r].append((ir, path))
    print('instructions (Ir) per process, by role (callgrind; the master '
          'and the auth service over the whole run):')
    for r in ROLES:
        if not per[r]:
            continue
        xs = sorted(per[r])
        print('  %-16s %d processes, median Ir %d, total/%d sessions %.0f' %
              (r, len(xs), xs[len(xs) // 2][0], n,
               sum(x[0] for x in xs) / n))
    for r in ('pre-auth/proxy', 'monitor/session'):
        if not per[r]:
            continue
        xs = sorted(per[r])
        path = xs[len(xs) // 2][1]
        out = subprocess.run(['callgrind_annotate', '--inclusive=yes',
                              '--threshold=100', path],
                             capture_output=True, text=True).stdout
        print('  %s (median process), inclusive Ir:' % r)
        shown = 0
        for line in out.splitlines():
            m = re.match(r'\s*([\d,]+) \([\s\d.]+%\)\s+\S*:(\S+)', line)
            if m and any(m.group(2).startswith(w) or w in m.group(2)
                         for w in WANT):
                print('    %14s  %s' % (m.group(1), m.group(2)[:70]))
                shown += 1
                if shown > 60:
                    break


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--mode', choices=('plain', 'implicit', 'stls'),
                    default='implicit')
    ap.add_argument('--resume', action='store_true')
    ap.add_argument('--kind', choices=('poll', 'fetch'), default='poll')
    ap.add_argument('-k', type=int, default=20)
    ap.add_argument('-m', type=int, default=50)
    ap.add_argument('--binary', default='_build/pop23d')
    ap.add_argument('--plugins', default='_build/.libs')
    ap.add_argument('--dir', default='/var/tmp/pop23d-tp')
    ap.add_argument('--strace', action='store_true')
    ap.add_argument('--faults', action='store_true')
    ap.add_argument('--callgrind', action='store_true')
    ap.add_argument('--keep', action='store_true')
    a = ap.parse_args()
    ps.need_root()
    if a.mode == 'plain' and a.resume:
        sys.exit('--resume needs a TLS mode')
    uid, gid = ps.mail_user()
    home, tmp = ps.setup_dirs(a.dir, a.m, uid, gid, 'tp-')
    pki = os.path.join(tmp, 'pki')
    os.mkdir(pki, 0o755)
    # a test CA and an EC P-256 server certificate, as peers.sh makes
    ps.make_ca(pki)
    ps.make_cert(pki, 'server', ps.EC_P256)
    rootless = a.callgrind
    if rootless:
        for f in os.listdir(pki):
            os.chown(os.path.join(pki, f), uid, gid)
    pw = ps.write_passwd(tmp, 'tp', '{PLAIN}' + PW, uid, gid, home,
                         rootless)
    portf = os.path.join(tmp, 'ports')
    conf = os.path.join(tmp, 'pop23d.conf')
    with open(conf, 'w') as f:
        f.write('listen = pop3 127.0.0.1:0\nlisten = pop3s 127.0.0.1:0\n'
                'tls = optional\ntls_cert = %s/server.pem\n'
                'tls_key = %s/server.key\n'
                'port_file = %s\npid_file = %s/pid\nplugin_dir = %s\n'
                'auth = passwdfile\nstorage = maildir\n'
                'mail_location = %%h/Maildir\nauth_failure_delay = 0\n'
                'hostname = tp.example\n%s\n[passwdfile]\npath = %s\n' % (
                    pki, pki, portf, tmp, os.path.abspath(a.plugins),
                    ps.privilege_conf(tmp, rootless), pw))
    cmd = [os.path.abspath(a.binary), '-f', '-c', conf]
    env = dict(os.environ)
    if a.callgrind:
        cmd = ps.callgrind_cmd(
            cmd, tmp, uid, gid, env, os.path.join(tmp, 'cg'), [
                # a forked child starts with its parent's counts: zero
                # them where each role begins (the pre-auth child's
                # priv_drop() before it is a few system calls)
                '--zero-before=session_run',
                '--zero-before=priv_harden_preauth',
                # the master's warm-up thread (tls.c) in files of its own
                '--separate-threads=yes'])
    d, log = ps.start_daemon(cmd, env, tmp)
    tracer = None
    client = Client({}, a.mode, a.resume, os.path.join(pki, 'ca.pem'))
    try:
        ps.wait_files([portf, os.path.join(tmp, 'pid')], 1200)
        time.sleep(0.3)
        client.ports.update(ps.read_ports(portf))
        master = int(open(os.path.join(tmp, 'pid')).read())
        client.session(a.kind)      # warm-up (index, page cache, ticket)
        client.session(a.kind)
        client.resumed = 0
        time.sleep(0.5)
        if a.strace:
            tracer = subprocess.Popen(['strace', '-ff', '-o',
                                       os.path.join(tmp, 'st'), '-p',
                                       str(master)],
                                      stderr=subprocess.DEVNULL)
        elif a.faults:
            tracer = subprocess.Popen(['perf', 'record', '-q', '-e',
                                       'page-faults', '-c', '1', '-d', '-o',
                                       os.path.join(tmp, 'perf.data'), '-p',
                                       str(master)],
                                      stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
        if tracer:
            time.sleep(1.0)
        for _ in range(a.k):
            client.session(a.kind)
        time.sleep(1.5)
        if tracer:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(60)
    finally:
        ps.stop_daemon(tmp, d, log)
    print('mode=%s%s kind=%s sessions=%d messages=%d resumed=%d' %
          (a.mode, ' resume' if a.resume else '', a.kind, a.k, a.m,
           client.resumed))
    if a.strace:
        strace_report(os.path.join(tmp, 'st'), master, a.k)
    if a.faults:
        faults_report(os.path.join(tmp, 'perf.data'), master, a.k)
    if a.callgrind:
        callgrind_report(tmp, a.k + 2)
    if a.keep or a.callgrind:
        print('files kept in', tmp)
    else:
        shutil.rmtree(tmp)


if __name__ == '__main__':
    main()
