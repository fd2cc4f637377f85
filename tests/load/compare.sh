#!/usr/bin/env bash
# Throughput and latency of portcullis against nginx, side by side, on the
# same upstream. Each proxy runs one worker pinned to core 0; wrk and the
# upstream (a static nginx) share core 1. Runs alternate A/B/A/B for
# several rounds; the medians and the ratios to nginx are printed.
#
#   tests/load/compare.sh [--duration SECONDS] [--rounds N] [--connections N]
#
# Raw wrk output and the configs used are kept in target/load/<timestamp>/.
set -euo pipefail

duration=10
rounds=3
connections=50
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/target/load/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

echo "building portcullis (release) and the noop plugin"
(cd "$root" && cargo build --release -q -p portcullis-host \
  && cargo build -q --profile plugin --target wasm32-wasip2 -p portcullis-fixture-noop --target-dir target/wasm)
portcullis="$root/target/release/portcullis"
noop="$root/target/wasm/wasm32-wasip2/plugin/portcullis_fixture_noop.wasm"

origin_port=18480
proxy_port=18481
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2; return 1
}

# The upstream: a static nginx on core 1.
mkdir -p "$out/origin"
cat > "$out/origin/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $out/origin/nginx.pid;
error_log $out/origin/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$origin_port;
    location / { return 200 "hello from the origin\n"; }
  }
}
CONF
taskset -c 1 "$nginx_bin" -c "$out/origin/nginx.conf" -p "$out/origin" &
pids+=($!)
wait_port $origin_port

# nginx as a reverse proxy, one worker, keep-alive to the upstream.
mkdir -p "$out/nginx"
cat > "$out/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $out/nginx/nginx.pid;
error_log $out/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream origin { server 127.0.0.1:$origin_port; keepalive 128; }
  server {
    listen 127.0.0.1:$proxy_port;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF

portcullis_config() { # $1 = number of noop plugins
  local plugins=""
  for _ in $(seq 1 "$1"); do plugins+='{ name = "noop" }, '; done
  cat <<CONF
[server]
listen = "127.0.0.1:$proxy_port"

[runtime]
cache_dir = "$root/target/plugin-cache"

[plugins.noop]
path = "$noop"

[[routes]]
id = "origin"
path = { prefix = "/" }
upstream = { targets = ["127.0.0.1:$origin_port"] }
plugins = [${plugins%, }]
CONF
}
portcullis_config 0 > "$out/portcullis-0.toml"
portcullis_config 3 > "$out/portcullis-3.toml"

start_proxy() { # $1 = nginx | portcullis-0 | portcullis-3
  case "$1" in
    nginx) taskset -c 0 "$nginx_bin" -c "$out/nginx/nginx.conf" -p "$out/nginx" & ;;
    portcullis-*) RUST_LOG=warn taskset -c 0 "$portcullis" run --workers 1 --config "$out/$1.toml" >"$out/$1.log" 2>&1 & ;;
  esac
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_port $proxy_port
}

stop_proxy() {
  kill "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  # Wait until the port is free for the next proxy.
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null || return 0
    sleep 0.05
  done
}

# wrk's latency report prints e.g. "99%    1.23ms"; convert to microseconds.
to_us() {
  awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v*1000 } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000000 } }'
}

run_one() { # $1 = proxy name, $2 = round
  start_proxy "$1"
  # A short warm-up fills connection pools and plugin instance pools.
  taskset -c 1 wrk -t1 -c"$connections" -d2s "http://127.0.0.1:$proxy_port/" >/dev/null
  taskset -c 1 wrk -t1 -c"$connections" -d"${duration}s" --latency "http://127.0.0.1:$proxy_port/" > "$out/$1-round$2.txt"
  stop_proxy
  local rps p99
  rps=$(awk '/Requests\/sec/ { print $2 }' "$out/$1-round$2.txt")
  p99=$(awk '$1 == "99%" { print $2 }' "$out/$1-round$2.txt" | to_us)
  echo "$1 $2 $rps $p99" >> "$out/samples.txt"
  printf '  %-14s round %s: %10.0f req/s  p99 %8.0f us\n' "$1" "$2" "$rps" "$p99"
}

echo "machine: $(nproc) cores, $(awk '/model name/ { $1=$2=$3=""; print; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r)"
echo "load: wrk -t1 -c$connections -d${duration}s, $rounds rounds, proxies alternated"
: > "$out/samples.txt"
for round in $(seq 1 "$rounds"); do
  for proxy in nginx portcullis-0 portcullis-3; do
    run_one "$proxy" "$round"
  done
done

median() { sort -n | awk '{ a[NR]=$1 } END { if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
summary() { # $1 = proxy, $2 = column (3 rps, 4 p99)
  awk -v p="$1" -v c="$2" '$1 == p { print $c }' "$out/samples.txt" | median
}
range() {
  awk -v p="$1" -v c="$2" '$1 == p { print $c }' "$out/samples.txt" | sort -n | awk 'NR==1 { lo=$1 } { hi=$1 } END { printf "%.0f-%.0f", lo, hi }'
}

nginx_rps=$(summary nginx 3)
nginx_p99=$(summary nginx 4)
{
  echo
  echo "| proxy | req/s (median) | min-max | p99 us (median) | throughput vs nginx | p99 vs nginx |"
  echo "|---|---|---|---|---|---|"
  for proxy in nginx portcullis-0 portcullis-3; do
    rps=$(summary "$proxy" 3)
    p99=$(summary "$proxy" 4)
    awk -v name="$proxy" -v rps="$rps" -v p99="$p99" -v nr="$nginx_rps" -v np="$nginx_p99" -v rr="$(range "$proxy" 3)" \
      'BEGIN { printf "| %s | %.0f | %s | %.0f | %.2fx | %.2fx |\n", name, rps, rr, p99, rps/nr, p99/np }'
  done
  echo
  echo "portcullis-0: no plugins; portcullis-3: three trivial Wasm plugins (noop fixture)."
} | tee "$out/results.md"
echo "raw output: $out"
