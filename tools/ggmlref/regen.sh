#!/usr/bin/env bash
# Regenerates the ggml fixtures (format/gguf/testdata/ggml, testdata/ggml)
# twice into temporary folders, checks the two runs are byte-identical, then
# copies the first into the repository. Usage, from anywhere:
#   tools/ggmlref/regen.sh /tmp/ggml/package/bins/linux-x64
set -euo pipefail
lib=$(realpath "${1:?usage: regen.sh LIBDIR (the prebuilt llama.cpp, see README.md)}")
cd "$(dirname "$0")/../.."
a=$(mktemp -d)
b=$(mktemp -d)
trap 'rm -rf "$a" "$b"' EXIT
go run ./tools/ggmlref -lib "$lib" -out "$a"
go run ./tools/ggmlref -lib "$lib" -out "$b"
if ! diff -r "$a" "$b" >&2; then
	echo "regen: the two runs differ" >&2
	exit 1
fi
cp -R "$a"/. .
(cd "$a" && find . -type f | LC_ALL=C sort | xargs sha256sum)
echo "regen: two runs identical ($(du -cb "$a"/format/gguf/testdata/ggml "$a"/testdata/ggml | tail -1 | cut -f1) bytes)"
