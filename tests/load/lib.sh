# Shared by the load scripts: install tools, wait for ports, run the static
# nginx upstream, summarise samples. Source it after setting `root`.

# parse_options ARGS: --duration SECONDS, --rounds N, --connections N;
# for bench.sh also --rows NAME,NAME..., --no-latency, --no-memory.
parse_options() {
  duration=10
  rounds=3
  connections=50
  rows_filter=""
  latency_phase=yes
  memory_phase=yes
  while [ $# -gt 0 ]; do
    case "$1" in
      --duration) duration=$2; shift 2 ;;
      --rounds) rounds=$2; shift 2 ;;
      --connections) connections=$2; shift 2 ;;
      --rows) rows_filter=$2; shift 2 ;;
      --no-latency) latency_phase=no; shift ;;
      --no-memory) memory_phase=no; shift ;;
      *) echo "unknown option $1" >&2; exit 2 ;;
    esac
  done
}

out="$root/target/load/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
origin_port=18480
proxy_port=18481
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# install_missing COMMAND:PACKAGE ...
install_missing() {
  local need=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair##*:}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]} from Debian"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
}

# wait_port PORT [SECONDS]: until something listens on PORT (10 s default).
wait_port() {
  for _ in $(seq 1 $(( ${2:-10} * 20 ))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2; return 1
}

# write_nginx_conf DIR HTTP_BLOCK: DIR/nginx.conf for one nginx worker in
# the foreground, no access log, long keep-alive, HTTP_BLOCK inside http {}.
write_nginx_conf() {
  mkdir -p "$1"
  cat > "$1/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log warn;
events { worker_connections ${nginx_worker_connections:-4096}; }
http {
  access_log off;
  keepalive_requests 1000000;
$2
}
CONF
}

# write_nginx_proxy_conf DIR SERVER_LINES: nginx as a reverse proxy to the
# origin, keep-alive upstream; SERVER_LINES open the server block (listen,
# TLS settings).
write_nginx_proxy_conf() {
  write_nginx_conf "$1" "  upstream origin { server 127.0.0.1:$origin_port; keepalive 128; }
  server {
$2
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
    }
  }"
}

# write_modsec_conf DIR: nginx + ModSecurity v3 with the CRS ($crs) at PL1,
# blocking, as its docs set it up.
write_modsec_conf() { # DIR
  mkdir -p "$1"
  cat > "$1/main.conf" <<CONF
SecRuleEngine On
SecRequestBodyAccess On
SecRequestBodyLimit 1048576
SecRequestBodyNoFilesLimit 1048576
SecRequestBodyLimitAction Reject
SecResponseBodyAccess Off
SecAuditEngine Off
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
Include $crs/crs-setup.conf.example
SecAction "id:900000,phase:1,pass,nolog,setvar:tx.blocking_paranoia_level=1"
Include $crs/rules/*.conf
CONF
  write_nginx_proxy_conf "$1" "    listen 127.0.0.1:$proxy_port;
    modsecurity on;
    modsecurity_rules_file $1/main.conf;"
  sed -i "1i load_module /usr/lib/nginx/modules/ngx_http_modsecurity_module.so;" "$1/nginx.conf"
}

# haproxy_conf BIND_OPTIONS SERVER...: HAProxy, one thread, keep-alive
# both ways, on $proxy_port (with BIND_OPTIONS, e.g. TLS), round robin over
# the `host:port` servers.
haproxy_conf() {
  local bind=$1 i=0 server
  shift
  cat <<CONF
global
  nbthread 1
  maxconn 9500
  tune.ssl.default-dh-param 2048
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend proxy
  bind 127.0.0.1:$proxy_port$bind
  default_backend servers
backend servers
  balance roundrobin
CONF
  for server in "$@"; do i=$((i + 1)); echo "  server s$i $server maxconn 1000"; done
}

# The upstream: a static nginx on core 1, shared with the load generator.
start_origin() {
  write_nginx_conf "$out/origin" "  server {
    listen 127.0.0.1:$origin_port;
    location / { return 200 \"hello from the origin\\n\"; }
  }"
  taskset -c 1 "$nginx_bin" -c "$out/origin/nginx.conf" -p "$out/origin" &
  pids+=($!)
  wait_port $origin_port
}

# stop_proxy: stop $proxy_pid and wait until $proxy_port is free again.
stop_proxy() {
  kill "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null || return 0
    sleep 0.05
  done
}

# measure_row MEASURE ROW: fresh bench headers (bench-configs.sh) in
# h2load_headers, then MEASURE NAME COMMAND... with ROW's proxy: nginx, or
# portcullis on ROW's config. Call it in a command substitution.
measure_row() {
  local measure=$1 row=$2
  # Fresh for each row: the tenant signature is good for 300 s.
  headers_file
  mapfile -d '' h2load_headers < <(header_args)
  case $row in
    nginx) "$measure" nginx "$nginx_bin" -c "$out/nginx/nginx.conf" -p "$out/nginx" ;;
    *) "$measure" "$row" "$portcullis" run --workers 1 --config "$out/$row.toml" ;;
  esac
}

# instructions_per_request NAME COMMAND...: run COMMAND (a proxy listening
# on $proxy_port) under callgrind, serve 2,000 and then 6,000 h2load
# requests (with the headers in the array h2load_headers, if set), each
# answered 2xx, and print the difference over 4,000: instructions per
# request, start-up excluded. Every process COMMAND starts is counted.
# Both runs first serve the same 1,000 requests uncompared, so a plugin
# pool grows to the size this load keeps it at before either count: an
# instance made during one count and not the other (a plugin's
# `configure`, e.g. compiling its patterns) is not a per-request cost.
# Call it in a command substitution: it exits on failure.
instructions_per_request() {
  local name=$1 few many
  shift
  # One uncounted start under valgrind first, so both counted runs find
  # compiled plugins in the cache and start alike: compiled code is cached
  # per CPU feature set, and valgrind's CPU is not the machine's.
  valgrind --tool=none --trace-children=yes "$@" > "$out/$name.warm-up.log" 2>&1 &
  proxy_pid=$!
  pids+=($proxy_pid)
  wait_port $proxy_port 600
  stop_proxy
  few=$(callgrind_total "$name" 2000 "$@") || exit 1
  many=$(callgrind_total "$name" 6000 "$@") || exit 1
  echo $(( (many - few) / 4000 ))
}

callgrind_total() { # NAME REQUESTS COMMAND...
  local name=$1 requests=$2 prefix="$out/callgrind.$1.$2"
  shift 2
  RUST_LOG=warn taskset -c 0 valgrind --tool=callgrind --trace-children=yes \
    --callgrind-out-file="$prefix.%p" "$@" > "$out/$name.$requests.log" 2>&1 &
  proxy_pid=$!
  pids+=($proxy_pid)
  # Start-up under valgrind takes a while.
  wait_port $proxy_port 600
  taskset -c 1 h2load --h1 -n 1000 -c 10 ${h2load_headers[@]+"${h2load_headers[@]}"} "http://127.0.0.1:$proxy_port/" \
    > "$out/$name.$requests.pool-warm-up.txt"
  taskset -c 1 h2load --h1 -n "$requests" -c 10 ${h2load_headers[@]+"${h2load_headers[@]}"} "http://127.0.0.1:$proxy_port/" \
    > "$out/$name.$requests.h2load.txt"
  grep -q "$requests succeeded, 0 failed, 0 errored" "$out/$name.$requests.h2load.txt" \
    && grep -q "status codes: $requests 2xx" "$out/$name.$requests.h2load.txt" \
    || { echo "$name did not answer 2xx to every request:" >&2; cat "$out/$name.$requests.h2load.txt" >&2; exit 1; }
  kill -INT "$proxy_pid"
  wait "$proxy_pid" || true
  # An nginx worker's profile is written as it exits, after its master's.
  sleep 1
  cat "$prefix".* | awk '/^totals:/ { total += $2 } END { printf "%.0f\n", total }'
}

# wrk's latency report prints e.g. "99%    1.23ms"; convert to microseconds.
to_us() {
  awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); print v } else if (v ~ /ms$/) { sub(/ms$/,"",v); print v*1000 } else if (v ~ /s$/) { sub(/s$/,"",v); print v*1000000 } }'
}

median() { sort -n | awk '{ a[NR]=$1 } END { if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

# column_of SAMPLES NAME COLUMN: the values of one column for one name.
column_of() { awk -v p="$2" -v c="$3" '$1 == p { print $c }' "$1"; }

range_of() { column_of "$@" | sort -n | awk 'NR==1 { lo=$1 } { hi=$1 } END { printf "%.0f-%.0f", lo, hi }'; }

machine_line() {
  echo "machine: $(nproc) cores, $(awk '/model name/ { $1=$2=$3=""; print; exit }' /proc/cpuinfo | sed 's/^ *//'), kernel $(uname -r)"
}

# build_portcullis [--noop]: build the release gateway ($portcullis) and,
# with --noop, the trivial plugin the scripts chain ($noop). With
# PORTCULLIS_BIN set, that binary is measured instead.
build_portcullis() {
  if [ -n "${PORTCULLIS_BIN:-}" ]; then
    portcullis=$PORTCULLIS_BIN
  else
    echo "building portcullis (release)"
    (cd "$root" && cargo build --release -q -p portcullis-host)
    portcullis="$root/target/release/portcullis"
  fi
  if [ "${1:-}" = --noop ]; then
    (cd "$root" && cargo build -q --profile plugin --target wasm32-wasip2 \
      -p portcullis-fixture-noop --target-dir target/wasm)
    noop="$root/target/wasm/wasm32-wasip2/plugin/portcullis_fixture_noop.wasm"
  fi
}

# noop_config N [SERVER_LINES] [RUNTIME_LINES] [MORE_TOML]: portcullis on
# $proxy_port with one route to the origin through N noop plugins; the
# lines are added to [server] and [runtime], MORE_TOML after them.
noop_config() {
  local plugins=""
  for _ in $(seq 1 "$1"); do plugins+='{ name = "noop" }, '; done
  cat <<CONF
[server]
listen = "127.0.0.1:$proxy_port"
${2:-}

[runtime]
cache_dir = "$root/target/plugin-cache"
${3:-}

${4:-}

[plugins.noop]
path = "$noop"

[[routes]]
id = "origin"
path = { prefix = "/" }
upstream = { targets = ["127.0.0.1:$origin_port"] }
plugins = [${plugins%, }]
CONF
}
