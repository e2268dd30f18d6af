#!/usr/bin/env bash
# fuzz.sh [SECONDS]: runs every fuzz target of the module for a few
# seconds each (default 3), after its seed corpus (which go test runs
# too). A failure leaves its input in the package's testdata/fuzz.
set -euo pipefail
cd "$(dirname "$0")/.."
T="${1:-3}"
git ls-files '*_test.go' | xargs grep -l '^func Fuzz' | sort | while read -r f; do
	pkg="./$(dirname "${f#./}")"
	for name in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		echo "fuzz $pkg $name (${T}s)"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "${T}s" "$pkg" > /tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; rm -f /tmp/fuzz.$$.log; exit 1; }
	done
done
rm -f /tmp/fuzz.$$.log
