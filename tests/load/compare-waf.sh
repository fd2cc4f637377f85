#!/usr/bin/env bash
# The WAF's cost under load: portcullis with the `waf` plugin against nginx
# with ModSecurity v3 (Debian's libnginx-mod-http-modsecurity), both loaded
# with the same OWASP CRS v4.28.0 (../shared/corpora) at paranoia level 1 in
# blocking mode, in front of the same upstream, on the same requests: a
# benign 1 KB JSON POST (the one the criterion benches use) and an SQL
# injection that both refuse with 403. Plain nginx is the reference row.
# Each proxy runs one worker pinned to core 0; wrk and the upstream share
# core 1; runs alternate over several rounds; medians and ratios printed.
#
#   tests/load/compare-waf.sh [--duration SECONDS] [--rounds N] [--connections N]
#
# Raw wrk output and the configs used are kept in target/load/<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/load/lib.sh
source "$root/tests/load/lib.sh"
parse_options "$@"
install_missing nginx:nginx wrk:wrk
[ -f /usr/lib/nginx/modules/ngx_http_modsecurity_module.so ] \
  || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-http-modsecurity >/dev/null; }
crs="$root/../shared/corpora/owasp-crs-v4.28.0"
[ -d "$crs/rules" ] || { echo "the CRS corpus is missing: $crs" >&2; exit 1; }

build_portcullis

start_origin

# nginx alone, and nginx + ModSecurity with the CRS as its docs set it up.
write_nginx_proxy_conf "$out/nginx" "    listen 127.0.0.1:$proxy_port;"
write_modsec_conf "$out/modsec"

cat > "$out/portcullis-waf.toml" <<CONF
[server]
listen = "127.0.0.1:$proxy_port"

[plugins.waf]
builtin = "waf"
memory_limit_mib = 256
timeout_ms = 500
mounts = { crs = "$crs" }
# One core: more instances than calls in flight only add CRS compiles.
pool = { max = 2, prewarm = 2, max_uses = 100000000, acquire_timeout_ms = 5000 }

[[routes]]
id = "origin"
path = { prefix = "/" }
upstream = { targets = ["127.0.0.1:$origin_port"] }
plugins = [{ name = "waf", settings = { rules_dir = "/crs", paranoia_level = 1 } }]
CONF

# The requests: the benches' benign JSON POST, and an injection.
body=$(sed -n 's/^pub const BENIGN_BODY: &str = r#"\(.*\)"#;$/\1/p' "$root/plugins/waf/engine/tests/crs/requests.rs")
[ -n "$body" ] || { echo "cannot read the benign body" >&2; exit 1; }
cat > "$out/benign.lua" <<LUA
wrk.method = "POST"
wrk.path = "/api/v1/orders?page=2&sort=created_at&order=desc"
wrk.headers["Host"] = "api.example.com"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
wrk.headers["Accept"] = "application/json, text/plain, */*"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.7"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "https://shop.example.com"
wrk.headers["Referer"] = "https://shop.example.com/checkout?step=2"
wrk.headers["Cookie"] = "session=9f8e7d6c5b4a39281706f5e4d3c2b1a0; theme=dark"
wrk.body = [==[$body]==]
LUA
cat > "$out/attack.lua" <<'LUA'
wrk.method = "GET"
wrk.path = "/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--"
wrk.headers["Host"] = "api.example.com"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
wrk.headers["Accept"] = "application/json"
LUA

start_proxy() { # $1 = nginx | modsec | portcullis-waf
  case "$1" in
    nginx|modsec) taskset -c 0 "$nginx_bin" -c "$out/$1/nginx.conf" -p "$out/$1" & ;;
    portcullis-waf) RUST_LOG=error taskset -c 0 "$portcullis" run --workers 1 --config "$out/$1.toml" >"$out/$1.log" 2>&1 & ;;
  esac
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_port $proxy_port
}

status_of() { # $1 = proxy, $2 = request: the status one request gets
  curl -s -o /dev/null -w '%{http_code}' -X "$([ "$2" = benign ] && echo POST || echo GET)" \
    -H 'Content-Type: application/json' --data-binary "$([ "$2" = benign ] && echo "$body" || true)" \
    "http://127.0.0.1:$proxy_port$([ "$2" = benign ] && echo /api/v1/orders || echo '/search?q=1%27%20UNION%20SELECT%20password%20FROM%20users--')"
}

run_one() { # $1 = proxy, $2 = request (benign | attack), $3 = round
  start_proxy "$1"
  local expect=200
  [ "$2" = attack ] && [ "$1" != nginx ] && expect=403
  local got
  got=$(status_of "$1" "$2")
  [ "$got" = "$expect" ] || { echo "$1 answered $got to the $2 request, not $expect"; exit 1; }
  taskset -c 1 wrk -t1 -c"$connections" -d2s -s "$out/$2.lua" "http://127.0.0.1:$proxy_port" >/dev/null
  taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --latency -s "$out/$2.lua" \
    "http://127.0.0.1:$proxy_port" > "$out/$1-$2-round$3.txt"
  grep -q "Requests/sec" "$out/$1-$2-round$3.txt" || { echo "$1 failed:"; cat "$out/$1-$2-round$3.txt"; exit 1; }
  stop_proxy
  local rps p99
  rps=$(awk '/Requests\/sec/ { print $2 }' "$out/$1-$2-round$3.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$out/$1-$2-round$3.txt" | to_us)
  echo "$1-$2 $3 $rps $p99" >> "$out/samples.txt"
  printf '  %-22s round %s: %10.0f req/s  p99 %8.0f us\n' "$1-$2" "$3" "$rps" "$p99"
}

machine_line
echo "load: wrk -t1 -c$connections -d${duration}s, $rounds rounds, proxies alternated; CRS v4.28.0 PL1, blocking"
: > "$out/samples.txt"
for round in $(seq 1 "$rounds"); do
  for request in benign attack; do
    for proxy in nginx modsec portcullis-waf; do
      run_one "$proxy" "$request" "$round"
    done
  done
done

summary() { column_of "$out/samples.txt" "$1" "$2" | median; }
{
  echo
  echo "| request | proxy | req/s (median) | min-max | p99 us (median) | vs nginx+ModSecurity (req/s) | p99 vs nginx+ModSecurity |"
  echo "|---|---|---|---|---|---|---|"
  for request in benign attack; do
    ref_rps=$(summary "modsec-$request" 3)
    ref_p99=$(summary "modsec-$request" 4)
    for proxy in nginx modsec portcullis-waf; do
      rps=$(summary "$proxy-$request" 3)
      p99=$(summary "$proxy-$request" 4)
      awk -v req="$request" -v name="$proxy" -v rps="$rps" -v p99="$p99" -v nr="$ref_rps" -v np="$ref_p99" \
        -v rr="$(range_of "$out/samples.txt" "$proxy-$request" 3)" \
        'BEGIN { printf "| %s | %s | %.0f | %s | %.0f | %.2fx | %.2fx |\n", req, name, rps, rr, p99, rps/nr, p99/np }'
    done
  done
  echo
  echo "nginx: proxy_pass alone (the attack passes); modsec: nginx + ModSecurity v3 + CRS;"
  echo "portcullis-waf: the waf plugin + CRS. benign: 1 KB JSON POST; attack: SQL injection in the query (403)."
} | tee "$out/results.md"
echo "raw output: $out"
