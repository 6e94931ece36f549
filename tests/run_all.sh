#!/usr/bin/env bash
# Runs every test binary of each build directory given (normal, then sanitizer build) and prints the
# final tally "N passed, N failed" as its last line (skips are counted and listed, never as passes).
set -u
pass=0; fail=0; skip=0
for dir in "$@"; do
	[ -d "$dir/tests" ] || continue
	for t in "$dir"/tests/test_* "$dir"/fuzz/*-replay; do
		[ -x "$t" ] || continue
		name="$dir/${t#$dir/}"
		out=$("$t" 2>&1); rc=$?
		p=$(grep -c '^PASS ' <<<"$out"); f=$(grep -c '^FAIL ' <<<"$out"); s=$(grep -c '^SKIP ' <<<"$out")
		if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1; out="$out
FAIL $name: exited with status $rc"
		fi
		pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
		if [ "$f" -ne 0 ]; then
			echo "== $name: $p passed, $f failed"; grep -v '^PASS ' <<<"$out" | head -60
		else
			echo "== $name: $p passed, $s skipped"; grep '^SKIP ' <<<"$out"
		fi
	done
done
echo "$skip skipped (each listed above with its reason)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
