#!/bin/sh
# run-long.sh TARGET EXECS [SECONDS] - a long libFuzzer run of one target
# (tests/fuzz/fuzz_TARGET in the current build directory) for EXECS
# executions, stopped after SECONDS (default 3600) whatever the count, at
# nice 19.  The corpus grows in fuzz-corpus/TARGET/ (seeded from the
# source tree's corpus); crashes, leaks and hangs (over 10 s: -timeout)
# land in fuzz-findings/TARGET/.  Afterwards every corpus input is run
# again on its own and timed: those over 100 ms are the slow inputs
# (libFuzzer's own -report_slow_units counts whole seconds only).  The
# limit for a hang is 10 s, not 100 ms, because a nice 19 process on a
# busy shared machine can wait that long for a CPU: a 1 s limit stopped a
# run on an input that takes 1 ms (fuzz_ipc, doc/RELIABILITY.md).  A
# timeout artifact is replayed too, and reported with its replay time.
# Prints one summary line for doc/RELIABILITY.md and appends it to
# fuzz-results.txt.  Every run is bounded (-runs, -max_total_time).
set -u
[ $# -ge 2 ] || { echo "usage: $0 TARGET EXECS [SECONDS]" >&2; exit 2; }
name=${1#fuzz_}
execs=$2
secs=${3:-3600}
srcdir=$(cd "$(dirname "$0")/../.." && pwd)
bin=./tests/fuzz/fuzz_$name
[ -x "$bin" ] || { echo "$bin: not built (make check-fuzz or make $bin)" >&2; exit 2; }
corpus=fuzz-corpus/$name
findings=fuzz-findings/$name
mkdir -p "$corpus" "$findings"
# A tmpfs for the targets' scratch files (check-fuzz.sh says why).
tmp=${TMPDIR:-}
if [ -z "$tmp" ]; then
	tmp=/tmp
	[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
fi
scratch=$(mktemp -d "$tmp/p23-fuzzlong.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
log=fuzz-$name.log
dict=$srcdir/tests/fuzz/dict/$name.dict
set -- -runs="$execs" -max_total_time="$secs" -timeout=10 \
	-rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1 \
	-report_slow_units=1 -artifact_prefix="$findings/"
[ -f "$dict" ] && set -- "$@" -dict="$dict"
cmd="nice -n 19 $bin $* $corpus $srcdir/tests/fuzz/corpus/$name"
start=$(date -u +%s)
TMPDIR=$scratch ASAN_OPTIONS=detect_leaks=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	nice -n 19 "$bin" "$@" "$corpus" "$srcdir/tests/fuzz/corpus/$name" \
	>"$log" 2>&1
rc=$?
end=$(date -u +%s)
ran=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
nfind=$(ls -A "$findings" | wc -l)
# Replay the corpus one input at a time, timed by libFuzzer itself.
slow=0
if [ -n "$(ls -A "$corpus")" ]; then
	TMPDIR=$scratch nice -n 19 "$bin" -close_fd_mask=3 -runs=1 \
		"$corpus"/* >"$scratch/replay.log" 2>&1
	# An input over 100 ms is run three times more and judged by its
	# fastest run: at nice 19 on a busy machine one run can include
	# seconds of waiting for a CPU (fuzz_passwdfile: 164 ms once, 4 ms
	# alone).
	slow=0
	slowest=0
	for f in $(awk '/^Executed .* in [0-9]+ ms$/ { if ($(NF-1) > 100)
		print $2 }' "$scratch/replay.log"); do
		best=
		for i in 1 2 3; do
			t=$(TMPDIR=$scratch "$bin" -close_fd_mask=3 -runs=1 "$f" 2>&1 |
				sed -n 's/^Executed .* in \([0-9]*\) ms$/\1/p')
			[ -z "$best" ] || [ "${t:-0}" -lt "$best" ] && best=${t:-0}
		done
		echo "slow? $f: best of 3 runs $best ms" | tee -a "$log"
		[ "$best" -gt 100 ] && slow=$((slow + 1))
	done
	slowest=$(awk '/^Executed .* in [0-9]+ ms$/ { if ($(NF-1) > m) m = $(NF-1) }
		END { print m + 0 }' "$scratch/replay.log")
else
	slowest=0
fi
# A hang replayed on its own: how long it really takes.
for a in "$findings"/timeout-*; do
	[ -f "$a" ] || continue
	t=$(TMPDIR=$scratch "$bin" -close_fd_mask=3 -runs=1 -timeout=30 "$a" 2>&1 |
		sed -n 's/^Executed .* in \([0-9]*\) ms$/\1/p')
	echo "replay $a: ${t:-?} ms" | tee -a "$log"
done
line="fuzz_$name execs=${ran:-0} secs=$((end - start)) $cov corpus=$(ls "$corpus" | wc -l) findings=$nfind slow_over_100ms=$slow slowest_replay_ms=$slowest exit=$rc cmd: $cmd"
echo "$line"
echo "$(date -u +%FT%TZ) $line" >>fuzz-results.txt
[ $rc -eq 0 ] && [ "$nfind" -eq 0 ] && [ "$slow" -eq 0 ]
