#!/usr/bin/env bash
# Regenerates tools/syscalls_x86_64.def, the x86_64 system call names of `bpfvm seccomp --syscall NAME`,
# from the machine's <asm/unistd_64.h> (run on an x86_64 machine with the kernel headers installed):
#   scripts/gen-syscalls.sh > tools/syscalls_x86_64.def
set -euo pipefail
ver=$(dpkg-query -W -f='${Version}' linux-libc-dev 2>/dev/null || echo unknown)
echo "/* syscalls_x86_64.def -- x86_64 system call numbers, SYSCALL(name, nr), from <asm/unistd_64.h>"
echo " * (linux-libc-dev $ver) by scripts/gen-syscalls.sh; do not edit.  No include guard. */"
echo '#include <asm/unistd_64.h>' | ${CC:-cc} -dM -E -x c - |
	sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9][0-9]*\)$/\2 \1/p' | sort -n |
	awk '{ printf "SYSCALL(%s, %s)\n", $2, $1 }'
