#!/bin/sh
# peers.sh - install, configure, start and stop the servers that pop23d is
# measured against, on loopback only (doc/PERFORMANCE.md).
#
#   tests/bench/peers.sh setup            packages, users, maildrops,
#                                         configurations, tools; idempotent
#   tests/bench/peers.sh start [NAME...]  start servers (default: all)
#   tests/bench/peers.sh stop  [NAME...]  stop them (by recorded pid)
#   tests/bench/peers.sh status
#   tests/bench/peers.sh pid NAME         root pid of a running server
#
# Servers (NAME, port, maildrop):
#   dovecot-hs  20110  Maildir  Dovecot 2.3 (Debian dovecot-pop3d), login
#                               process per connection: "high-security",
#                               Debian's default
#   dovecot-hp  20111  Maildir  the same with reused login processes:
#                               "high-performance"
#   popa3d      20112  mbox     popa3d 1.0.3 (unpacked from its Debian
#                               package: it conflicts with the others) in
#                               inetd mode under tests/bench/loopinetd
#   mailutils   20113  Maildir  GNU Mailutils 3.15 pop3d (Debian
#                               mailutils-pop3d), daemon mode, on its own
#                               copy of the Maildirs (it rewrites them)
#   pop23d      20200  Maildir  pop23d from $P23_BUILD in root mode (POP2 on
#                               20209), from a passwd-file holding the same
#                               SHA512-crypt hashes as /etc/shadow
#
# With BENCH_TLS=1 in the environment, "start" configures Dovecot hs/hp
# and pop23d for TLS as well (run.sh tls): the same certificate and key
# (made by this script under $STATE/tls, signed by its own test CA), TLS
# 1.2 as the oldest version, each library's default TLS 1.3 cipher suites
# and groups (the client, popload --tls, offers TLS 1.3 with X25519
# only), session tickets as each server does them by default; a pop3s
# port (tls_port_of in common.sh: dovecot-hs 20120, dovecot-hp 20121,
# pop23d 20201) and STLS on the plain port.  Without it no server has TLS
# configured, as in the plaintext runs of doc/PERFORMANCE.md.
#
# All of them serve the same users (see common.sh) with the same password
# hash, and the same message octets (gen-maildrops.py writes each message
# as a Maildir file and into an mbox).  Needs root and Debian 12.
# Knobs: see common.sh.  GPL-3.0-or-later.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/common.sh"

PEER_PKGS="dovecot-core dovecot-pop3d mailutils-pop3d openssl python3
iproute2 procps build-essential sasl2-bin db-util"
# popload's TLS client (--tls) is built against OpenSSL
PEER_PKGS="$PEER_PKGS libssl-dev"

# ---------------------------------------------------------------- setup

install_packages() {
	missing=""
	for p in $PEER_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "ok installed" || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "== installing:$missing"
		apt-get update -q
		# Debian starts services from postinst where an init system
		# runs; nothing here depends on that, the servers are started
		# by this script with their own configurations.
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			--no-install-recommends $missing
	fi
	# popa3d conflicts with the pop3-server providers above, so its
	# package is unpacked into the state directory, not installed.
	if [ ! -x "$STATE/popa3d/root/usr/sbin/popa3d" ]; then
		echo "== unpacking popa3d"
		mkdir -p "$STATE/popa3d/debs"
		# apt fetches as its own user where it can write
		getent passwd _apt >/dev/null &&
			chown _apt "$STATE/popa3d/debs"
		(cd "$STATE/popa3d/debs" && apt-get download popa3d)
		dpkg-deb -x "$STATE"/popa3d/debs/popa3d_*.deb "$STATE/popa3d/root"
	fi
	# what popa3d needs: its unprivileged user, its chroot directory and
	# its PAM service
	getent passwd popa3d >/dev/null ||
		useradd -r -M -d /var/lib/popa3d -s /usr/sbin/nologin popa3d
	mkdir -p /var/lib/popa3d
	chmod 755 /var/lib/popa3d
	[ -f /etc/pam.d/popa3d ] ||
		cp "$STATE/popa3d/root/etc/pam.d/popa3d" /etc/pam.d/popa3d
}

# "name1..nameN" user lists for gen-maildrops.py and for shell loops
bench_users() {
	i=1
	while [ "$i" -le "$NUSERS" ]; do echo "popbench$i"; i=$((i + 1)); done
	echo popbenchbulk
}

idle_users() {
	i=1
	while [ "$i" -le "$IDLE_USERS" ]; do echo "popidle$i"; i=$((i + 1)); done
}

make_users() {
	hash=$(openssl passwd -6 -salt popbenchsalt "$PASSWORD")
	users="$(bench_users) $(idle_users)"
	[ "$BIG_MSGS" -gt 0 ] && users="$users popbench100k"
	for u in $users; do
		getent passwd "$u" >/dev/null ||
			useradd -m -d "/home/$u" -s /usr/sbin/nologin "$u"
		usermod -p "$hash" "$u"
	done
}

make_maildrops() {
	want="v1 seed=$SEED users=$NUSERS msgs=$NMSGS size=$MSG_MIN-$MSG_MAX"
	want="$want bulk=$BULK_MSGS*$BULK_SIZE idle=$IDLE_USERS big=$BIG_MSGS"
	stamp=$STATE/maildrops.stamp
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		echo "== maildrops up to date ($want)"
		return
	fi
	echo "== maildrops: $want"
	rm -f "$stamp"
	rm -rf "$STATE/manifest"
	gen="python3 $BENCH_DIR/gen-maildrops.py --seed $SEED --manifest $STATE/manifest --chown"
	# server index files from earlier data go with the old Maildirs
	$gen --users "popbench1..popbench$NUSERS" --msgs "$NMSGS" \
		--min "$MSG_MIN" --max "$MSG_MAX"
	$gen --users popbenchbulk --msgs "$BULK_MSGS" \
		--min "$BULK_SIZE" --max "$BULK_SIZE"
	if [ "$IDLE_USERS" -gt 0 ]; then
		$gen --users "popidle1..popidle$IDLE_USERS" --msgs 5 \
			--min 1024 --max 4096
	fi
	if [ "$BIG_MSGS" -gt 0 ]; then
		$gen --users popbench100k --msgs "$BIG_MSGS" --min 1024 \
			--max 2048 --no-mbox
	fi
	# GNU Mailutils adds an X-UIDL header to every message and renames
	# the files on first access: it gets its own copy.
	rm -rf "$STATE/mu-home"
	mkdir -p "$STATE/mu-home"
	chmod 755 "$STATE/mu-home"
	for u in $(bench_users) $(idle_users); do
		mkdir "$STATE/mu-home/$u"
		cp -a "/home/$u/Maildir" "$STATE/mu-home/$u/"
		chown "$u:" "$STATE/mu-home/$u"
		chmod 700 "$STATE/mu-home/$u"
	done
	echo "$want" >"$stamp"
}

# The benchmark's test CA and the servers' certificate (EC P-256, valid
# for localhost and 127.0.0.1), made once under $TLS_DIR.  Only the
# benchmark trusts this CA.
make_pki() {
	[ -s "$TLS_DIR/server.pem" ] && [ -s "$TLS_DIR/server.key" ] &&
		[ -s "$TLS_DIR/ca.pem" ] && return 0
	echo "== test CA and server certificate in $TLS_DIR"
	rm -rf "$TLS_DIR"
	mkdir -m 700 "$TLS_DIR"
	(
		cd "$TLS_DIR"
		umask 077
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout ca.key -out ca.pem -days 3650 \
			-subj "/CN=pop23d benchmark test CA" 2>/dev/null
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout server.key -out server.csr \
			-subj /CN=localhost 2>/dev/null
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >ext
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
			-CAcreateserial -out server.pem -days 3650 \
			-extfile ext 2>/dev/null
		openssl verify -CAfile ca.pem server.pem >/dev/null
		chmod 644 ca.pem server.pem
		chmod 600 server.key ca.key
	)
	# the client (any user) reads the CA; the key stays root's
	chmod 755 "$TLS_DIR"
}

dovecot_conf() { # name port hs|hp
	d=$STATE/$1
	mkdir -p "$d/run" "$d/state"
	ssl="ssl = no"
	s_port=0
	if [ "$BENCH_TLS" = 1 ]; then
		ssl="ssl = yes
ssl_cert = <$TLS_DIR/server.pem
ssl_key = <$TLS_DIR/server.key
ssl_min_protocol = TLSv1.2"
		s_port=$(tls_port_of "$1")
	fi
	if [ "$3" = hs ]; then
		login="  service_count = 1
  process_min_avail = 0
  process_limit = 10000"
	else
		login="  service_count = 0
  process_min_avail = 2
  client_limit = 10000
  process_limit = 16"
	fi
	cat >"$d/dovecot.conf" <<EOF
# written by tests/bench/peers.sh for the benchmark ($1)
instance_name = bench-$1
base_dir = $d/run
state_dir = $d/state
protocols = pop3
listen = 127.0.0.1
$ssl
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = $d/dovecot.log
info_log_path = /dev/null
mail_location = maildir:~/Maildir
mail_privileged_group = mail
mail_max_userip_connections = 100000
first_valid_uid = 1000
passdb {
  driver = shadow
}
userdb {
  driver = passwd
}
default_process_limit = 100
default_client_limit = 20000
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $2
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $s_port
  }
$login
}
service pop3 {
  process_limit = 10000
}
protocol pop3 {
  pop3_uidl_format = %08Xu%08Xv
}
EOF
	doveconf -c "$d/dovecot.conf" -n >/dev/null
}

mailutils_conf() {
	d=$STATE/mailutils
	mkdir -p "$d/locks"
	chmod 1777 "$d/locks"
	cat >"$d/pop3d.conf" <<EOF
# written by tests/bench/peers.sh for the benchmark (GNU Mailutils pop3d)
mode daemon;
foreground yes;
max-children 10000;
pidfile "$d/pop3d.pid";
tls-mode false;
logging {
  syslog false;
  severity error;
};
mandatory-locking {
  enable false;
  lock-directory "$d/locks";
};
locking {
  type kernel;
};
mailbox {
  mailbox-pattern "maildir://$STATE/mu-home/\${user}/Maildir";
};
server 127.0.0.1:$(port_of mailutils) {
  backlog 1024;
  tls-mode false;
};
EOF
	pop3d --config-file="$d/pop3d.conf" --config-lint
}

# pop23d serves the same users from a passwd-file made of their shadow
# hashes, so its per-login hash cost equals the peers'.
pop23d_conf() {
	d=$STATE/pop23d
	mkdir -p "$d"
	chmod 755 "$d"
	rm -rf "$d/empty"
	mkdir -m 755 "$d/empty"
	tmp=$d/passwd.tmp
	: >"$tmp"
	chmod 600 "$tmp"
	users="$(bench_users) $(idle_users)"
	[ "$BIG_MSGS" -gt 0 ] && users="$users popbench100k"
	for u in $users; do
		ent=$(getent passwd "$u") || bench_die "no user $u: run setup"
		hash=$(getent shadow "$u" | cut -d: -f2)
		case $hash in
		'$6$'*) ;;
		*) bench_die "$u: the shadow hash is not SHA512-crypt" ;;
		esac
		uid=$(echo "$ent" | cut -d: -f3)
		gid=$(echo "$ent" | cut -d: -f4)
		home=$(echo "$ent" | cut -d: -f6)
		echo "$u:{CRYPT}$hash:$uid:$gid::$home::" >>"$tmp"
	done
	# the auth service reads it as pop23d-auth, through its group
	getent passwd pop23d-auth >/dev/null ||
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin pop23d-auth
	chgrp pop23d-auth "$tmp"
	chmod 640 "$tmp"
	mv "$tmp" "$d/passwd"
	tls=""
	if [ "$BENCH_TLS" = 1 ]; then
		tls="listen = pop3s 127.0.0.1:$(tls_port_of pop23d)
tls = optional
tls_cert = $TLS_DIR/server.pem
tls_key = $TLS_DIR/server.key"
	fi
	cat >"$d/pop23d.conf" <<EOF
# written by tests/bench/peers.sh for the benchmark (pop23d)
listen = pop3 127.0.0.1:$(port_of pop23d)
listen = pop2 127.0.0.1:$POP23D_POP2_PORT
$tls
plugin_dir = $P23_BUILD/.libs
auth = passwdfile
storage = maildir
hostname = bench.localhost
login_user = nobody
login_chroot = $d/empty
auth_user = pop23d-auth
mail_location = %h/Maildir
pid_file = $d/pop23d.pid
auth_failure_delay = 2000
max_per_ip = 100000
max_sessions = 100000
syslog_facility = local7

[passwdfile]
path = $d/passwd
EOF
}

build_tools() {
	mkdir -p "$STATE/bin"
	if [ "$POPLOAD" = "$STATE/bin/popload" ]; then
		cc -O2 -g -Wall -o "$STATE/bin/popload" \
			"$BENCH_DIR/popload.c" -lpthread -lssl -lcrypto
	fi
	if [ "$POP23BENCH" = "$STATE/bin/pop23bench" ]; then
		cc -O2 -g -Wall -o "$STATE/bin/pop23bench" \
			"$BENCH_DIR/pop23bench.c" -lpthread
	fi
	if [ "$LOOPINETD" = "$STATE/bin/loopinetd" ]; then
		cc -O2 -g -Wall -o "$STATE/bin/loopinetd" \
			"$BENCH_DIR/loopinetd.c"
	fi
}

setup() {
	need_root
	mkdir -p "$STATE/run"
	chmod 755 "$STATE"
	install_packages
	make_users
	make_maildrops
	dovecot_conf dovecot-hs "$(port_of dovecot-hs)" hs
	dovecot_conf dovecot-hp "$(port_of dovecot-hp)" hp
	mailutils_conf
	make_pki
	build_tools
	cat >"$STATE/setup.env" <<EOF
# written by peers.sh setup: the data this state directory holds
: "\${NUSERS:=$NUSERS}" "\${NMSGS:=$NMSGS}" "\${MSG_MIN:=$MSG_MIN}" "\${MSG_MAX:=$MSG_MAX}"
: "\${BULK_MSGS:=$BULK_MSGS}" "\${BULK_SIZE:=$BULK_SIZE}" "\${SEED:=$SEED}"
: "\${IDLE_USERS:=$IDLE_USERS}" "\${BIG_MSGS:=$BIG_MSGS}"
EOF
	echo "== setup done; state in $STATE"
}

# ---------------------------------------------------------- start, stop

start_one() {
	name=$1
	port=$(port_of "$name")
	pf=$(pid_file "$name")
	tport=""
	if [ "$BENCH_TLS" = 1 ]; then
		tport=$(tls_port_of "$name" 2>/dev/null) || tport=""
	fi
	if server_running "$name"; then
		echo "$name already running (pid $(cat "$pf"))"
		[ -z "$tport" ] || port_busy "$tport" ||
			bench_die "$name runs without TLS: peers.sh stop $name first"
		return 0
	fi
	[ -z "$tport" ] || ! port_busy "$tport" ||
		bench_die "port $tport is busy; not starting $name"
	port_busy "$port" && bench_die "port $port is busy; not starting $name"
	mkdir -p "$STATE/run" "$STATE/log"
	out=$STATE/log/$name.out
	case $name in
	dovecot-hs | dovecot-hp)
		# written again: BENCH_TLS decides whether it has TLS
		[ "$BENCH_TLS" = 1 ] && make_pki
		dovecot_conf "$name" "$port" "${name#dovecot-}"
		setsid dovecot -F -c "$STATE/$name/dovecot.conf" \
			>>"$out" 2>&1 </dev/null &
		;;
	popa3d)
		[ -x "$LOOPINETD" ] || bench_die "no $LOOPINETD: run setup"
		setsid "$LOOPINETD" 127.0.0.1 "$port" \
			"$STATE/popa3d/root/usr/sbin/popa3d" \
			>>"$out" 2>&1 </dev/null &
		;;
	mailutils)
		setsid pop3d --config-file="$STATE/mailutils/pop3d.conf" \
			>>"$out" 2>&1 </dev/null &
		;;
	pop23d)
		[ -x "$P23_BUILD/pop23d" ] ||
			bench_die "no $P23_BUILD/pop23d: build pop23d first (P23_BUILD)"
		[ "$BENCH_TLS" = 1 ] && make_pki
		pop23d_conf
		"$P23_BUILD/pop23d" -t -c "$STATE/pop23d/pop23d.conf" >/dev/null
		port_busy "$POP23D_POP2_PORT" &&
			bench_die "port $POP23D_POP2_PORT is busy"
		setsid "$P23_BUILD/pop23d" -f -c "$STATE/pop23d/pop23d.conf" \
			>>"$out" 2>&1 </dev/null &
		;;
	*)
		bench_die "unknown server $name"
		;;
	esac
	echo $! >"$pf"
	i=0
	while [ $i -lt 100 ] && ! port_busy "$port"; do
		kill -0 "$(cat "$pf")" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	while [ -n "$tport" ] && [ $i -lt 100 ] && ! port_busy "$tport"; do
		sleep 0.1
		i=$((i + 1))
	done
	if ! server_running "$name" || ! port_busy "$port" ||
	    { [ -n "$tport" ] && ! port_busy "$tport"; }; then
		stop_one "$name"
		bench_die "$name did not start; see $out"
	fi
	echo "started $name pid=$(cat "$pf") port=$port${tport:+ tls_port=$tport}"
}

stop_one() {
	name=$1
	pf=$(pid_file "$name")
	[ -f "$pf" ] || return 0
	pid=$(cat "$pf")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		i=0
		while [ $i -lt 150 ] && kill -0 "$pid" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		echo "stopped $name pid=$pid"
	fi
	rm -f "$pf"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
names=${*:-$ALL_SERVERS}
case $cmd in
setup) setup ;;
start) need_root; for n in $names; do start_one "$n"; done ;;
stop) need_root; for n in $names; do stop_one "$n"; done ;;
status)
	for n in $ALL_SERVERS; do
		if server_running "$n"; then
			echo "$n running pid=$(cat "$(pid_file "$n")") port=$(port_of "$n")"
		else
			echo "$n stopped"
		fi
	done
	;;
pid)
	server_running "${1:?pid NAME}" || bench_die "$1 is not running"
	cat "$(pid_file "$1")"
	;;
*)
	echo "usage: $0 setup | start [NAME...] | stop [NAME...] | status | pid NAME" >&2
	exit 2
	;;
esac
