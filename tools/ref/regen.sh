#!/usr/bin/env bash
# Regenerates every fixture under testdata/ref twice and checks that the two
# runs give byte-identical files (sha256). Run from anywhere; needs Debian's
# python3-torch and python3-numpy for /usr/bin/python3, and ../shared.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=/usr/bin/python3
sums() { find testdata/ref -type f | LC_ALL=C sort | xargs sha256sum; }
$py tools/ref/gen_models.py
$py tools/ref/gen_lora.py
$py tools/ref/gen_merge.py
$py tools/ref/gen_train.py
first=$(sums)
$py tools/ref/gen_models.py >/dev/null
$py tools/ref/gen_lora.py >/dev/null
$py tools/ref/gen_merge.py >/dev/null
$py tools/ref/gen_train.py >/dev/null
second=$(sums)
if [ "$first" != "$second" ]; then
	diff <(echo "$first") <(echo "$second") >&2 || true
	echo "regen: the two runs differ" >&2
	exit 1
fi
echo "regen: two runs identical ($(echo "$first" | wc -l) files, $(du -sb testdata/ref | cut -f1) bytes)"
