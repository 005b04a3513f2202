# inst.sh - private server instances for the single-question benchmark
# scripts (logins.sh, mbox.sh, maildir100k.sh); sourced after common.sh,
# not run.  Each script starts its own pop23d and Dovecot on its own
# loopback ports with its own configuration under $STATE/<script>, records
# every pid it starts, and stops exactly those (inst_stop_all, from an
# EXIT trap).  Dovecot gets the benchmark's "high-performance" shape (the
# dovecot-hp of peers.sh: reused login processes), with a passwd-file
# passdb and userdb, so that both servers read the same users, hashes,
# uids and homes from the same lines.  GPL-3.0-or-later.

INST_STARTED=""

load1() {
	cut -d' ' -f1 /proc/loadavg
}

loadavg3() {
	cut -d' ' -f1-3 /proc/loadavg
}

# inst_start NAME PORT COMMAND... : start a foreground server in its own
# session, wait (at most 10 s) until PORT listens.
inst_start() {
	name=$1 port=$2
	shift 2
	port_busy "$port" && bench_die "port $port is busy; not starting $name"
	mkdir -p "$INST_DIR/run"
	setsid "$@" >>"$INST_DIR/$name.out" 2>&1 </dev/null &
	echo $! >"$INST_DIR/run/$name.pid"
	INST_STARTED="$INST_STARTED $name"
	i=0
	while [ $i -lt 100 ] && ! port_busy "$port"; do
		kill -0 "$(cat "$INST_DIR/run/$name.pid")" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	port_busy "$port" ||
		bench_die "$name did not start; see $INST_DIR/$name.out"
	echo "started $name pid=$(cat "$INST_DIR/run/$name.pid") port=$port"
}

# inst_stop NAME: TERM the recorded pid (its process group: a server in
# its own session), wait at most 15 s, then KILL.
inst_stop() {
	pf=$INST_DIR/run/$1.pid
	[ -f "$pf" ] || return 0
	pid=$(cat "$pf")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		i=0
		while [ $i -lt 150 ] && kill -0 "$pid" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
		echo "stopped $1 pid=$pid"
	fi
	rm -f "$pf"
}

inst_stop_all() {
	for n in $INST_STARTED; do
		inst_stop "$n"
	done
	INST_STARTED=""
}

# inst_passwd FILE USER... : a passwd-file line per system USER with its
# /etc/shadow SHA512-crypt hash, uid, gid and home (peers.sh's rule), or
# with HOME_ROOT/USER as the home when HOME_ROOT is set.
inst_passwd() {
	f=$1
	shift
	: >"$f.tmp"
	chmod 600 "$f.tmp"
	for u in "$@"; do
		ent=$(getent passwd "$u") ||
			bench_die "no user $u: run tests/bench/peers.sh setup"
		hash=$(getent shadow "$u" | cut -d: -f2)
		case $hash in
		'$6$'*) ;;
		*) bench_die "$u: the shadow hash is not SHA512-crypt" ;;
		esac
		uid=$(echo "$ent" | cut -d: -f3)
		gid=$(echo "$ent" | cut -d: -f4)
		home=${HOME_ROOT:+$HOME_ROOT/$u}
		[ -n "$home" ] || home=$(echo "$ent" | cut -d: -f6)
		echo "$u:{CRYPT}$hash:$uid:$gid::$home::" >>"$f.tmp"
	done
	mv "$f.tmp" "$f"
}

# inst_extra_users FILE N : append N users with SHA512-crypt hashes of
# their own password (the lines of users100k.sh); they never log in.
inst_extra_users() {
	hash=$(openssl passwd -6 -salt extrasalt extra-password)
	python3 - "$1" "$2" "$hash" <<'PY'
import sys
path, n, h = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, 'a') as f:
    for i in range(n):
        f.write('extra%d:{CRYPT}%s:60000:60000::/nonexistent::\n' % (i, h))
PY
}

# The users pop23d's auth service and Dovecot's auth process read.
inst_share_passwd() { # FILE (root:pop23d-auth 0640) -> FILE.dovecot
	getent passwd pop23d-auth >/dev/null ||
		useradd -r -M -d /nonexistent -s /usr/sbin/nologin pop23d-auth
	chgrp pop23d-auth "$1"
	chmod 640 "$1"
	# the same lines for Dovecot's auth process (user dovecot)
	cp "$1" "$1.dovecot"
	chgrp dovecot "$1.dovecot"
	chmod 640 "$1.dovecot"
}

# inst_dovecot_conf DIR PORT PASSWD MAIL_LOCATION : Dovecot 2.3 in the
# dovecot-hp shape, users from PASSWD (passdb and userdb passwd-file).
inst_dovecot_conf() {
	d=$1
	mkdir -p "$d/run" "$d/state"
	cat >"$d/dovecot.conf" <<EOF
# written by tests/bench/$(basename "$0") (dovecot-hp shape, passwd-file)
instance_name = bench-$(basename "$INST_DIR")-$(basename "$d")
base_dir = $d/run
state_dir = $d/state
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
log_path = $d/dovecot.log
info_log_path = /dev/null
mail_location = $4
mail_privileged_group = mail
mail_max_userip_connections = 100000
first_valid_uid = 1000
passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u $3
}
userdb {
  driver = passwd-file
  args = username_format=%u $3
}
default_process_limit = 100
default_client_limit = 20000
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $2
  }
  inet_listener pop3s {
    port = 0
  }
  service_count = 0
  process_min_avail = 2
  client_limit = 10000
  process_limit = 16
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

inst_dovecot_start() { # NAME DIR PORT
	inst_start "$1" "$3" dovecot -F -c "$2/dovecot.conf"
}

# inst_pop23d_conf DIR PORT AUTH STORAGE MAIL_LOCATION [EXTRA LINES] :
# pop23d in root mode as peers.sh runs it (no POP2 listener).
inst_pop23d_conf() {
	d=$1
	mkdir -p "$d"
	chmod 755 "$d"
	rm -rf "$d/empty"
	mkdir -m 755 "$d/empty"
	cat >"$d/pop23d.conf" <<EOF
# written by tests/bench/$(basename "$0")
listen = pop3 127.0.0.1:$2
plugin_dir = $P23_BUILD/.libs
auth = $3
storage = $4
hostname = bench.localhost
login_user = nobody
login_chroot = $d/empty
auth_user = pop23d-auth
mail_location = $5
pid_file = $d/pop23d.pid
auth_failure_delay = 2000
max_per_ip = 100000
max_sessions = 100000
syslog_facility = local7
${6:-}
EOF
	"$P23_BUILD/pop23d" -t -c "$d/pop23d.conf" >/dev/null
}

inst_pop23d_start() { # NAME DIR PORT
	[ -x "$P23_BUILD/pop23d" ] ||
		bench_die "no $P23_BUILD/pop23d: build pop23d first (P23_BUILD)"
	inst_start "$1" "$3" "$P23_BUILD/pop23d" -f -c "$2/pop23d.conf"
}

# inst_measure RAW ROW REP SERVER POPLOAD-ARGS... : one popload run, one
# "TEST ROW REP load1=X RESULT ..." line in RAW (crosstab.py reads them).
inst_measure() {
	raw=$1 row=$2 rep=$3 name=$4
	shift 4
	before=$(load1)
	line=$(timeout "${MEASURE_TIMEOUT:-900}" "$POPLOAD" "$@" -l "$name" \
		2>>"$INST_DIR/popload.err" | grep '^RESULT ') ||
		line="RESULT server=$name failed=1 errors=1"
	echo "TEST $row $rep load1=$before $line" | tee -a "$raw"
}

inst_drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

inst_env() { # a header for the output: machine, software, load
	echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "host: $(uname -n), kernel $(uname -r), $(nproc) CPUs:" \
		"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
	echo "pop23d: $("$P23_BUILD/pop23d" --version 2>&1 | head -1) ($P23_BUILD)"
	echo "dovecot: $(dovecot --version 2>/dev/null)"
	echo "scripts: $(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)"
}
