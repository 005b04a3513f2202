#!/bin/sh
# run.sh - the benchmark of doc/PERFORMANCE.md in one run: every server,
# every workload, REPS repetitions with the server order rotated, medians
# and ratios.  Run it on a quiet machine: client and servers share the
# CPUs, and anything else running makes every figure wrong.
#
#   tests/bench/run.sh all [NAME...]    peers.sh setup, then run (make bench)
#   tests/bench/run.sh run [NAME...]    start the servers, measure, stop them
#   tests/bench/run.sh login100k        cold and warm login to a 100 000-
#                                       message Maildir (BIG_MSGS=100000
#                                       setup first), pop23d and dovecot-hp
#   tests/bench/run.sh summary RAW [REF]   tables from a raw.txt again
#
# Workloads (tests/bench/popload; every message checked against the
# manifest of gen-maildrops.py):
#   fetch     CONC threads for SECS seconds: login, STAT, RETR all, QUIT
#   fetch-qa  the same, client sets TCP_QUICKACK (hides Nagle stalls)
#   poll      login, STAT, QUIT
#   bulk-qa   one session RETRs all BULK_MSGS messages of popbenchbulk, MB/s
#   bulk      the same without quick ACKs (BULK_PLAIN_REPS repetitions)
#   idle      IDLE_N sessions held, memory per session (PSS) of the whole
#             server process tree; needs IDLE_USERS >= IDLE_N at setup
#
# Knobs (environment): REPS [3] CONC [16] SECS [10] BULK_PLAIN_REPS [1]
# IDLE_N [0] IDLE_REPS [2] LIST [0] (1: also LIST and UIDL in every session,
# as the earlier harness did) REF [dovecot-hp] (the ratio denominator)
# OUT [$STATE/results/<UTC time>], and those of common.sh.
# Output: OUT/raw.txt (one line per measurement: test, repetition, load
# average, popload's RESULT line), OUT/env.txt (machine, software, knobs),
# OUT/summary.md (medians, min-max, ratios).  GPL-3.0-or-later.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/common.sh"

REPS=${REPS:-3}
CONC=${CONC:-16}
SECS=${SECS:-10}
BULK_PLAIN_REPS=${BULK_PLAIN_REPS:-1}
IDLE_N=${IDLE_N:-0}
IDLE_REPS=${IDLE_REPS:-2}
LIST=${LIST:-0}
REF=${REF:-dovecot-hp}
PEERS="$BENCH_DIR/peers.sh"

# popload options that depend on the server
server_opts() {
	case $1 in
	# Mailutils adds X-UIDL to every message it serves
	mailutils) echo "--skip-header X-UIDL" ;;
	esac
}

load1() {
	cut -d' ' -f1 /proc/loadavg
}

# measure TEST REP SERVER popload-arguments...
measure() {
	test=$1 rep=$2 name=$3
	shift 3
	before=$(load1)
	line=$(timeout $((SECS + 600)) "$POPLOAD" "$@" -l "$name" \
		$(server_opts "$name") 2>>"$OUT/stderr.txt" | grep '^RESULT ') ||
		line="RESULT server=$name failed=1"
	echo "TEST $test $rep load1=$before $line" | tee -a "$OUT/raw.txt"
}

write_env() {
	{
		echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
		echo "host: $(uname -n), kernel $(uname -r)"
		echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') x $(nproc)"
		echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
		echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "servers: $SERVERS"
		echo "REPS=$REPS CONC=$CONC SECS=$SECS BULK_PLAIN_REPS=$BULK_PLAIN_REPS IDLE_N=$IDLE_N IDLE_REPS=$IDLE_REPS LIST=$LIST REF=$REF"
		echo "data: NUSERS=$NUSERS NMSGS=$NMSGS MSG_MIN=$MSG_MIN MSG_MAX=$MSG_MAX BULK_MSGS=$BULK_MSGS BULK_SIZE=$BULK_SIZE SEED=$SEED"
		echo "pop23d: $("$P23_BUILD/pop23d" --version 2>&1 | head -1)," \
			"built in $P23_BUILD"
		echo "benchmark scripts: $TOP at $(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)"
		dovecot --version 2>/dev/null | sed 's/^/dovecot /'
		dpkg-query -W -f='${Package} ${Version}\n' dovecot-pop3d \
			mailutils-pop3d 2>/dev/null
		ls "$STATE"/popa3d/debs/ 2>/dev/null | sed 's/^/popa3d package: /'
	} >"$OUT/env.txt"
	cat "$OUT/env.txt"
}

rotate() { # N WORDS... -> the words rotated left by N
	n=$1
	shift
	k=$(( n % $# ))
	i=0
	for w in "$@"; do
		[ $i -ge $k ] && printf '%s ' "$w"
		i=$((i + 1))
	done
	i=0
	for w in "$@"; do
		[ $i -lt $k ] && printf '%s ' "$w"
		i=$((i + 1))
	done
}

run() {
	need_root
	SERVERS=${*:-$ALL_SERVERS}
	[ -x "$POPLOAD" ] || bench_die "no $POPLOAD: run peers.sh setup"
	[ -f "$STATE/maildrops.stamp" ] || bench_die "run peers.sh setup first"
	OUT=${OUT:-$STATE/results/$(date -u +%Y%m%dT%H%M%SZ)}
	mkdir -p "$OUT"
	: >"$OUT/raw.txt"
	write_env
	users="-u popbench%d -r 1:$NUSERS -P $PASSWORD -M $STATE/manifest"
	bulk="-u popbenchbulk -P $PASSWORD -M $STATE/manifest"
	extra=""
	[ "$LIST" = 1 ] && extra="--list"

	"$PEERS" start $SERVERS
	trap '"$PEERS" stop $SERVERS' EXIT
	trap 'exit 1' INT TERM

	# Warm-up: one session per user and one bulk session on every
	# server, so that every index and cache exists before timing.
	# Errors here are expected on a first contact (Mailutils rewrites
	# the maildrop during its first session).
	wc=$(( NUSERS < 10 ? NUSERS : 10 ))
	per=$(( (NUSERS + wc - 1) / wc ))
	for s in $SERVERS; do
		p=$(port_of "$s")
		echo "== warm-up $s"
		timeout 900 "$POPLOAD" fetch -p "$p" $users -c "$wc" -N "$per" \
			--quickack -l "$s" $(server_opts "$s") 2>/dev/null |
			sed 's/^/warm-up /' || true
		timeout 900 "$POPLOAD" bulk -p "$p" $bulk --quickack -l "$s" \
			$(server_opts "$s") 2>/dev/null | sed 's/^/warm-up /' || true
	done

	rep=0
	while [ $rep -lt "$REPS" ]; do
		order=$(rotate $rep $SERVERS)
		echo "== repetition $rep, order: $order"
		for s in $order; do
			p=$(port_of "$s")
			measure fetch $rep "$s" fetch -p "$p" $users -c "$CONC" \
				-t "$SECS" $extra
			measure fetch-qa $rep "$s" fetch -p "$p" $users \
				-c "$CONC" -t "$SECS" --quickack $extra
			measure poll $rep "$s" poll -p "$p" $users -c "$CONC" \
				-t "$SECS" $extra
			measure bulk-qa $rep "$s" bulk -p "$p" $bulk --quickack
			if [ $rep -lt "$BULK_PLAIN_REPS" ]; then
				measure bulk $rep "$s" bulk -p "$p" $bulk
			fi
		done
		rep=$((rep + 1))
	done

	if [ "$IDLE_N" -gt 0 ]; then
		[ "$IDLE_USERS" -ge "$IDLE_N" ] ||
			bench_die "IDLE_N=$IDLE_N needs IDLE_USERS >= $IDLE_N at setup"
		idle="-u popidle%d -r 1:$IDLE_N -P $PASSWORD"
		# one session per idle user first: indexes exist before
		# memory is measured
		wc=$(( IDLE_N < 10 ? IDLE_N : 10 ))
		for s in $SERVERS; do
			timeout 900 "$POPLOAD" poll -p "$(port_of "$s")" $idle \
				-c "$wc" -N $(( (IDLE_N + wc - 1) / wc )) -l "$s" \
				2>/dev/null | sed 's/^/warm-up /' || true
		done
		rep=0
		while [ $rep -lt "$IDLE_REPS" ]; do
			for s in $(rotate $rep $SERVERS); do
				measure idle $rep "$s" idle -p "$(port_of "$s")" \
					$idle -n "$IDLE_N" -o 4 --hold 2 \
					--pid "$("$PEERS" pid "$s")"
				sleep 2
			done
			rep=$((rep + 1))
		done
	fi

	python3 "$BENCH_DIR/summarize.py" "$OUT/raw.txt" "$REF" |
		tee "$OUT/summary.md"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" |
		tee -a "$OUT/env.txt"
	echo "results: $OUT"
}

# Login time to a big Maildir: cold (pop23d's index removed first) and
# warm, 3 times each; Dovecot-hp for comparison (warm only: its indexes
# are not removed).
login100k() {
	need_root
	[ "$BIG_MSGS" -gt 0 ] || bench_die "set BIG_MSGS=100000 (and run setup with it)"
	OUT=${OUT:-$STATE/results/login-$(date -u +%Y%m%dT%H%M%SZ)}
	mkdir -p "$OUT"
	: >"$OUT/raw.txt"
	SERVERS="pop23d dovecot-hp"
	write_env
	"$PEERS" start pop23d dovecot-hp
	trap '"$PEERS" stop pop23d dovecot-hp' EXIT
	trap 'exit 1' INT TERM
	u="-u popbench100k -P $PASSWORD"
	for i in 1 2 3; do
		rm -f /home/popbench100k/Maildir/pop23d.index
		measure login-cold "$i" pop23d login -p "$(port_of pop23d)" $u -R 1
	done
	measure login-warm 0 pop23d login -p "$(port_of pop23d)" $u -R 3
	measure login-warm 0 dovecot-hp login -p "$(port_of dovecot-hp)" $u -R 4
	echo "results: $OUT"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
all) "$PEERS" setup; run "$@" ;;
run) run "$@" ;;
login100k) login100k ;;
summary) python3 "$BENCH_DIR/summarize.py" "$@" ;;
*)
	echo "usage: $0 all|run [NAME...] | login100k | summary RAW [REF]" >&2
	exit 2
	;;
esac
