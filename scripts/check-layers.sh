#!/usr/bin/env bash
# check-layers.sh -- every #include "..." between folders of src/ (and from tools/) must follow the
# "may include" matrix of src/README.md (between the layers:begin/end markers), and that matrix must
# have no cycle, so that no include cycle between folders can come back.  An include the matrix does
# not allow fails the check unless scripts/layers-known-violations.txt lists it (file, included file,
# the issue it waits for); entries that no longer match anything are reported so the list only shrinks.
# Folder names: a subfolder of src/ by its name, src/*.c|h as "sys", tools/ as "tools"; include/ (the
# public API) may be included from anywhere.  Usage: scripts/check-layers.sh [root] (default: .)
set -u
root=${1:-.}
cd "$root" || exit 2
matrix=src/README.md
known=scripts/layers-known-violations.txt
[ -f "$matrix" ] || { echo "check-layers: $matrix missing"; exit 2; }
[ -f "$known" ] || { echo "check-layers: $known missing"; exit 2; }

# file:line:#include "x" for every source file of the library and the CLI
incs=$(grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' \
	src/*.c src/*.h src/*/*.c src/*/*.h src/*/*.def tools/*.c tools/*.h 2>/dev/null)

awk -v matrix="$matrix" -v known="$known" '
function folder(path,   n, p) {
	n = split(path, p, "/")
	if (p[1] == "include") return "(public)"
	if (p[1] == "tools") return "tools"
	if (p[1] != "src") return "(outside:" p[1] ")"
	return n == 2 ? "sys" : p[2]
}
# "a/b/../c/./d" -> "a/c/d"
function normalize(path,   n, p, out, k, i) {
	n = split(path, p, "/"); k = 0
	for (i = 1; i <= n; i++) {
		if (p[i] == "." || p[i] == "") continue
		if (p[i] == ".." && k > 0) { k--; continue }
		out[++k] = p[i]
	}
	path = ""
	for (i = 1; i <= k; i++) path = path (i > 1 ? "/" : "") out[i]
	return path
}
function dirname(path) { sub(/\/[^\/]*$/, "", path); return path }
function visit(f,   i, n, d) {   # depth-first search for a cycle in the matrix
	if (state[f] == 1) { cycle = cycle " " f; return 1 }
	if (state[f] == 2) return 0
	state[f] = 1
	n = split(allow[f], d, " ")
	for (i = 1; i <= n; i++)
		if (d[i] in allow && visit(d[i])) { cycle = cycle " <- " f; return 1 }
	state[f] = 2
	return 0
}
BEGIN {
	while ((getline line < matrix) > 0) {
		if (line ~ /<!-- layers:begin -->/) { on = 1; continue }
		if (line ~ /<!-- layers:end -->/) { on = 0; continue }
		if (!on || line !~ /^\|/ || line ~ /^\|[- |]*$/) continue
		n = split(line, c, "|")
		name = c[2]; deps = c[3]
		gsub(/[` ]/, "", name)
		if (name == "" || name == "folder") continue
		gsub(/[`,]/, " ", deps); gsub(/—|-/, " ", deps); gsub(/  +/, " ", deps); sub(/^ /, "", deps); sub(/ $/, "", deps)
		allow[name] = deps; nmatrix++
	}
	if (!nmatrix) { print "check-layers: no matrix between the layers markers of " matrix; bad = 2; exit 2 }
	for (f in allow)
		if (visit(f)) { print "check-layers: the matrix of " matrix " has a cycle:" cycle; bad = 1; exit 1 }
	while ((getline line < known) > 0) {
		if (line ~ /^[[:space:]]*(#|$)/) continue
		split(line, w, " ")
		if (w[3] == "") { print "check-layers: " known ": \"" line "\": needs file, included file and the issue it waits for"; bad = 1; continue }
		listed[w[1] " " w[2]] = line
	}
}
{
	# file:line:#include "x"
	file = $0; sub(/:.*/, "", file)
	rest = substr($0, length(file) + 2); lineno = rest; sub(/:.*/, "", lineno)
	inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
	target = normalize(dirname(file) "/" inc)
	from = folder(file); to = folder(target)
	if (from == to || to == "(public)") next
	if (!(from in allow)) { print file ":" lineno ": folder \"" from "\" is not in the matrix of " matrix; bad = 1; next }
	if (to ~ /^\(outside/) { print file ":" lineno ": includes " target ", outside src/ and include/"; bad = 1; next }
	if ((" " allow[from] " ") ~ (" " to " ")) next
	key = file " " target
	if (key in listed) { used[key] = 1; nknown++; next }
	print file ":" lineno ": includes " target ": folder \"" from "\" may include only: " (allow[from] ~ /^ *$/ ? "(nothing)" : allow[from]) " (" matrix ")"
	bad = 1
}
END {
	if (bad == 2) exit 2
	for (k in listed)
		if (!(k in used) && system("test -e " substr(k, 1, index(k, " ") - 1)) == 0)
			print "check-layers: note: " known " lists \"" k "\", which no longer happens: delete the line"
	if (bad) {
		print "check-layers: FAILED (fix the include, or, only while an issue is open, list it in " known ")"
		exit 1
	}
	printf "check-layers: ok (%d known violations listed in %s)\n", nknown, known
}
' <<<"$incs"
