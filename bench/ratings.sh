#!/bin/sh
# bench/ratings.sh BINDIR MODEL MOVIES [POSTS] [WRITERS] - `make
# bench-ratings`: serve on a scratch copy of MODEL (in a temp dir: the
# ratings log it writes is removed), then bench/ratings.py: POST /ratings
# latency (each one fsynced) sequentially and with WRITERS writers, and
# GET /movies search latency.  Figures printed, nothing asserted.
set -eu
bindir=$1 model=$2 movies=$3
d=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; rm -rf "$d"' EXIT INT TERM
cp "$model" "$d/m.bin"
"$bindir"/serve --models "$d" --movies "$movies" --port 0 --quiet 2>"$d/err" &
pid=$!
i=0 port=
while [ $i -lt 100 ] && [ -z "$port" ]; do
	sleep 0.1
	port=$(sed -n 's/^serve: listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$d/err")
	i=$((i + 1))
done
[ -n "$port" ] || { cat "$d/err" >&2; exit 1; }
echo "bench-ratings: $model, log on $(df -T "$d" | awk 'NR == 2 { print $2 }') ($d)"
python3 "$(dirname "$0")/ratings.py" "http://127.0.0.1:$port" "${4:-200}" "${5:-8}"
