#!/bin/sh
# tests/demo.sh - the README's two set-up commands.
#
#   tests/demo.sh run    install build dependencies (apt-get), build, create a
#                        demo maildrop under demo/ and run pop23d in the
#                        foreground on 127.0.0.1:1110 (POP3) and :1109 (POP2)
#   tests/demo.sh test   install dependencies, build, run "make check", then
#                        the whole suite again in an ASan+UBSan build; the
#                        exit status is the verdict
#
# Works from any directory and any clone location, as root or as a normal
# user (the package step needs root: it uses sudo when not root, and is
# skipped when every package is installed).  Builds go to _build/ and
# _build-san/ in the tree; the demo configuration lives in demo/ (both
# git-ignored).  As a normal user the demo maildrop is demo/home and every
# process runs as that user ("rootless").  As root the sessions run as a
# system user pop23d-demo, which must reach the maildrop: a clone under
# /root (mode 700) is out of its reach, so as root the maildrop lives in
# /var/lib/pop23d-demo (POP23D_DEMO_HOME overrides it).
#
# POP23D_DEMO_STORAGE=mbox serves an mbox instead of the Maildir: $H/mbox
# (what /var/mail/USER is on a real host) and the UW-style folder
# $H/mail/saved for POP2 FOLD, with the "mbox" storage plugin.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"

PKGS="build-essential autoconf automake libtool pkg-config libgdbm-dev gdbmtool
libsasl2-dev libsasl2-modules sasl2-bin check libcrypt-dev libssl-dev
libpam0g-dev libinih-dev libseccomp-dev python3 curl fetchmail mpop openssl
procps strace passwd libpam-modules clang libclang-rt-14-dev gsasl
liblockfile-bin procmail"

as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "demo.sh: missing packages need root: run as root, or" \
		    "install sudo, or apt-get install them first" >&2
		exit 1
	fi
}

install_deps() {
	missing=""
	for p in $PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "== installing:$missing"
	as_root apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $missing
}

build() { # dir [configure args...]
	dir=$1; shift
	if [ ! -x configure ] || [ configure.ac -nt configure ] ||
	    [ Makefile.am -nt Makefile.in ]; then
		echo "== autoreconf"
		autoreconf -fi
	fi
	mkdir -p "$dir"
	(cd "$dir" &&
	 { [ -f Makefile ] && [ config.status -nt ../configure ] ||
	   ../configure -q "$@"; } &&
	 make -j"$(nproc)" >/dev/null)
}

# Run the shell script on stdin, with arguments, as the demo maildrop's
# owner: pop23d-demo when we are root, else ourselves.
as_owner() {
	if [ "$(id -u)" = 0 ]; then
		(cd / && runuser -u pop23d-demo -- sh -s "$@")
	else
		sh -s "$@"
	fi
}

run_demo() {
	install_deps
	build _build
	D=$TOP/demo
	mkdir -p "$D/empty"
	uid=$(id -u) gid=$(id -g)
	extra=""
	if [ "$uid" = 0 ]; then
		# Sessions never run as root: a dedicated demo user owns the
		# maildrop, outside the tree (see the top of this file);
		# pre-auth processes run as "nobody" chrooted in demo/empty.
		H=${POP23D_DEMO_HOME:-/var/lib/pop23d-demo}
		getent passwd pop23d-demo >/dev/null ||
			useradd -r -M -d "$H" -s /usr/sbin/nologin pop23d-demo
		uid=$(id -u pop23d-demo) gid=$(id -g pop23d-demo)
		mkdir -p "$H"
		chown "$uid:$gid" "$H"
		chmod 700 "$H"
		# The auth service runs as pop23d-auth and reads the
		# passwd-file through its group, from a root-owned directory
		# outside the tree (which may be under /root, mode 700).
		getent passwd pop23d-auth >/dev/null ||
			useradd -r -M -d /nonexistent -s /usr/sbin/nologin \
			    pop23d-auth
		PWDIR=${POP23D_DEMO_AUTHDIR:-/var/lib/pop23d-demo-auth}
		mkdir -p "$PWDIR"
		chown root:root "$PWDIR"
		chmod 755 "$PWDIR"
		extra="login_user = nobody
login_chroot = $D/empty
auth_user = pop23d-auth"
		if ! runuser -u pop23d-demo -- test -x "$H"; then
			echo "pop23d-demo cannot reach $H: make the folders" \
			    "above it searchable (chmod o+x), or set" \
			    "POP23D_DEMO_HOME" >&2
			exit 1
		fi
	else
		H=$D/home
		PWDIR=$D
	fi
	M=$H/Maildir
	storage=${POP23D_DEMO_STORAGE:-maildir}
	case $storage in
	maildir) location=%h/Maildir; storage_conf= ;;
	mbox) location=%h/mbox; M=$H/mbox; storage_conf="
[mbox]
folders = %h/mail" ;;
	*) echo "POP23D_DEMO_STORAGE: maildir or mbox" >&2; exit 2 ;;
	esac
	# The maildrop is made by its owner: as root, files are never created
	# as root in a directory another user controls.
	as_owner "$H" <<'EOS'
set -eu
H=$1 M=$1/Maildir
mkdir -p "$M/cur" "$M/new" "$M/tmp" \
	"$M/.saved/cur" "$M/.saved/new" "$M/.saved/tmp"
if [ ! -f "$H/.made" ]; then
	now=$(date +%s)
	printf 'From: Alice <alice@example.org>\nTo: demo@localhost\nSubject: Welcome to pop23d\n\nThis message is stored with LF line ends.\nA line with only a dot follows:\n.\n..and one that starts with two dots.\n' \
		>"$M/new/$((now - 3)).M1P1.demo"
	printf 'From: Bob <bob@example.org>\r\nTo: demo@localhost\r\nSubject: CRLF stored\r\n\r\nThis message is stored with CRLF line ends.\r\n' \
		>"$M/new/$((now - 2)).M2P1.demo"
	printf 'From: Carol <carol@example.org>\nTo: demo@localhost\nSubject: no final newline\n\nThis message has no newline at the end' \
		>"$M/new/$((now - 1)).M3P1.demo"
	printf 'From: Dave <dave@example.org>\nTo: demo@localhost\nSubject: in a folder\n\nPOP2: FOLD saved\n' \
		>"$M/.saved/new/$((now)).M4P1.demo"
	touch "$H/.made"
fi
# The same sample messages as an mbox (separator lines, the empty line
# after each message, as an MDA writes them) and a UW-style folder.
if [ ! -f "$H/.made-mbox" ]; then
	mkdir -p "$H/mail"
	{
	for f in "$M"/new/*.demo; do
		printf 'From demo@localhost Mon Dec  7 01:00:00 2026\n'
		cat "$f"
		[ -z "$(tail -c1 "$f")" ] || printf '\n'
		printf '\n'
	done
	} >"$H/mbox"
	printf 'From dave@example.org Mon Dec  7 01:00:00 2026\nFrom: Dave <dave@example.org>\nTo: demo@localhost\nSubject: in a folder\n\nPOP2: FOLD saved\n\n' \
		>"$H/mail/saved"
	chmod 600 "$H/mbox" "$H/mail/saved"
	touch "$H/.made-mbox"
fi
EOS
	hash=$(openssl passwd -6 demo)
	printf 'demo:{CRYPT}%s:%s:%s::%s::\n' "$hash" "$uid" "$gid" "$H" \
		>"$PWDIR/passwd"
	chmod 640 "$PWDIR/passwd"
	if [ "$uid" != "$(id -u)" ]; then
		chgrp pop23d-auth "$PWDIR/passwd"
	fi
	cat >"$D/pop23d.conf" <<CONF
# demo configuration written by tests/demo.sh
listen = pop3 127.0.0.1:1110
listen = pop2 127.0.0.1:1109
plugin_dir = $TOP/_build/.libs
auth = passwdfile
storage = $storage
hostname = localhost
mail_location = $location
auth_failure_delay = 1000
$extra

[passwdfile]
path = $PWDIR/passwd
$storage_conf
CONF
	cat <<MSG

pop23d demo: user "demo", password "demo", maildrop $M
  POP3 on 127.0.0.1:1110, POP2 on 127.0.0.1:1109.  Try, from another terminal:
    curl -u demo:demo pop3://127.0.0.1:1110/          # list
    curl -u demo:demo pop3://127.0.0.1:1110/1         # retrieve message 1
    python3 -c 'import poplib; p=poplib.POP3("127.0.0.1",1110); p.user("demo"); p.pass_("demo"); print(p.stat()); p.quit()'
    echo demo > $D/pw; $TOP/_build/pop2get -p 1109 -u demo -P $D/pw --list
  Ctrl-C stops the server.

MSG
	exec "$TOP/_build/pop23d" -f -c "$D/pop23d.conf"
}

run_tests() {
	install_deps
	echo "== build and make check"
	build _build
	(cd _build && make check) || { cat _build/test-suite.log 2>/dev/null | tail -200; exit 1; }
	echo "== ASan+UBSan build and make check"
	build _build-san --enable-sanitizers
	(cd _build-san && ASAN_OPTIONS=detect_leaks=1 make check) ||
		{ cat _build-san/test-suite.log 2>/dev/null | tail -200; exit 1; }
	echo "== libFuzzer build and make check-fuzz"
	build _build-fuzz --enable-fuzzing
	(cd _build-fuzz && make check-fuzz)
	echo "== all tests passed"
}

case ${1:-} in
run) run_demo ;;
test) run_tests ;;
deps) install_deps ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
