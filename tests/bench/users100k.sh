#!/bin/sh
# users100k.sh - does a login cost grow with the number of users?  The
# poll workload (login, STAT, QUIT) against pop23d twice in one run: with
# the benchmark's passwd-file (the 100 benchmark users) and with the same
# file grown by EXTRA (default 100 000) users of their own SHA512-crypt
# hashes.  Needs root, peers.sh setup, and a quiet machine (see
# doc/PERFORMANCE.md).  Prints popload's RESULT lines and the ratio.
#   tests/bench/users100k.sh [EXTRA]
# Knobs (environment): REPS [3] CONC [16] SECS [8], and those of common.sh.
# GPL-3.0-or-later.
set -eu

. "$(cd "$(dirname "$0")" && pwd)/common.sh"

EXTRA=${1:-100000}
REPS=${REPS:-3}
CONC=${CONC:-16}
SECS=${SECS:-8}
PEERS="$BENCH_DIR/peers.sh"
need_root
d=$STATE/pop23d
port=$(port_of pop23d)
users="-u popbench%d -r 1:$NUSERS -P $PASSWORD -M $STATE/manifest"

poll() { # LABEL
	i=0
	while [ $i -lt "$REPS" ]; do
		echo "TEST poll-$1 $i load1=$(cut -d' ' -f1 /proc/loadavg)" \
			"$("$POPLOAD" poll -p "$port" $users -c "$CONC" -t "$SECS" \
			-l "pop23d-$1" 2>/dev/null | grep '^RESULT ')"
		i=$((i + 1))
	done
}

"$PEERS" stop pop23d >/dev/null 2>&1 || true
"$PEERS" start pop23d
trap '"$PEERS" stop pop23d >/dev/null 2>&1 || true' EXIT
lines=$(wc -l <"$d/passwd")
"$POPLOAD" poll -p "$port" $users -c 4 -N 25 -l warm >/dev/null 2>&1 || true
poll "${lines}users"
"$PEERS" stop pop23d

# The same users, then EXTRA more, each with a hash of its own.
hash=$(openssl passwd -6 -salt extrasalt extra-password)
python3 - "$d/passwd" "$EXTRA" "$hash" <<'PY'
import sys
path, n, h = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(path, 'a') as f:
    for i in range(n):
        f.write('extra%d:{CRYPT}%s:60000:60000::/nonexistent::\n' % (i, h))
PY
total=$(wc -l <"$d/passwd")
setsid "$P23_BUILD/pop23d" -f -c "$d/pop23d.conf" \
	>>"$STATE/log/pop23d.out" 2>&1 </dev/null &
echo $! >"$(pid_file pop23d)"
i=0
while [ $i -lt 100 ] && ! port_busy "$port"; do sleep 0.1; i=$((i + 1)); done
"$POPLOAD" poll -p "$port" $users -c 4 -N 25 -l warm >/dev/null 2>&1 || true
poll "${total}users"
