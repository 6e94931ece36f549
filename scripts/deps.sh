#!/usr/bin/env bash
# Installs the Debian packages bpfvm needs to build, test and run its examples, if any is missing.
# Run by `make deps` (which `make`, `make test` and `make demo` depend on) and by .ci/run.
set -eu
pkgs="gcc make clang llvm libpcap-dev libbpf-dev clang-19 llvm-19 valgrind iproute2 python3 pkg-config groff-base binutils tcpdump libseccomp-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root: install these packages first:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq $missing >/dev/null
