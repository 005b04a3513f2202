#!/bin/sh
# mbox.sh - issue 8's mbox figures, side by side with Dovecot's mbox mode
# in one run, on the same mail:
#   pop23d-mbox     storage = mbox, mail_location = %h/inbox (one mbox per
#                   user; index, session lock and dotlock beside it)
#   dovecot-mbox    Dovecot 2.3 (dovecot-hp shape, passwd-file users),
#                   mail_location = mbox:~/mail:INBOX=~/inbox
#   pop23d-maildir  the same pop23d on the users' Maildirs (the Maildir
#                   figure for the bulk rows only)
# Each server reads its own copy of the mboxes (Dovecot writes its X-UID
# headers into an mbox; pop23d never writes one to read it), made fresh
# for every run from the benchmark's spool (gen-maildrops.py wrote the
# same messages as the Maildirs and the manifest).
#
# Workloads (popload; every retrieved message checked against the
# manifest): fetch and poll sessions/s (popbench1..NUSERS), bulk RETR
# MB/s of popbenchbulk (plain and --quickack), and login + STAT to one big
# mbox (popbenchmbox: MBOX_MSGS messages, made once by gen-maildrops.py):
# "cold" = the server's index removed and the page cache dropped
# (echo 3 > /proc/sys/vm/drop_caches: the whole machine's), 3 times;
# "warm" = the next logins, 3 times.  One warm-up session per user and
# one login to the big mbox come first, so Dovecot has written its headers
# before anything is timed.
#
#   tests/bench/mbox.sh
#
# Needs root, tests/bench/peers.sh setup (users, spool mboxes in
# /var/mail, manifests, popload), a pop23d build (P23_BUILD) and a quiet
# machine.  Knobs (environment): REPS [3] CONC [16] SECS [10]
# MBOX_MSGS [20000] MBOX_MIN [1024] MBOX_MAX [20480] (octets, log-uniform;
# 100000 and 30000 give issue 8's 1 GiB), DROP_CACHES [1] (0: cold means
# index removed only), MAILDIR [1], CPUSPLIT [0] (1: after the warm-up,
# instead of the timed rows, where each server's and the client's CPU goes
# per poll and fetch session and per bulk MB, by cpusplit.py, with the
# ceiling of each ratio: doc/PERFORMANCE.md, "Where a session's CPU
# goes"), and those of common.sh.  Ports
# 20310-20312 on 127.0.0.1.  Writes $STATE/mbox/<UTC time>/ (raw.txt,
# table.md); stops every server it started.  Full length with the
# defaults: about 5 minutes (and about 20 s once to make the big
# mbox).  GPL-3.0-or-later.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/common.sh"
. "$BENCH_DIR/inst.sh"

REPS=${REPS:-3}
CPUSPLIT=${CPUSPLIT:-0}
CONC=${CONC:-16}
SECS=${SECS:-10}
MBOX_MSGS=${MBOX_MSGS:-20000}
MBOX_MIN=${MBOX_MIN:-1024}
MBOX_MAX=${MBOX_MAX:-20480}
DROP_CACHES=${DROP_CACHES:-1}
MAILDIR=${MAILDIR:-1}
SPOOL=${SPOOL:-/var/mail}
P_POP23D=20310 P_DOVECOT=20311 P_MAILDIR=20312
BIG=popbenchmbox

need_root
[ -x "$POPLOAD" ] || bench_die "no $POPLOAD: run peers.sh setup"
[ -f "$STATE/maildrops.stamp" ] || bench_die "run peers.sh setup first"

INST_DIR=$STATE/mbox
OUT=${OUT:-$INST_DIR/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$INST_DIR" "$OUT"
chmod 755 "$STATE" "$INST_DIR"
RAW=$OUT/raw.txt
: >"$RAW"
trap 'inst_stop_all' EXIT
trap 'exit 1' INT TERM

USERS=""
i=1
while [ $i -le "$NUSERS" ]; do USERS="$USERS popbench$i"; i=$((i + 1)); done
USERS="$USERS popbenchbulk"
M=$STATE/manifest
users="-u popbench%d -r 1:$NUSERS -P $PASSWORD -M $M"
bulk="-u popbenchbulk -P $PASSWORD -M $M"
big="-u $BIG -P $PASSWORD"
ent=$(getent passwd popbenchbulk) || bench_die "no user popbenchbulk"
BIG_UID=$(echo "$ent" | cut -d: -f3)
BIG_GID=$(echo "$ent" | cut -d: -f4)

# the big mbox, once (kept with a stamp of its parameters)
make_big() {
	g=$INST_DIR/gen
	want="seed=$SEED msgs=$MBOX_MSGS size=$MBOX_MIN-$MBOX_MAX"
	if [ -f "$g/stamp" ] && [ "$(cat "$g/stamp")" = "$want" ]; then
		return
	fi
	echo "== making the $MBOX_MSGS-message mbox ($want)"
	rm -rf "$g"
	mkdir -p "$g/spool"
	python3 "$BENCH_DIR/gen-maildrops.py" --seed "$SEED" --users "$BIG" \
		--msgs "$MBOX_MSGS" --min "$MBOX_MIN" --max "$MBOX_MAX" \
		--home-root "$g" --spool "$g/spool" --manifest "$g/manifest"
	rm -rf "${g:?}/$BIG"
	echo "$want" >"$g/stamp"
}

# a fresh copy of every user's mbox for one server: HOME_ROOT/USER/inbox
copy_mail() { # HOME_ROOT
	rm -rf "${1:?}"
	mkdir -p "$1"
	chmod 755 "$1"
	for u in $USERS $BIG; do
		if [ "$u" = "$BIG" ]; then
			src=$INST_DIR/gen/spool/$BIG
			o="$BIG_UID:$BIG_GID"
		else
			src=$SPOOL/$u
			o="$u:"
		fi
		[ -f "$src" ] || bench_die "no $src: run peers.sh setup"
		mkdir -m 700 "$1/$u" "$1/$u/mail"
		cp "$src" "$1/$u/inbox"
		chmod 600 "$1/$u/inbox"
		chown -R "$o" "$1/$u"
	done
}

# passwd-file lines: the users' own hashes, homes under HOME_ROOT; the
# big mbox's user has popbenchbulk's uid, gid and hash
make_passwd() { # FILE HOME_ROOT GROUP
	HOME_ROOT=$2 inst_passwd "$1" $USERS
	h=$(getent shadow popbenchbulk | cut -d: -f2)
	echo "$BIG:{CRYPT}$h:$BIG_UID:$BIG_GID::$2/$BIG::" >>"$1"
	chgrp "$3" "$1"
	chmod 640 "$1"
}

port() {
	case $1 in
	pop23d-mbox) echo $P_POP23D ;;
	dovecot-mbox) echo $P_DOVECOT ;;
	pop23d-maildir) echo $P_MAILDIR ;;
	esac
}

rotate() { # N WORDS...
	n=$1
	shift
	k=$(( n % $# ))
	i=0
	for w in "$@"; do [ $i -ge $k ] && printf '%s ' "$w"; i=$((i + 1)); done
	i=0
	for w in "$@"; do [ $i -lt $k ] && printf '%s ' "$w"; i=$((i + 1)); done
}

# remove a server's index of the big mbox, and the page cache
cold() { # SERVER
	case $1 in
	pop23d-mbox) rm -rf "$INST_DIR/home-pop23d/$BIG/.pop23d-mbox" ;;
	dovecot-mbox) rm -rf "$INST_DIR/home-dovecot/$BIG/mail/.imap" ;;
	esac
	[ "$DROP_CACHES" = 1 ] && inst_drop_caches
	return 0
}

{
	inst_env
	echo "REPS=$REPS CONC=$CONC SECS=$SECS MBOX_MSGS=$MBOX_MSGS" \
		"MBOX_MIN=$MBOX_MIN MBOX_MAX=$MBOX_MAX DROP_CACHES=$DROP_CACHES" \
		"NUSERS=$NUSERS NMSGS=$NMSGS BULK_MSGS=$BULK_MSGS"
	echo "load average at the start: $(loadavg3)"
} | tee "$OUT/env.txt"

make_big
getent passwd pop23d-auth >/dev/null ||
	useradd -r -M -d /nonexistent -s /usr/sbin/nologin pop23d-auth
copy_mail "$INST_DIR/home-pop23d"
copy_mail "$INST_DIR/home-dovecot"
make_passwd "$INST_DIR/passwd-pop23d" "$INST_DIR/home-pop23d" pop23d-auth
make_passwd "$INST_DIR/passwd-dovecot" "$INST_DIR/home-dovecot" dovecot
echo "big mbox: $MBOX_MSGS messages, $(stat -c %s "$INST_DIR/gen/spool/$BIG") octets" |
	tee -a "$OUT/env.txt"

inst_pop23d_conf "$INST_DIR/pop23d-mbox" $P_POP23D passwdfile mbox \
	'%h/inbox' "[passwdfile]
path = $INST_DIR/passwd-pop23d"
inst_dovecot_conf "$INST_DIR/dovecot-mbox" $P_DOVECOT \
	"$INST_DIR/passwd-dovecot" 'mbox:~/mail:INBOX=~/inbox'
SERVERS="pop23d-mbox dovecot-mbox"
inst_pop23d_start pop23d-mbox "$INST_DIR/pop23d-mbox" $P_POP23D
inst_dovecot_start dovecot-mbox "$INST_DIR/dovecot-mbox" $P_DOVECOT
if [ "$MAILDIR" = 1 ]; then
	inst_passwd "$INST_DIR/passwd-maildir" popbenchbulk
	chgrp pop23d-auth "$INST_DIR/passwd-maildir"
	chmod 640 "$INST_DIR/passwd-maildir"
	inst_pop23d_conf "$INST_DIR/pop23d-maildir" $P_MAILDIR passwdfile \
		maildir '%h/Maildir' "[passwdfile]
path = $INST_DIR/passwd-maildir"
	inst_pop23d_start pop23d-maildir "$INST_DIR/pop23d-maildir" $P_MAILDIR
fi

# warm-up: one session per user, one bulk session, one big login
for s in $SERVERS; do
	p=$(port "$s")
	timeout 900 "$POPLOAD" fetch -p "$p" $users -c 4 -N $(( (NUSERS + 3) / 4 )) \
		--quickack -l "warm-$s" 2>&1 | sed 's/^/warm-up /'
	timeout 900 "$POPLOAD" bulk -p "$p" $bulk --quickack -l "warm-$s" 2>&1 |
		sed 's/^/warm-up /'
	timeout 900 "$POPLOAD" login -p "$p" $big -R 1 -l "warm-$s" 2>&1 |
		sed 's/^/warm-up /'
done
[ "$MAILDIR" = 1 ] && timeout 900 "$POPLOAD" bulk -p $P_MAILDIR $bulk --quickack \
	-l warm-pop23d-maildir 2>&1 | sed 's/^/warm-up /'

if [ "$CPUSPLIT" = 1 ]; then
	# the running instances, adopted by cpusplit.py (NAME:PORT:PIDFILE)
	specs=""
	for s in $SERVERS; do
		specs="$specs $s:$(port "$s"):$INST_DIR/run/$s.pid"
	done
	# shellcheck disable=SC2086
	python3 "$BENCH_DIR/cpusplit.py" --servers $specs \
		--workloads poll,fetch,bulk --reps "$REPS" --no-warmup \
		--login "-u popbench%d -r 1:$NUSERS -P $PASSWORD -M $M" \
		--bulk-login "$bulk" | tee "$OUT/cpusplit.txt"
	inst_stop_all
	exit 0
fi

rep=0
while [ $rep -lt "$REPS" ]; do
	for s in $(rotate $rep $SERVERS); do
		p=$(port "$s")
		inst_measure "$RAW" fetch $rep "$s" fetch -p "$p" $users \
			-c "$CONC" -t "$SECS"
		inst_measure "$RAW" poll $rep "$s" poll -p "$p" $users \
			-c "$CONC" -t "$SECS"
		inst_measure "$RAW" bulk $rep "$s" bulk -p "$p" $bulk
		inst_measure "$RAW" bulk-qa $rep "$s" bulk -p "$p" $bulk \
			--quickack
	done
	if [ "$MAILDIR" = 1 ]; then
		inst_measure "$RAW" bulk $rep pop23d-maildir bulk \
			-p $P_MAILDIR $bulk
		inst_measure "$RAW" bulk-qa $rep pop23d-maildir bulk \
			-p $P_MAILDIR $bulk --quickack
	fi
	rep=$((rep + 1))
done

rep=0
while [ $rep -lt 3 ]; do
	for s in $(rotate $rep $SERVERS); do
		cold "$s"
		inst_measure "$RAW" login-cold $rep "$s" login \
			-p "$(port "$s")" $big -R 1
	done
	rep=$((rep + 1))
done
for s in $SERVERS; do
	inst_measure "$RAW" login-warm 0 "$s" login -p "$(port "$s")" $big -R 3
done
inst_stop_all
echo "load average at the end: $(loadavg3)" | tee -a "$OUT/env.txt"

cachenote="page cache dropped"
[ "$DROP_CACHES" = 1 ] || cachenote="page cache kept"
{
	echo
	echo "### mbox: pop23d and Dovecot in one run ($REPS repetitions," \
		"$CONC client threads, $SECS s; medians)"
	echo
	cat "$OUT/env.txt"
	echo
	python3 "$BENCH_DIR/crosstab.py" "$RAW" dovecot-mbox \
		--row "fetch=fetch sessions/s ($NUSERS users, $NMSGS messages each)" \
		--row "poll=poll sessions/s" \
		--row "bulk=bulk RETR MB/s, plain client ($BULK_MSGS messages)" \
		--row "bulk-qa=bulk RETR MB/s, --quickack" \
		--row "login-cold=login + STAT, $MBOX_MSGS-message mbox, cold (index removed, $cachenote)" \
		--row "login-warm=login + STAT, $MBOX_MSGS-message mbox, warm"
	echo
	echo "pop23d-maildir: the same pop23d on popbenchbulk's Maildir (bulk rows only)."
} | tee "$OUT/table.md"
echo "results: $OUT"
