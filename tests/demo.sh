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
# Run as root (or a user with sudo for the package step).  Builds go to
# _build/ and _build-san/ in the tree; the demo lives in demo/ (both
# git-ignored).
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP"

PKGS="build-essential autoconf automake libtool pkg-config libgdbm-dev gdbmtool
libsasl2-dev libsasl2-modules sasl2-bin check libcrypt-dev libssl-dev
libpam0g-dev libinih-dev libseccomp-dev python3 curl fetchmail mpop openssl
procps"

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
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

run_demo() {
	install_deps
	build _build
	D=$TOP/demo
	mkdir -p "$D/empty" "$D/home/Maildir/cur" "$D/home/Maildir/new" \
		"$D/home/Maildir/tmp" "$D/home/Maildir/.saved/cur" \
		"$D/home/Maildir/.saved/new" "$D/home/Maildir/.saved/tmp"
	uid=$(id -u) gid=$(id -g)
	extra=""
	if [ "$uid" = 0 ]; then
		# Sessions never run as root: a dedicated demo user owns the
		# maildrop; pre-auth processes run as "nobody" in demo/empty.
		getent passwd pop23d-demo >/dev/null ||
			useradd -r -M -d "$D/home" -s /usr/sbin/nologin pop23d-demo
		uid=$(id -u pop23d-demo) gid=$(id -g pop23d-demo)
		extra="login_user = nobody
login_chroot = $D/empty"
		if ! runuser -u pop23d-demo -- test -x "$D/home"; then
			echo "pop23d-demo cannot reach $D/home: make the folders above it searchable (chmod o+x)" >&2
			exit 1
		fi
	fi
	M=$D/home/Maildir
	if [ ! -f "$D/.made" ]; then
		now=$(date +%s)
		printf 'From: Alice <alice@example.org>\nTo: demo@localhost\nSubject: Welcome to pop23d\n\nThis message is stored with LF line ends.\nA line with only a dot follows:\n.\n..and one that starts with two dots.\n' \
			>"$M/new/$((now - 3)).M1P1.demo"
		printf 'From: Bob <bob@example.org>\r\nTo: demo@localhost\r\nSubject: CRLF stored\r\n\r\nThis message is stored with CRLF line ends.\r\n' \
			>"$M/new/$((now - 2)).M2P1.demo"
		printf 'From: Carol <carol@example.org>\nTo: demo@localhost\nSubject: no final newline\n\nThis message has no newline at the end' \
			>"$M/new/$((now - 1)).M3P1.demo"
		printf 'From: Dave <dave@example.org>\nTo: demo@localhost\nSubject: in a folder\n\nPOP2: FOLD saved\n' \
			>"$M/.saved/new/$((now)).M4P1.demo"
		touch "$D/.made"
	fi
	hash=$(openssl passwd -6 demo)
	printf 'demo:{CRYPT}%s:%s:%s::%s::\n' "$hash" "$uid" "$gid" "$D/home" >"$D/passwd"
	chmod 600 "$D/passwd"
	cat >"$D/pop23d.conf" <<CONF
# demo configuration written by tests/demo.sh
listen = pop3 127.0.0.1:1110
listen = pop2 127.0.0.1:1109
plugin_dir = $TOP/_build/.libs
auth = passwdfile
storage = maildir
hostname = localhost
mail_location = %h/Maildir
auth_failure_delay = 1000
$extra

[passwdfile]
path = $D/passwd
CONF
	[ "$(id -u)" = 0 ] && chown -R "$uid:$gid" "$D/home"
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
	echo "== all tests passed"
}

case ${1:-} in
run) run_demo ;;
test) run_tests ;;
deps) install_deps ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac
