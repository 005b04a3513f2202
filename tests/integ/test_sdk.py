#!/usr/bin/env python3
# test_sdk.py - the plugin SDK as a plugin author meets it: "make install
# DESTDIR=..." from the build tree, then an auth plugin built OUT OF TREE
# with nothing but "pkg-config --cflags pop23d-plugin" and cc (the example
# of doc/PLUGINS.md, plugins/example_auth.c), installed into the
# plugindir pkg-config names, loaded by the INSTALLED pop23d, and a login
# through it with python's poplib.  Plugins built for another ABI, or
# needing a newer API, are refused with the exact texts below.  Also: the
# PAM service file is installed where Debian's libpam reads it, never over
# an existing one, and uninstalled only while unchanged.
# GPL-3.0-or-later.

import glob
import os
import poplib
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import p23  # noqa: E402

SRCDIR = os.environ.get('POP23D_SRCDIR') or \
    os.path.normpath(os.path.join(p23.HERE, '..', '..'))
MAKE = os.environ.get('POP23D_MAKE') or 'make'
CC = os.environ.get('POP23D_CC') or 'cc'
EXAMPLE = os.path.join(SRCDIR, 'plugins', 'example_auth.c')

# A plugin that does not check the ABI itself: the host must.
NO_CHECK_PLUGIN = r'''
#include <stddef.h>
#include <pop23d/plugin.h>

static enum pop23d_result
v(const char *u, const char *p)
{
	(void)u; (void)p;
	return POP23D_OK;
}

static enum pop23d_result
l(const char *u, struct pop23d_identity *id)
{
	(void)u; (void)id;
	return POP23D_OK;
}

static const struct pop23d_auth_ops ops = {
	.verify_plain = v, .lookup = l,
};

static const struct pop23d_plugin plugin = {
	.abi = ABI, .api_built = POP23D_PLUGIN_API, .api_min = API_MIN,
	.kind = POP23D_PLUGIN_AUTH, .name = "nocheck", .auth = &ops,
};

int
pop23d_plugin_init(unsigned host_abi, const struct pop23d_host *host,
    const struct pop23d_plugin **plugin_r)
{
	(void)host_abi; (void)host;
	*plugin_r = &plugin;
	return 0;
}
'''


def clean_env():
    """The environment for a nested make: without the outer make's
    jobserver and flags (its descriptors are not inherited anyway)."""
    env = dict(os.environ)
    for k in ('MAKEFLAGS', 'MFLAGS', 'MAKELEVEL', 'MAKEOVERRIDES',
              'DESTDIR'):
        env.pop(k, None)
    return env


def make(*targets, destdir):
    r = subprocess.run([MAKE, '-s'] + list(targets) +
                       ['DESTDIR=' + destdir], cwd=p23.BUILDDIR,
                       env=clean_env(), capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise AssertionError('make %s failed:\n%s%s' %
                             (' '.join(targets), r.stdout, r.stderr))


def only(pattern):
    hits = glob.glob(pattern, recursive=True)
    assert len(hits) == 1, '%s: %r' % (pattern, hits)
    return hits[0]


class Staged:
    """pop23d installed into a DESTDIR, and pkg-config pointed at it."""

    def __init__(self):
        self.dest = tempfile.mkdtemp(prefix='p23sdk-')
        make('install', destdir=self.dest)
        self.pc = only(self.dest + '/**/pkgconfig/pop23d-plugin.pc')
        self.binary = only(self.dest + '/**/sbin/pop23d')
        self.env = dict(os.environ)
        # Only this .pc, and its paths inside the DESTDIR
        # (pkg-config's way to use a staged install).
        self.env['PKG_CONFIG_LIBDIR'] = os.path.dirname(self.pc)
        self.env['PKG_CONFIG_PATH'] = os.path.dirname(self.pc)
        self.env['PKG_CONFIG_SYSROOT_DIR'] = self.dest
        self.cflags = shlex.split(self.pkg_config('--cflags'))
        d = self.pkg_config('--variable=plugindir')
        if not d.startswith(self.dest):
            d = self.dest + d     # a pkg-config that leaves variables
        self.plugindir = d

    def pkg_config(self, *args):
        r = subprocess.run(['pkg-config'] + list(args) + ['pop23d-plugin'],
                           env=self.env, capture_output=True, text=True,
                           check=True)
        return r.stdout.strip()

    def cc(self, src, out, extra=(), first=()):
        """cc SRC into the shared object OUT; FIRST goes before the
        pkg-config flags (an -I there wins), EXTRA after."""
        cmd = [CC, '-shared', '-fPIC', '-Wall', '-Wextra', '-Werror'] + \
            list(first) + self.cflags + list(extra) + ['-o', out, src]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError('%s\n%s' % (' '.join(cmd), r.stderr))
        return out

    def cleanup(self):
        shutil.rmtree(self.dest, ignore_errors=True)


class Sdk(p23.TestCase):

    def setUp(self):
        self.staged = Staged()
        self.addCleanup(self.staged.cleanup)
        self.work = tempfile.mkdtemp(prefix='p23sdkw-')
        self.addCleanup(shutil.rmtree, self.work, True)

    def installed_server(self, auth, users):
        srv = p23.Server(users=users, start=False)
        self.addCleanup(srv.cleanup)
        srv.binary = self.staged.binary
        srv.plugindir = self.staged.plugindir
        srv.conf = {'auth': auth, 'passwdfile.path': None,
                    'mail_location': os.path.join(srv.tmp, 'home', '%u',
                                                  'Maildir')}
        if p23.ROOT:
            srv.conf['virtual_uid'] = str(p23.SESSION_UID)
            srv.conf['virtual_gid'] = str(p23.SESSION_GID)
        srv.write_config()
        return srv

    def install_plugin(self, so, name):
        # what doc/PLUGINS.md tells an author to do
        dst = os.path.join(self.staged.plugindir, name)
        shutil.copyfile(so, dst)
        os.chmod(dst, 0o755)

    def test_header_and_pc_installed(self):
        st = self.staged
        self.assertEqual(st.cflags, ['-I' + os.path.dirname(
            only(st.dest + '/**/include/pop23d/plugin.h')).rsplit('/', 1)[0]
            ])
        self.assertTrue(os.path.isdir(st.plugindir))
        self.assertTrue(os.path.exists(os.path.join(st.plugindir,
                                                    'store_maildir.so')))
        self.assertEqual(st.pkg_config('--modversion'), '0.1.0')
        # the example is never installed
        self.assertFalse(glob.glob(st.dest + '/**/*example*',
                                   recursive=True))

    def test_out_of_tree_plugin_logs_in(self):
        so = self.staged.cc(EXAMPLE, os.path.join(self.work,
                                                  'auth_example.so'))
        self.install_plugin(so, 'auth_example.so')
        srv = self.installed_server('example', {'example': 'unused'})
        srv.add_message('example', b'Subject: sdk\n\nfrom out of tree\n')
        srv.start()
        self.assertIn('pop23d 0.1.0 started', srv.log_text())
        pop = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        try:
            pop.user('example')
            self.assertTrue(pop.pass_('example').startswith(b'+OK'))
            self.assertEqual(pop.stat()[0], 1)
            resp, lines, _ = pop.retr(1)
            self.assertIn(b'from out of tree', lines)
        finally:
            pop.quit()
        pop = poplib.POP3('127.0.0.1', srv.pop3_port, timeout=10)
        try:
            pop.user('example')
            with self.assertRaises(poplib.error_proto) as e:
                pop.pass_('wrong')
            self.assertIn(b'-ERR [AUTH]', e.exception.args[0])
        finally:
            pop.close()

    def refused(self, so, name, auth, why):
        """Install SO as NAME and check the config with the installed
        pop23d: it must fail with exactly one line, "pop23d: CONF:LINE:
        PLUGIN: WHY" (LINE: the "auth =" line)."""
        self.install_plugin(so, name)
        srv = self.installed_server(auth, {})
        r = srv.check_config()
        self.assertNotEqual(r.returncode, 0, r.stderr)
        line = srv.config_lines().index('auth = ' + auth) + 1
        self.assertEqual(r.stderr, 'pop23d: %s:%d: %s: %s\n' % (
            srv.conf_path, line, os.path.join(self.staged.plugindir, name),
            why))

    def test_wrong_abi_refused(self):
        # the example built against a header of another ABI: it refuses
        # to start, and the daemon says what to do
        inc = os.path.join(self.work, 'include')
        os.makedirs(os.path.join(inc, 'pop23d'))
        hdr = only(self.staged.dest + '/**/include/pop23d/plugin.h')
        with open(hdr) as f:
            text = f.read()
        text, n = re.subn(r'#define POP23D_PLUGIN_ABI\t1\n',
                          '#define POP23D_PLUGIN_ABI\t2\n', text)
        self.assertEqual(n, 1)
        with open(os.path.join(inc, 'pop23d', 'plugin.h'), 'w') as f:
            f.write(text)
        so = self.staged.cc(EXAMPLE, os.path.join(self.work, 'abi2.so'),
                            first=['-I' + inc])
        self.refused(so, 'auth_example.so', 'example',
                     'the plugin refused to start with plugin ABI 1: '
                     'rebuild it against this pop23d\'s <pop23d/plugin.h>')

    def test_wrong_abi_in_descriptor_refused(self):
        # a plugin that does not check the ABI itself is refused by the
        # host from its descriptor
        src = os.path.join(self.work, 'nocheck.c')
        with open(src, 'w') as f:
            f.write(NO_CHECK_PLUGIN)
        so = self.staged.cc(src, os.path.join(self.work, 'nocheck.so'),
                            extra=['-DABI=2', '-DAPI_MIN=1'])
        self.refused(so, 'auth_nocheck.so', 'nocheck',
                     'plugin ABI 2, daemon ABI 1: rebuild the plugin')

    def test_newer_api_refused(self):
        src = os.path.join(self.work, 'nocheck.c')
        with open(src, 'w') as f:
            f.write(NO_CHECK_PLUGIN)
        so = self.staged.cc(src, os.path.join(self.work, 'api.so'),
                            extra=['-DABI=POP23D_PLUGIN_ABI',
                                   '-DAPI_MIN=(POP23D_PLUGIN_API+1)'])
        # the daemon's API, from the header it was built with
        hdr = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           '..', '..', 'include', 'pop23d', 'plugin.h')
        with open(hdr) as f:
            api = int(re.search(r'#define POP23D_PLUGIN_API\s+(\d+)',
                                f.read()).group(1))
        self.refused(so, 'auth_nocheck.so', 'nocheck',
                     'plugin needs API %d, daemon has %d' % (api + 1, api))


class PamFile(p23.TestCase):
    """doc/pam.d/pop23d goes to $(sysconfdir)/pam.d/pop23d."""

    def test_install_never_overwrites_uninstall_only_unchanged(self):
        dest = tempfile.mkdtemp(prefix='p23pamd-')
        self.addCleanup(shutil.rmtree, dest, True)
        sample = os.path.join(SRCDIR, 'doc', 'pam.d', 'pop23d')
        with open(sample) as f:
            text = f.read()
        make('install', destdir=dest)
        path = only(dest + '/**/pam.d/pop23d')
        with open(path) as f:
            self.assertEqual(f.read(), text)
        # an administrator's file survives install and uninstall
        with open(path, 'w') as f:
            f.write('auth required pam_deny.so\n')
        make('install', destdir=dest)
        make('uninstall', destdir=dest)
        with open(path) as f:
            self.assertEqual(f.read(), 'auth required pam_deny.so\n')
        # our own, unchanged file is removed with the rest
        with open(path, 'w') as f:
            f.write(text)
        make('uninstall', destdir=dest)
        self.assertFalse(os.path.exists(path))
        left = [p for p in glob.glob(dest + '/**', recursive=True)
                if os.path.isfile(p)]
        self.assertEqual(left, [])


if __name__ == '__main__':
    p23.main(requires=('pkg-config', CC, MAKE))
