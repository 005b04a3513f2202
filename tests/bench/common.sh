# common.sh - settings shared by tests/bench/peers.sh and tests/bench/run.sh
# (sourced, not run).  Every value can be set in the environment.
# GPL-3.0-or-later.

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$BENCH_DIR/../.." && pwd)

# Where configurations, pid files, logs, manifests, server-private
# maildrop copies, built tools and results go (outside the tree).
STATE=${BENCH_STATE:-/var/tmp/pop23d-bench}

# The knobs "peers.sh setup" was last run with (kept in setup.env) are the
# defaults of every later command; the environment still wins.
if [ -f "$STATE/setup.env" ]; then
	. "$STATE/setup.env"
fi

# The data: system users popbench1..NUSERS with NMSGS messages each
# (log-uniform MSG_MIN..MSG_MAX octets), popbenchbulk with BULK_MSGS
# messages of BULK_SIZE octets, all with the password "popbench" as a
# SHA512-crypt hash in /etc/shadow, so every server pays the same hash
# cost per login.  IDLE_USERS > 0 adds popidle1..IDLE_USERS (5 small
# messages each) for the idle-memory test; BIG_MSGS > 0 adds popbench100k
# with BIG_MSGS small messages (Maildir only) for the login-time test.
NUSERS=${NUSERS:-100}
NMSGS=${NMSGS:-50}
MSG_MIN=${MSG_MIN:-1024}
MSG_MAX=${MSG_MAX:-102400}
BULK_MSGS=${BULK_MSGS:-2000}
BULK_SIZE=${BULK_SIZE:-102400}
IDLE_USERS=${IDLE_USERS:-0}
BIG_MSGS=${BIG_MSGS:-0}
SEED=${SEED:-42}
PASSWORD=popbench

# pop23d to measure: a build directory with pop23d and .libs/*.so.
P23_BUILD=${P23_BUILD:-$TOP/_build}

# The servers, each on its own loopback port.
ALL_SERVERS="dovecot-hs dovecot-hp popa3d mailutils pop23d"
POP23D_POP2_PORT=${POP23D_POP2_PORT:-20209}

port_of() {
	case $1 in
	dovecot-hs) echo 20110 ;;
	dovecot-hp) echo 20111 ;;
	popa3d) echo 20112 ;;
	mailutils) echo 20113 ;;
	pop23d) echo 20200 ;;
	*) echo "unknown server $1" >&2; return 1 ;;
	esac
}

# TLS (run.sh tls; servers started with BENCH_TLS=1): each server's pop3s
# port, and a test CA and server certificate made by peers.sh under
# $STATE/tls (EC P-256, CN and subjectAltName localhost and 127.0.0.1).
BENCH_TLS=${BENCH_TLS:-0}
TLS_SERVERS="dovecot-hs dovecot-hp pop23d"
TLS_DIR=$STATE/tls

tls_port_of() {
	case $1 in
	dovecot-hs) echo 20120 ;;
	dovecot-hp) echo 20121 ;;
	pop23d) echo 20201 ;;
	*) echo "$1 has no TLS in the benchmark" >&2; return 1 ;;
	esac
}

# Tools: built by "peers.sh setup" into $STATE/bin unless given (make
# bench passes the ones it built).
POPLOAD=${POPLOAD:-$STATE/bin/popload}
LOOPINETD=${LOOPINETD:-$STATE/bin/loopinetd}
POP23BENCH=${POP23BENCH:-$STATE/bin/pop23bench}

bench_die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

need_root() {
	[ "$(id -u)" = 0 ] ||
		bench_die "run as root (system users, /etc/shadow, root-mode servers)"
}

port_busy() {
	ss -ltnH "sport = :$1" 2>/dev/null | grep -q .
}

pid_file() {
	echo "$STATE/run/$1.pid"
}

server_running() {
	f=$(pid_file "$1")
	[ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}
