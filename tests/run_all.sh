#!/usr/bin/env bash
# Runs every test binary of each build directory given (normal, then sanitizer build) and prints the
# final tally "N passed, N failed" as its last line (skips are counted and listed, never as passes).
# VALGRIND (make valgrind sets it): a command prefix every binary runs under, e.g. "valgrind -q ...".
# A binary in valgrind_skip below is then not run at all: one SKIP line gives the reason.
set -u
pass=0; fail=0; skip=0
VALGRIND=${VALGRIND:-}
read -ra valgrind <<<"$VALGRIND"   # split into words, no globbing of its patterns

# Binaries that cannot run under valgrind, and why (only consulted when VALGRIND is set).
valgrind_skip() {
	case "$1" in
	*) return 1 ;;
	esac
}

for dir in "$@"; do
	[ -d "$dir/tests" ] || continue
	for t in "$dir"/tests/test_* "$dir"/fuzz/*-replay; do
		[ -x "$t" ] || continue
		name="$dir/${t#$dir/}"
		if [ -n "$VALGRIND" ] && why=$(valgrind_skip "$(basename "$t")"); then
			skip=$((skip + 1))
			echo "== $name: not run under valgrind"; echo "SKIP $name: $why"
			continue
		fi
		out=$("${valgrind[@]}" "$t" 2>&1); rc=$?
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
