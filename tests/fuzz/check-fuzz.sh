#!/bin/sh
# check-fuzz.sh SRCDIR TARGET... - "make check-fuzz": a short run of each
# libFuzzer target from its seed corpus (tests/fuzz/corpus/NAME/), a
# dictionary where there is one (tests/fuzz/dict/NAME.dict).  Fails on a
# crash, a sanitizer report, a leak, an input over the time limit or a
# run that did not start.  FUZZ_SECONDS (default 4) per target; new
# inputs go to a scratch directory, never into the source tree.
# Runs as whoever runs make; every run is bounded (-max_total_time).
set -u
srcdir=$1
shift
secs=${FUZZ_SECONDS:-4}
# The session targets write a Maildir per run and fsync: on a tmpfs
# (/dev/shm) that costs nothing, so more runs fit in the seconds.
tmp=${TMPDIR:-}
if [ -z "$tmp" ]; then
	tmp=/tmp
	[ -d /dev/shm ] && [ -w /dev/shm ] && tmp=/dev/shm
fi
scratch=$(mktemp -d "$tmp/p23-checkfuzz.XXXXXX") || exit 1
trap 'rm -rf "$scratch"' EXIT
fail=0
for t in "$@"; do
	name=$(basename "$t")
	name=${name#fuzz_}
	seeds=$srcdir/tests/fuzz/corpus/$name
	dict=$srcdir/tests/fuzz/dict/$name.dict
	mkdir -p "$scratch/$name" "$scratch/$name.art"
	set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-close_fd_mask=3 -print_final_stats=1 \
		-artifact_prefix="$scratch/$name.art/"
	[ -f "$dict" ] && set -- "$@" -dict="$dict"
	TMPDIR=$scratch ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"./$t" "$@" "$scratch/$name" "$seeds" >"$scratch/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$name.log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$scratch/$name.log" | tail -1)
	if [ $rc -ne 0 ] || [ -z "$execs" ] || \
	    [ -n "$(ls -A "$scratch/$name.art")" ]; then
		echo "FAIL: fuzz_$name (exit $rc)"
		tail -60 "$scratch/$name.log"
		for a in "$scratch/$name.art"/*; do
			[ -f "$a" ] && { echo "input ($a):"; od -c "$a" | head -20; }
		done
		fail=1
	else
		echo "PASS: fuzz_$name: $execs runs in ${secs}s, $cov"
	fi
done
exit $fail
