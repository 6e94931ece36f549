#!/bin/sh
# demo.sh BUILD_DIR -- `make demo`: the XDP firewall example on the sample traffic, explained.
# Loads build/examples/xdp_firewall.bpf.o (built by `make` with clang), fills its blocklists from
# examples/xdp_firewall.maps, runs it on every frame of examples/sample.pcap (regenerated with
# `bpfvm gen-pcap` if missing) and prints, with what each part means: the verdicts, the first drop
# events from the ring buffer, the top sources, and the firewall's counters by name (a second run with
# --json, read by python3).
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

cat <<TXT
== The program
examples/xdp_firewall.bpf.c is an XDP firewall written as for the kernel (examples/README.md explains it).
For every Ethernet frame it decides DROP or PASS:
  - blocked:     the source is in a blocked prefix (here from examples/xdp_firewall.maps:
                 198.51.100.0/24 rule 1, 203.0.113.128/25 rule 2, 2001:db8:bad::/48 rule 3)
  - over budget: the source already sent more than 200 packets (rate_limit_pkts, a .rodata constant)
  - malformed:   the frame is cut short or its IP header is invalid (malformed_verdict says: drop)
Each drop is also reported as an event in the 'events' ring buffer (reason 1 = blocked, 2 = over budget).
It runs on examples/sample.pcap: 3000 frames of made-up traffic (bpfvm gen-pcap; examples/README.md).

== The run
\$ bpfvm run $OBJ --pcap $PCAP --map-file examples/xdp_firewall.maps --top sources:5 --events 5 --max-entries 13

TXT
"$BPFVM" run "$OBJ" --pcap "$PCAP" --map-file examples/xdp_firewall.maps --out "$OUT" \
	--top sources:5 --events 5 --max-entries 13
cat <<TXT

How to read it:
  - "event events": the first drop events from the ring buffer, by field: the program names their
    type with EVENT_TYPE(events, struct drop_event) (examples/common.h); reason 1 is "blocked" (rule:
    the prefix's rule id), 2 "over budget" (rule: the packets seen); addr is the source, IPv4 as an
    IPv4-mapped IPv6 address; they are decoded below;
  - "too short to run": frames shorter than an Ethernet header (14 bytes); Linux runs no program on
    them, and neither does bpfvm;
  - "top 5 of sources": the busiest sources in the LRU hash 'sources' (packets, then bytes);
  - "maps": every map after the run, keys and values printed as the program's BTF types say.
(The passed packets, as the program left them, are in $OUT.)

== The counters, by name (map 'stats', one per-CPU counter per enum stat of the program, summed)
TXT
"$BPFVM" run "$OBJ" --pcap "$PCAP" --map-file examples/xdp_firewall.maps --json >"$BUILD/demo.json"
python3 - "$BUILD/demo.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
stats = next(m for m in doc["maps"] if m["name"] == "stats")
val = {e["key"]: e["value"]["sum"] for e in stats["entries"]}
names = [
    ("passed", "frames the firewall let through (XDP_PASS)"),
    ("blocked", "dropped: the source is in a blocked prefix"),
    ("over budget", "dropped: the source sent more than rate_limit_pkts (200) packets"),
    ("malformed", "dropped: frame cut short, or a bad IP version or header length"),
    ("malformed, passed", "malformed but passed (when malformed_verdict is XDP_PASS; 0 here)"),
    ("not IP", "frames that are neither IPv4 nor IPv6 (ARP, unknown ethertypes); passed"),
    ("IPv4", "IPv4 frames"),
    ("IPv6", "IPv6 frames"),
    ("TCP", "TCP segments"),
    ("UDP", "UDP datagrams"),
    ("ICMP", "ICMP and ICMPv6 messages"),
    ("other L4", "other IP protocols"),
    ("events lost", "drop events the ring buffer had no room for"),
]
for k, (name, what) in enumerate(names):
    print("  %-18s %6s   %s" % (name, val.get(k, "?"), what))
import ipaddress, struct
print()
print("The first drop events (struct drop_event: reason, frame length, source, rule or packets seen):")
for e in doc["events"][:5]:
    reason, length, addr, rule, _ = struct.unpack("<II16sII", bytes.fromhex(e["data"]))
    a = ipaddress.ip_address(addr)
    a = a.ipv4_mapped or a
    print("  %-11s %4d bytes from %-15s %s" % ({1: "blocked", 2: "over budget"}.get(reason, reason), length, a,
          "rule %d" % rule if reason == 1 else "packet %d" % rule))
v = doc["verdicts"]
print()
print("Verdicts: %d dropped = %d blocked + %d over budget + %d malformed; %d passed; %d frames too short to run."
      % (v["DROP"], val.get(1, 0), val.get(2, 0), val.get(3, 0), v["PASS"], doc["skipped"]))
PY
rm -f "$BUILD/demo.json"
