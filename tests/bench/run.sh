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
#   tests/bench/run.sh tls [NAME...]    fetch and poll over TLS: implicit
#                                       (pop3s) and STLS, full and resumed
#                                       handshakes, plus plaintext for
#                                       reference; dovecot-hp and pop23d
#                                       unless NAMEs (dovecot-hs too)
#   tests/bench/run.sh pop2             POP2 against POP3 on pop23d, same
#                                       users and maildrops, both POP2
#                                       dialogues (tests/bench/pop23bench)
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
# tls: the servers are started with BENCH_TLS=1 (peers.sh: the same test
# certificate for all, pop3s and STLS); popload --tls implicit|stls, TLS
# 1.3 with X25519, the certificate verified against the test CA, without
# and with --resume (each thread offers its last session ticket; the
# RESULT line says how many handshakes were resumed: a server that does
# not take the ticket back shows it there).  Workloads tls-fetch-MODE-HS
# and tls-poll-MODE-HS (MODE implicit or stls, HS full or resumed), and
# fetch and poll in plaintext in the same run (TLS_PLAIN [1]).
# pop2: pop23bench against pop23d's POP3 (20200) and POP2 (POP23D_POP2_PORT)
# listeners on users popbench1..NUSERS, CONC threads, phases of SECS
# seconds alternating POP3 and POP2, POP2_ROUNDS [3] rounds, for the "ack"
# dialogue (READ once, RETR and ACKS per message) and the fetchmail one
# (READ n before every RETR); every message checked against the manifest.
# Each round also runs the POP3 control (pop23bench --control): POP3 with
# the dialogue's round trips per message (ack: RETR n, NOOP; fetchmail:
# LIST n, RETR n, NOOP), so the summary separates what the round trips
# cost from what POP2's server code costs (doc/PERFORMANCE.md).
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
TLS_PLAIN=${TLS_PLAIN:-1}
POP2_ROUNDS=${POP2_ROUNDS:-3}
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
		rm -f /home/popbench100k/Maildir/pop23d.index \
		    /home/popbench100k/Maildir/pop23d.index.snap
		measure login-cold "$i" pop23d login -p "$(port_of pop23d)" $u -R 1
	done
	measure login-warm 0 pop23d login -p "$(port_of pop23d)" $u -R 3
	measure login-warm 0 dovecot-hp login -p "$(port_of dovecot-hp)" $u -R 4
	echo "results: $OUT"
}

# fetch and poll over TLS (see the head of this file)
tls() {
	need_root
	SERVERS=${*:-dovecot-hp pop23d}
	for s in $SERVERS; do
		tls_port_of "$s" >/dev/null ||
			bench_die "TLS runs only on: $TLS_SERVERS"
	done
	[ -x "$POPLOAD" ] || bench_die "no $POPLOAD: run peers.sh setup"
	[ -f "$STATE/maildrops.stamp" ] || bench_die "run peers.sh setup first"
	OUT=${OUT:-$STATE/results/tls-$(date -u +%Y%m%dT%H%M%SZ)}
	mkdir -p "$OUT"
	: >"$OUT/raw.txt"
	write_env
	echo "TLS: $(openssl version), the certificate of $TLS_DIR/server.pem, TLS_PLAIN=$TLS_PLAIN" |
		tee -a "$OUT/env.txt"
	openssl x509 -in "$TLS_DIR/server.pem" -noout -subject -issuer \
		-text 2>/dev/null | grep -E 'subject=|issuer=|Public Key Algorithm' |
		tee -a "$OUT/env.txt" || true
	users="-u popbench%d -r 1:$NUSERS -P $PASSWORD -M $STATE/manifest"
	ca="--ca $TLS_DIR/ca.pem"

	BENCH_TLS=1
	export BENCH_TLS
	"$PEERS" start $SERVERS
	trap '"$PEERS" stop $SERVERS' EXIT
	trap 'exit 1' INT TERM

	# warm-up over TLS: every maildrop's index exists before timing
	wc=$(( NUSERS < 10 ? NUSERS : 10 ))
	per=$(( (NUSERS + wc - 1) / wc ))
	for s in $SERVERS; do
		echo "== warm-up $s"
		timeout 900 "$POPLOAD" fetch -p "$(tls_port_of "$s")" $users \
			-c "$wc" -N "$per" --tls implicit $ca -l "$s" \
			2>/dev/null | sed 's/^/warm-up /' || true
	done

	rep=0
	while [ $rep -lt "$REPS" ]; do
		order=$(rotate $rep $SERVERS)
		echo "== repetition $rep, order: $order"
		for s in $order; do
			if [ "$TLS_PLAIN" = 1 ]; then
				measure fetch $rep "$s" fetch -p "$(port_of "$s")" \
					$users -c "$CONC" -t "$SECS"
				measure poll $rep "$s" poll -p "$(port_of "$s")" \
					$users -c "$CONC" -t "$SECS"
			fi
			for mode in implicit stls; do
				if [ $mode = implicit ]; then
					p=$(tls_port_of "$s")
				else
					p=$(port_of "$s")
				fi
				for hs in full resumed; do
					r=""
					[ $hs = resumed ] && r=--resume
					for w in fetch poll; do
						measure tls-$w-$mode-$hs $rep "$s" \
							$w -p "$p" $users -c "$CONC" \
							-t "$SECS" --tls $mode $ca $r
					done
				done
			done
		done
		rep=$((rep + 1))
	done
	python3 "$BENCH_DIR/summarize.py" "$OUT/raw.txt" "$REF" |
		tee "$OUT/summary.md"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" |
		tee -a "$OUT/env.txt"
	echo "results: $OUT"
}

# POP2 against POP3 on pop23d (see the head of this file)
pop2() {
	need_root
	[ -x "$POP23BENCH" ] || bench_die "no $POP23BENCH: run peers.sh setup"
	[ -x "$POPLOAD" ] || bench_die "no $POPLOAD: run peers.sh setup"
	[ -f "$STATE/maildrops.stamp" ] || bench_die "run peers.sh setup first"
	OUT=${OUT:-$STATE/results/pop2-$(date -u +%Y%m%dT%H%M%SZ)}
	mkdir -p "$OUT"
	: >"$OUT/raw.txt"
	SERVERS=pop23d
	write_env
	echo "POP2: POP2_ROUNDS=$POP2_ROUNDS, POP2 port $POP23D_POP2_PORT" |
		tee -a "$OUT/env.txt"
	i=1
	: >"$OUT/users.txt"
	while [ $i -le "$NUSERS" ]; do
		echo "popbench$i:$PASSWORD" >>"$OUT/users.txt"
		i=$((i + 1))
	done
	"$PEERS" start pop23d
	trap '"$PEERS" stop pop23d' EXIT
	trap 'exit 1' INT TERM
	p3=$(port_of pop23d)
	echo "== warm-up pop23d"
	wc=$(( NUSERS < 10 ? NUSERS : 10 ))
	timeout 900 "$POPLOAD" fetch -p "$p3" \
		-u popbench%d -r 1:$NUSERS -P $PASSWORD -M $STATE/manifest \
		-c "$wc" -N $(( (NUSERS + wc - 1) / wc )) -l pop23d 2>/dev/null |
		sed 's/^/warm-up /' || true
	for style in ack fetchmail; do
		echo "== POP2 dialogue: $style"
		before=$(load1)
		timeout $(( (SECS + 60) * POP2_ROUNDS * 3 + 60 )) \
			"$POP23BENCH" -2 "$POP23D_POP2_PORT" -3 "$p3" \
			-F "$OUT/users.txt" -M "$STATE/manifest" -c "$CONC" \
			-t "$SECS" -r "$POP2_ROUNDS" --style $style --control \
			2>>"$OUT/stderr.txt" | sed "s/^/TEST pop2-$style load1=$before /" |
			tee -a "$OUT/raw.txt" ||
			echo "TEST pop2-$style load1=$before RESULT failed=1" |
			tee -a "$OUT/raw.txt"
	done
	python3 "$BENCH_DIR/summarize.py" --pop2 "$OUT/raw.txt" |
		tee "$OUT/summary.md"
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" |
		tee -a "$OUT/env.txt"
	echo "results: $OUT"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
all) "$PEERS" setup; run "$@" ;;
run) run "$@" ;;
tls) tls "$@" ;;
pop2) pop2 ;;
login100k) login100k ;;
summary) python3 "$BENCH_DIR/summarize.py" "$@" ;;
*)
	echo "usage: $0 all|run|tls [NAME...] | pop2 | login100k | summary RAW [REF]" >&2
	exit 2
	;;
esac
