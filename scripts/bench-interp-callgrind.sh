#!/bin/sh
# bench-interp-callgrind.sh -- host instructions per run of the interpreter, checked (BPFVM_CHECKS_ALWAYS)
# against unchecked (the verifier's proofs), for bench/bench_interp.c's two cases: an XDP packet parser
# (38 BPF insns per run) and a memory loop over 4 KiB (3587 BPF insns per run).  Callgrind counts every
# instruction the host executes; each case runs once with R1 and once with R2 repetitions of one
# PROG_TEST_RUN, so (count(R2) - count(R1)) / (R2 - R1) is the cost of one run with loading and setup
# left out.  Deterministic, unlike wall time on a shared machine.
#   usage: scripts/bench-interp-callgrind.sh [build/bench/bench_interp]   (make bench builds it)
set -eu
B=${1:-build/bench/bench_interp}
command -v valgrind >/dev/null || { echo "bench-interp-callgrind: valgrind not installed"; exit 1; }
[ -x "$B" ] || { echo "bench-interp-callgrind: $B not built (make bench)"; exit 1; }

count() { # case mode repeat -> host instructions of the whole process
	valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B" --trust-case "$1" "$2" "$3" 2>&1 |
		sed -n 's/.*Collected : *//p'
}

for c in "xdp 38 2000 22000" "mem 3587 20 220"; do
	set -- $c
	name=$1 insns=$2 r1=$3 r2=$4
	for mode in checked unchecked; do
		a=$(count "$name" "$mode" "$r1")
		b=$(count "$name" "$mode" "$r2")
		awk -v n="$name" -v m="$mode" -v a="$a" -v b="$b" -v r1="$r1" -v r2="$r2" -v i="$insns" 'BEGIN {
			run = (b - a) / (r2 - r1)
			printf "%-4s %-9s %9.1f host insns/run  %6.2f per BPF insn\n", n, m, run, run / i }'
	done
done
