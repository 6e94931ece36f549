#!/bin/sh
# demo.sh BUILD_DIR -- `make demo`: the XDP firewall example on the sample traffic.
# Loads build/examples/xdp_firewall.bpf.o (built by `make` with clang), fills its blocklists from
# examples/xdp_firewall.maps, runs it on every frame of examples/sample.pcap (regenerated with
# `bpfvm gen-pcap` if missing), and prints the verdict counts, the first drop events from the ring
# buffer, the top sources from the LRU hash, and the maps.
set -eu
BUILD=${1:-build}
BPFVM=$BUILD/bpfvm
OBJ=$BUILD/examples/xdp_firewall.bpf.o
PCAP=examples/sample.pcap
OUT=$BUILD/demo-out.pcap

for f in "$BPFVM" "$OBJ"; do
	[ -e "$f" ] || { echo "demo: $f is missing: run make first" >&2; exit 1; }
done
if [ ! -e "$PCAP" ]; then
	PCAP=$BUILD/sample.pcap
	"$BPFVM" gen-pcap "$PCAP"
fi

echo "== bpfvm run $OBJ --pcap $PCAP --map-file examples/xdp_firewall.maps"
echo
"$BPFVM" run "$OBJ" --pcap "$PCAP" --map-file examples/xdp_firewall.maps --out "$OUT" \
	--top sources:10 --events 5 --max-entries 13
echo
echo "(passed packets, as the program left them: $OUT)"
