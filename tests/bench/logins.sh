#!/bin/sh
# logins.sh - the login-rate table of issue 7, side by side with Dovecot
# in one run: poll sessions/s (popload poll: USER, PASS, STAT, QUIT) for
#   pop23d        auth = passwdfile, through the auth service
#   dovecot-hp    Dovecot 2.3, passdb and userdb passwd-file (the same
#                 lines), reused login processes (peers.sh's dovecot-hp)
#   pop23d-sasldb auth = sasl, a sasldb made by saslpasswd2 (auxprop
#                 sasldb, userdb = passwd)
# first with the benchmark's users (popbench1..NUSERS and popbenchbulk:
# 101 lines), then with EXTRA (100 000) more users in the passwd-file (the
# lines users100k.sh adds: SHA512-crypt hashes, never logging in) and in
# the sasldb.  The same 101 users log in every time, with the same
# SHA512-crypt hash cost for pop23d and Dovecot; a sasldb keeps plaintext
# passwords, so pop23d-sasldb pays no hash: its row is not a like-for-like
# comparison (the table says so).
#
#   tests/bench/logins.sh
#
# Needs root, tests/bench/peers.sh setup (users, Maildirs, popload), a
# pop23d build (P23_BUILD) and a quiet machine.  Knobs (environment):
# REPS [3] CONC [16] SECS [10] EXTRA [100000], and those of common.sh.
# Ports 20300-20302 on 127.0.0.1.  Writes $STATE/logins/<UTC time>/
# (raw.txt, table.md); stops every server it started, also when
# interrupted.  Full length: about 4 minutes.  GPL-3.0-or-later.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/common.sh"
. "$BENCH_DIR/inst.sh"

REPS=${REPS:-3}
CONC=${CONC:-16}
SECS=${SECS:-10}
EXTRA=${EXTRA:-100000}
REALM=bench.localhost
P_POP23D=20300 P_DOVECOT=20301 P_SASL=20302

need_root
[ -x "$POPLOAD" ] || bench_die "no $POPLOAD: run peers.sh setup"
[ -f "$STATE/maildrops.stamp" ] || bench_die "run peers.sh setup first"
command -v saslpasswd2 >/dev/null || bench_die "no saslpasswd2 (sasl2-bin)"
command -v db_load >/dev/null || bench_die "no db_load (db-util)"

INST_DIR=$STATE/logins
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
users="-u popbench%d -r 1:$NUSERS -P $PASSWORD -M $STATE/manifest"

# the sasldb of the benchmark users, made by the real tool; the extra
# users are loaded with db_load (saslpasswd2 once per user would take
# many minutes), as the records saslpasswd2 writes: user NUL realm NUL
# "userPassword" -> the plaintext password
make_sasldb() { # DB EXTRA
	rm -f "$1"
	for u in $USERS; do
		printf '%s' "$PASSWORD" | saslpasswd2 -p -c -f "$1" -a pop23d \
			-u "$REALM" "$u"
	done
	if [ "$2" -gt 0 ]; then
		python3 - "$2" "$REALM" >"$1.txt" <<'PY'
import sys
n, realm = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    sys.stdout.write('extra%d\\00%s\\00userPassword\nextra-password\n'
                     % (i, realm))
PY
		db_load -T -t hash -f "$1.txt" "$1"
		rm -f "$1.txt"
	fi
	chgrp pop23d-auth "$1"
	chmod 640 "$1"
	echo "sasldb: $(sasldblistusers2 -f "$1" | wc -l) users"
}

setup_phase() { # EXTRA
	inst_passwd "$INST_DIR/passwd" $USERS
	[ "$1" -gt 0 ] && inst_extra_users "$INST_DIR/passwd" "$1"
	inst_share_passwd "$INST_DIR/passwd"
	NLINES=$(wc -l <"$INST_DIR/passwd")
	mkdir -p "$INST_DIR/sasl2"
	chmod 755 "$INST_DIR/sasl2"
	make_sasldb "$INST_DIR/sasl2/sasldb2" "$1"
	cat >"$INST_DIR/sasl2/pop23d.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $INST_DIR/sasl2/sasldb2
mech_list: PLAIN LOGIN
EOF
	chmod 644 "$INST_DIR/sasl2/pop23d.conf"
	inst_pop23d_conf "$INST_DIR/pop23d" $P_POP23D passwdfile maildir \
		'%h/Maildir' "[passwdfile]
path = $INST_DIR/passwd"
	inst_pop23d_conf "$INST_DIR/pop23d-sasldb" $P_SASL sasl maildir \
		'%h/Maildir' "[sasl]
conf_dir = $INST_DIR/sasl2
hostname = $REALM
realm = $REALM
userdb = passwd"
	inst_dovecot_conf "$INST_DIR/dovecot-hp" $P_DOVECOT "$INST_DIR/passwd.dovecot" \
		'maildir:~/Maildir'
}

port() {
	case $1 in
	pop23d) echo $P_POP23D ;;
	dovecot-hp) echo $P_DOVECOT ;;
	pop23d-sasldb) echo $P_SASL ;;
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

phase() { # EXTRA
	setup_phase "$1"
	inst_pop23d_start pop23d "$INST_DIR/pop23d" $P_POP23D
	inst_dovecot_start dovecot-hp "$INST_DIR/dovecot-hp" $P_DOVECOT
	inst_pop23d_start pop23d-sasldb "$INST_DIR/pop23d-sasldb" $P_SASL
	for s in pop23d dovecot-hp pop23d-sasldb; do
		timeout 900 "$POPLOAD" poll -p "$(port $s)" $users -c 4 \
			-N $(( (NUSERS + 3) / 4 )) -l "warm-$s" 2>&1 |
			sed 's/^/warm-up /'
	done
	rep=0
	while [ $rep -lt "$REPS" ]; do
		for s in $(rotate $rep pop23d dovecot-hp pop23d-sasldb); do
			inst_measure "$RAW" "poll-$NLINES" "$rep" "$s" poll \
				-p "$(port $s)" $users -c "$CONC" -t "$SECS"
		done
		rep=$((rep + 1))
	done
	inst_stop_all
}

{
	inst_env
	echo "REPS=$REPS CONC=$CONC SECS=$SECS EXTRA=$EXTRA NUSERS=$NUSERS"
	echo "load average at the start: $(loadavg3)"
} | tee "$OUT/env.txt"
phase 0
SMALL=$NLINES
phase "$EXTRA"
BIG=$NLINES
echo "load average at the end: $(loadavg3)" | tee -a "$OUT/env.txt"

{
	echo
	echo "### Login rate: poll sessions/s (USER, PASS, STAT, QUIT), $CONC" \
		"client threads, $SECS s, $REPS repetitions, medians"
	echo
	cat "$OUT/env.txt"
	echo
	python3 "$BENCH_DIR/crosstab.py" "$RAW" dovecot-hp \
		--row "poll-$SMALL=$SMALL users ($SMALL-line passwd-file, $SMALL-user sasldb)" \
		--row "poll-$BIG=$BIG users ($BIG-line passwd-file, $BIG-user sasldb)"
	echo
	python3 - "$RAW" "poll-$SMALL" "poll-$BIG" <<'PY'
import statistics, sys
raw, small, big = sys.argv[1:4]
v = {}
for line in open(raw):
    f = line.split()
    if len(f) < 5 or f[0] != "TEST":
        continue
    kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
    if "sess_per_s" in kv:
        v.setdefault((f[1], kv["server"]), []).append(float(kv["sess_per_s"]))
print("| server | %s users | %s users | growth (%s / %s) |" % (
    small[5:], big[5:], big[5:], small[5:]))
print("|---|---|---|---|")
for s in ("pop23d", "dovecot-hp", "pop23d-sasldb"):
    a, b = v.get((small, s)), v.get((big, s))
    if a and b:
        ma, mb = statistics.median(a), statistics.median(b)
        print("| %s | %.1f | %.1f | **%.2f×** |" % (s, ma, mb, mb / ma))
PY
	echo
	echo "pop23d and dovecot-hp check the same SHA512-crypt hashes (one per"
	echo "login). pop23d-sasldb checks a plaintext password from the sasldb"
	echo "(saslpasswd2 stores userPassword in clear): no hash, so its ratio to"
	echo "dovecot-hp is not like for like; compare it with pop23d for the cost"
	echo "of the libsasl2 path without the hash. Dovecot has no sasldb driver."
	echo "Dovecot 2.3 verifies passwd-file crypt hashes in its auth-worker"
	echo "processes (several in parallel: \"auth -w\" during a run)."
} | tee "$OUT/table.md"
echo "results: $OUT"
