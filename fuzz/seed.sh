#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the shared fixtures at run time (the corpus
# folder is git-ignored: fixture copies are never committed).
#
#   fuzz/seed.sh [fixtures dir]    # default: $VELOZ_FIXTURES or ../shared/fixtures
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
fixtures="${1:-${VELOZ_FIXTURES:-$here/../../shared/fixtures}}"
nautilus="$fixtures/binance/nautilus"
captures="$fixtures/binance/hftbacktest"
[ -d "$nautilus" ] && [ -d "$captures" ] || {
    echo "fixtures not found under $fixtures: pass the folder or set VELOZ_FIXTURES" >&2
    exit 1
}
for t in stream_frame user_data rest_response; do mkdir -p "$here/corpus/$t"; done

# JSON fixtures: market data and user data for the stream targets, REST bodies
# for rest_response.
find "$nautilus" -name '*.json' | while read -r f; do
    name="$(basename "$(dirname "$f")")_$(basename "$f")"
    case "$f" in
        */http_json/* | */http_responses/*) cp "$f" "$here/corpus/rest_response/$name" ;;
        *) cp "$f" "$here/corpus/stream_frame/$name"; cp "$f" "$here/corpus/user_data/$name" ;;
    esac
done

# Real capture lines: the first 300 of each capture (includes the snapshot,
# which also seeds rest_response) and every 500th line after that.
for f in "$captures"/*.gz; do
    base="$(basename "$f" .gz)"
    gzip -dc "$f" | awk -v dir="$here/corpus" -v base="$base" '
        NR <= 300 || NR % 500 == 0 {
            sub(/^[0-9]+ /, "")
            out = dir "/stream_frame/" base "_" NR
            printf "%s", $0 > out; close(out)
            if ($0 !~ /"stream"/) { out = dir "/rest_response/" base "_" NR; printf "%s", $0 > out; close(out) }
        }'
done
for t in stream_frame user_data rest_response; do
    echo "$t: $(ls "$here/corpus/$t" | wc -l) seeds"
done
