#!/bin/sh
# maildir100k.sh - issue 11's "login + STAT, 100 000-message Maildir"
# rows, pop23d against Dovecot-hp in one run: the time from USER to the
# answer to STAT (popload login) on one Maildir of N messages of 1-2 KB
# whose names carry ,S= and ,W= as Dovecot's LDA writes them
# (gen-maildrops.py, made once per size and kept), both servers on the
# same Maildir and the same passwd-file line (SHA512-crypt):
#   cold  the server's index removed (pop23d.index and its snapshot;
#         Dovecot's dovecot* files: index, cache, log, uidlist) and the
#         page cache dropped
#         (echo 3 > /proc/sys/vm/drop_caches: the whole machine's),
#         3 logins per server, alternating;
#   warm  3 more logins per server with the index the cold ones left.
# Medians of the 3.  SIZES="1000 100000 1000000" gives a line per size
# (issue 11 asks how login time grows); a 1 000 000-message Maildir takes
# about 4 GB on disk and minutes to make.
#
#   tests/bench/maildir100k.sh
#
# Needs root, tests/bench/peers.sh setup (the user popbenchbulk, whose
# uid, gid and hash the Maildir's virtual user takes, and popload), a
# pop23d build (P23_BUILD) and a quiet machine.  Knobs (environment):
# SIZES [100000] DROP_CACHES [1] (0: cold means index removed only),
# MAKE_ONLY [0] (1: make the Maildirs of SIZES and count, then stop:
# nothing timed; run it at a low priority beforehand so that the quiet
# run only measures), PERCMD [1] (0: leave out the counted part below),
# and those of common.sh.
#
# The counted part (percmd-cost.py, after the timed one; callgrind and
# strace, so not timed): a line per size with the login's system calls,
# getdents64 calls, page faults and instructions, and the instructions of
# STAT, LIST n, RETR n, DELE n (n = 1 and the last), RSET and QUIT after
# the login, with the check that the four commands cost the same at every
# size (exit status 1 if not).  It adds one fixed message (sorted first)
# to each Maildir, once, so that RETR 1 sends the same octets at every
# size: the Maildirs then hold N + 1 messages.  Ports 20320-20321 on 127.0.0.1.  Writes
# $STATE/maildir100k/<UTC time>/ (raw.txt, table.md); stops every server
# it started.  Full length with the defaults: under 1 minute timed plus
# about 1 minute counted (and about 20 s once to make the 100 000-message
# Maildir, 400 MB; the counted part of a 1 000 000-message one takes
# a few minutes under callgrind).  GPL-3.0-or-later.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/common.sh"
. "$BENCH_DIR/inst.sh"

SIZES=${SIZES:-100000}
DROP_CACHES=${DROP_CACHES:-1}
MAKE_ONLY=${MAKE_ONLY:-0}
PERCMD=${PERCMD:-1}
P_POP23D=20320 P_DOVECOT=20321
SERVERS="pop23d dovecot-hp"

need_root
[ -x "$POPLOAD" ] || bench_die "no $POPLOAD: run peers.sh setup"
ent=$(getent passwd popbenchbulk) || bench_die "run peers.sh setup first"
U_UID=$(echo "$ent" | cut -d: -f3)
U_GID=$(echo "$ent" | cut -d: -f4)
U_HASH=$(getent shadow popbenchbulk | cut -d: -f2)

INST_DIR=$STATE/maildir100k
OUT=${OUT:-$INST_DIR/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$INST_DIR/home" "$OUT"
chmod 755 "$STATE" "$INST_DIR" "$INST_DIR/home"
RAW=$OUT/raw.txt
: >"$RAW"
trap 'inst_stop_all' EXIT
trap 'exit 1' INT TERM

# user popbenchmd<N>: N messages, made once (a stamp of the parameters)
make_maildir() { # N
	u=popbenchmd$1
	h=$INST_DIR/home/$u
	want="seed=$SEED msgs=$1 size=1024-2048"
	if [ -f "$h/stamp" ] && [ "$(cat "$h/stamp")" = "$want" ]; then
		return
	fi
	echo "== making the $1-message Maildir of $u"
	rm -rf "$h"
	python3 "$BENCH_DIR/gen-maildrops.py" --seed "$SEED" --users "$u" \
		--msgs "$1" --min 1024 --max 2048 --no-mbox \
		--home-root "$INST_DIR/home" --manifest "$INST_DIR/manifest"
	chown -R "$U_UID:$U_GID" "$h"
	chmod 700 "$h"
	echo "$want" >"$h/stamp"
}

# the counted part: a line per size, and the per-command check
percmd() {
	python3 "$BENCH_DIR/percmd-cost.py" --sizes "$SIZES" \
		--maildir-pattern "$INST_DIR/home/popbenchmd%d/Maildir" \
		--binary "$P23_BUILD/pop23d" --plugins "$P23_BUILD/.libs"
}

if [ "$MAKE_ONLY" = 1 ]; then
	for n in $SIZES; do
		make_maildir "$n"
		echo "popbenchmd$n: $INST_DIR/home/popbenchmd$n/Maildir"
	done
	[ "$PERCMD" = 1 ] && percmd | tee "$OUT/percmd.md"
	exit 0
fi

cold() { # SERVER N
	md=$INST_DIR/home/popbenchmd$2/Maildir
	case $1 in
	pop23d) rm -f "$md/pop23d.index" "$md/pop23d.index.snap" "$md/pop23d.list" ;;
	dovecot-hp) rm -f "$md"/dovecot* ;;
	esac
	[ "$DROP_CACHES" = 1 ] && inst_drop_caches
	return 0
}

port() {
	case $1 in
	pop23d) echo $P_POP23D ;;
	dovecot-hp) echo $P_DOVECOT ;;
	esac
}

{
	inst_env
	echo "SIZES=$SIZES DROP_CACHES=$DROP_CACHES"
	echo "load average at the start: $(loadavg3)"
} | tee "$OUT/env.txt"

: >"$INST_DIR/passwd"
chmod 600 "$INST_DIR/passwd"
for n in $SIZES; do
	make_maildir "$n"
	echo "popbenchmd$n:{CRYPT}$U_HASH:$U_UID:$U_GID::$INST_DIR/home/popbenchmd$n::" \
		>>"$INST_DIR/passwd"
	echo "popbenchmd$n: $n messages," \
		"$(du -sm "$INST_DIR/home/popbenchmd$n/Maildir" | cut -f1) MB on disk" |
		tee -a "$OUT/env.txt"
done
inst_share_passwd "$INST_DIR/passwd"
inst_pop23d_conf "$INST_DIR/pop23d" $P_POP23D passwdfile maildir \
	'%h/Maildir' "[passwdfile]
path = $INST_DIR/passwd"
inst_dovecot_conf "$INST_DIR/dovecot-hp" $P_DOVECOT "$INST_DIR/passwd.dovecot" \
	'maildir:~/Maildir'
inst_pop23d_start pop23d "$INST_DIR/pop23d" $P_POP23D
inst_dovecot_start dovecot-hp "$INST_DIR/dovecot-hp" $P_DOVECOT

ROWS=""
for n in $SIZES; do
	u="-u popbenchmd$n -P $PASSWORD"
	for s in $SERVERS; do	# a first contact, untimed
		timeout 900 "$POPLOAD" login -p "$(port $s)" $u -R 1 -l "warm-$s" 2>&1 |
			sed 's/^/warm-up /'
	done
	rep=0
	while [ $rep -lt 3 ]; do
		order=$SERVERS
		[ $((rep % 2)) = 1 ] && order="dovecot-hp pop23d"
		for s in $order; do
			cold "$s" "$n"
			inst_measure "$RAW" "cold-$n" $rep "$s" login \
				-p "$(port $s)" $u -R 1
		done
		rep=$((rep + 1))
	done
	for s in $SERVERS; do
		inst_measure "$RAW" "warm-$n" 0 "$s" login -p "$(port $s)" $u -R 3
	done
	cachenote=page_cache_dropped
	[ "$DROP_CACHES" = 1 ] || cachenote=page_cache_kept
	ROWS="$ROWS --row cold-$n=$n-message_Maildir,_cold_(no_index,_$cachenote)"
	ROWS="$ROWS --row warm-$n=$n-message_Maildir,_warm_index"
done
inst_stop_all
echo "load average at the end: $(loadavg3)" | tee -a "$OUT/env.txt"

{
	echo
	echo "### login + STAT to a large Maildir (1-2 KB messages, names with" \
		",S= and ,W=), pop23d and Dovecot-hp in one run; medians of 3"
	echo
	cat "$OUT/env.txt"
	echo
	# shellcheck disable=SC2086
	python3 "$BENCH_DIR/crosstab.py" "$RAW" dovecot-hp $ROWS | sed 's/_/ /g'
	echo
	if [ "$PERCMD" = 1 ]; then
		percmd
		echo
	fi
	echo "Time from USER to the answer to STAT (a server may load the" \
		"maildrop at PASS or at the first command). Issue 11's targets:" \
		"warm ≤ 0.5× Dovecot-hp's time (ratio ≥ 2), cold ≤ Dovecot-hp's" \
		"(ratio ≥ 1)."
} | tee "$OUT/table.md"
echo "results: $OUT"
