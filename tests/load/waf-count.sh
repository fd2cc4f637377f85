#!/usr/bin/env bash
# Instructions per request of the WAF engine, natively, on the cost
# benchmark's requests (a benign 1 KB JSON API request and the same with an
# SQL injection; stock CRS at paranoia level 1): callgrind counts a run of
# 20 and one of 120 requests, and the difference over 100 is the
# per-request count, rule loading excluded. It repeats to a few hundred
# instructions where criterion's medians move by 30% on this machine.
# The `split` row runs the benign request's phases as the plugin's headers
# and body calls do: phase 1, the transaction suspended, then resumed.
#
#   tests/load/waf-count.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
install_missing valgrind:valgrind

cd "$root"
cargo build --release -q -p portcullis-waf-engine --example run_requests
runner="$root/target/release/examples/run_requests"
out="$root/target/load/waf-count-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"

# count KIND N [split]: instructions callgrind counts for N requests of KIND.
count() {
  local name="$1${3:+-$3}-$2"
  valgrind --tool=callgrind --callgrind-out-file="$out/$name.callgrind" "$runner" "$@" \
    > "$out/$name.log" 2>&1
  grep -o 'Collected : [0-9]*' "$out/$name.log" | awk '{print $3}'
}

echo "WAF engine, stock CRS at PL1, instructions per request (callgrind; files in $out)"
for row in benign sqli "benign split"; do
  read -r kind split <<< "$row"
  few=$(count "$kind" 20 $split)
  many=$(count "$kind" 120 $split)
  printf '%-13s %9d\n' "$row" $(( (many - few) / 100 ))
done
