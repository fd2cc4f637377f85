# The configurations bench.sh (and count.sh, cpu.sh) run: nginx, nginx +
# ModSecurity, HAProxy and one portcullis config per row, and the request
# headers every proxy gets. Source it once $out, $root and $crs are set;
# write_configs needs $proxy_port, $origin_port and prepare_rows run
# first; $runtime_lines, if set, goes into every portcullis [runtime].

# A public address DB-IP places in Germany, sent as X-Forwarded-For from a
# trusted proxy (the load generator), so geo makes a real lookup.
eu_client="85.214.132.117"
tenant_secret="load-test-tenant-secret-of-at-least-32-bytes"
jwt_secret="load-test-secret-of-at-least-32-bytes"

# The headers every proxy gets. The tenant signature is made fresh for
# each run: the authorizer refuses timestamps older than 300 s.
headers_file() {
  local ts signature
  ts=$(date +%s)
  signature=$(printf 'GET\n/\n%s\nacme' "$ts" | openssl dgst -sha256 -hmac "$tenant_secret" -r | cut -d' ' -f1)
  printf '%s\n' "Authorization: $authorization" "x-api-key: $api_key" "X-Forwarded-For: $eu_client" \
    "x-tenant: acme" "x-timestamp: $ts" "x-signature: $signature" > "$out/headers.txt"
}
header_args() { while IFS= read -r line; do printf '%s\0%s\0' -H "$line"; done < "$out/headers.txt"; }

# prepare_rows: what the rows need besides their configs: DB-IP's country
# database (geo), the server certificates in $out/certs (TLS rows) and the
# admin API's port (api-key). Sets admin_port.
prepare_rows() {
  "$root/tests/geo/fetch-dbip.sh" "$root/target/geo-db" >/dev/null
  "$root/tests/tls/make-certs.sh" "$out/certs" >/dev/null
  admin_port=18482
}

write_configs() {
  nginx_worker_connections=12000
  write_nginx_proxy_conf "$out/nginx" "    listen 127.0.0.1:$proxy_port;"
  write_nginx_proxy_conf "$out/nginx-tls" "    listen 127.0.0.1:$proxy_port ssl http2;
    ssl_certificate $out/certs/server.pem;
    ssl_certificate_key $out/certs/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    http2_max_concurrent_streams 100;"
  write_modsec_conf "$out/modsec"
  haproxy_conf "" "127.0.0.1:$origin_port" > "$out/haproxy.cfg"
  haproxy_conf " ssl crt $out/certs/haproxy.pem alpn h2,http/1.1" "127.0.0.1:$origin_port" > "$out/haproxy-tls.cfg"
  make_jwt

  portcullis_config "" "" "" > "$out/plain.toml"
  portcullis_config "$tls_lines" "" "" > "$out/plain-tls.toml"
  one_plugin ip-filter 'builtin = "ip-filter"' \
    'settings = { allow = ["127.0.0.0/8", "10.0.0.0/8", "85.0.0.0/8"], rules = [{ methods = ["DELETE"], path_prefix = "/admin", action = "deny" }] }' \
    > "$out/ip-filter.toml"
  one_plugin headers 'builtin = "headers"' \
    "settings.request = { set = { \"x-gateway\" = \"portcullis\" } }
settings.response = { remove = [\"server\"], set = { \"strict-transport-security\" = \"max-age=63072000; includeSubDomains\", \"x-content-type-options\" = \"nosniff\", \"referrer-policy\" = \"no-referrer\" } }" \
    > "$out/headers.toml"
  one_plugin jwt "$jwt_plugin" "" > "$out/jwt.toml"
  one_plugin rbac "$rbac_plugin" "" > "$out/rbac.toml"
  one_plugin geo 'builtin = "geo"' 'settings = { allow = ["EEA", "CH", "GB"], unknown = "deny" }' "$geo_lines" > "$out/geo.toml"
  one_plugin mask 'builtin = "mask"
body_budget = 1048576' 'settings = { fields = ["$.user.ssn"] }' > "$out/mask.toml"
  one_plugin waf "$waf_plugin" 'settings = { rules_dir = "/crs", paranoia_level = 1 }' > "$out/waf.toml"
  portcullis_config "" "$chain_lines" "$(route_with rate_limits = '["per-client"]' plugins = '[{ name = "jwt" }, { name = "rbac" }, { name = "geo", settings = { allow = ["EEA"] } }]')" \
    > "$out/chain.toml"
  portcullis_config "$tls_lines" "$chain_lines" "$(route_with rate_limits = '["per-client"]' plugins = '[{ name = "jwt" }, { name = "rbac" }, { name = "geo", settings = { allow = ["EEA"] } }]')" \
    > "$out/chain-tls.toml"
  portcullis_config "" "$chain_lines
[plugins.waf]
$waf_plugin" "$(route_with rate_limits = '["per-client"]' plugins = '[{ name = "jwt" }, { name = "rbac" }, { name = "geo", settings = { allow = ["EEA"] } }, { name = "waf", settings = { rules_dir = "/crs", paranoia_level = 1 } }]')" \
    > "$out/chain-waf.toml"
  for language in js python; do
    authorizer_config "$language" 60 > "$out/$language-authorizer.toml"
    authorizer_config "$language" 0 > "$out/$language-authorizer-uncached.toml"
  done
  make_api_key
  one_plugin api-key "$api_key_plugin" "" "$api_key_lines" > "$out/api-key.toml"
  all_plugins_config > "$out/all-plugins.toml"
}

tls_lines="[server.tls]
[[server.tls.certificates]]
cert = \"$out/certs/server.pem\"
key = \"$out/certs/server.key\"
server_names = [\"localhost\"]"

# portcullis_config SERVER_TLS MORE_TOML ROUTES: one worker's config; the
# default route goes straight to the origin.
portcullis_config() {
  cat <<CONF
[server]
listen = "127.0.0.1:$proxy_port"
max_connections = 20000
max_connections_per_ip = 0
trusted_proxies = ["127.0.0.1/32"]

$1

[runtime]
cache_dir = "$root/target/plugin-cache"
${runtime_lines:-}

[logging]
access = "off"        # as nginx's access_log off: the 4.7% of issue 9 not counted here

$2

${3:-$(route_with)}
CONF
}

# route_with KEY = VALUE ...: the route to the origin with more keys.
route_with() {
  echo '[[routes]]'
  echo 'id = "origin"'
  echo 'path = { prefix = "/" }'
  echo "upstream = { targets = [\"127.0.0.1:$origin_port\"] }"
  while [ $# -ge 3 ]; do echo "$1 $2 $3"; shift 3; done
}

# one_plugin NAME DEFINITION ROUTE_SETTINGS [MORE_TOML]: the origin route
# through one plugin.
one_plugin() {
  portcullis_config "" "${4:-}
[plugins.$1]
$2" "$(route_with)
[[routes.plugins]]
name = \"$1\"
$3"
}

make_jwt() {
  b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
  local header claims signature
  header=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  claims=$(printf '{"iss":"https://idp.load","sub":"load","scope":"load:read","exp":%s}' $(( $(date +%s) + 86400 )) | b64url)
  signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha256 -hmac "$jwt_secret" -binary | b64url)
  authorization="Bearer $header.$claims.$signature"
}

jwt_plugin="builtin = \"jwt\"
role = \"authentication\"
settings = { issuers = [{ issuer = \"https://idp.load\", algorithms = [\"HS256\"], secret = \"$jwt_secret\" }] }"

rbac_plugin='builtin = "rbac"
settings = { rules = [{ methods = ["GET"], paths = ["/**"] }, { effect = "deny", methods = ["DELETE"], paths = ["/admin/**"] }] }'

# One core: more WAF instances than calls in flight only add CRS compiles.
waf_plugin="builtin = \"waf\"
memory_limit_mib = 256
timeout_ms = 500
mounts = { crs = \"$crs\" }
pool = { max = 2, prewarm = 2, max_uses = 100000000, acquire_timeout_ms = 5000 }"

geo_lines="[geo]
database = \"$root/target/geo-db/dbip-country.mmdb\""

chain_lines="[rate_limits.per-client]
key = \"ip\"
requests = 10000000
per_seconds = 1

$geo_lines

[plugins.jwt]
$jwt_plugin

[plugins.rbac]
builtin = \"rbac\"
settings = { rules = [{ methods = [\"GET\"], paths = [\"/**\"], scopes = [\"load:read\"] }] }

[plugins.geo]
builtin = \"geo\""

authorizer_config() { # LANGUAGE TTL_S
  portcullis_config "" "[plugins.tenant]
path = \"$out/$1-authorizer.wasm\"
role = \"authorizer\"
timeout_ms = 500        # a JavaScript call takes about 1 ms, and queues under load
settings = { secret = \"$tenant_secret\" }
[plugins.tenant.authorizer]
type = \"request\"
identity_sources = [\"header:x-tenant\", \"header:x-timestamp\", \"header:x-signature\"]
ttl_s = $2
context_headers = { tenant = \"x-tenant-verified\" }" "$(route_with plugins = '[{ name = "tenant" }]')"
}

api_key_plugin='builtin = "api-key"
role = "authentication"
settings = { from = "header", name = "x-api-key" }'

# make_api_key: a key store with one key (sets $api_key and the config
# lines that use it), made through a running gateway's admin API.
make_api_key() {
  local made token digest
  made=$("$portcullis" admin-token)
  token=$(sed -n 's/^token .*: //p' <<<"$made")
  digest=$(sed -n 's/.*token_sha256 = "\(.*\)"/\1/p' <<<"$made")
  api_key_lines="[admin]
listen = \"127.0.0.1:$admin_port\"
token_sha256 = \"$digest\"

[api_keys]
store = \"$out/keys.redb\""
  one_plugin api-key "$api_key_plugin" "" "$api_key_lines" > "$out/api-key.toml"
  "$portcullis" run --config "$out/api-key.toml" > "$out/api-key-setup.log" 2>&1 &
  local setup=$!
  wait_port $admin_port
  api_key=$(curl -sf -X POST -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"consumer":"load"}' "http://127.0.0.1:$admin_port/keys" | python3 -c 'import json, sys; print(json.load(sys.stdin)["key"])')
  kill $setup; wait $setup 2>/dev/null || true
}

# Every built-in plugin loaded, each on a route of its own; "/" stays
# plain so the idle clients of the memory phase are answered 200.
all_plugins_config() {
  local routes
  routes="$(route_with)"
  for plugin in ip-filter headers jwt api-key rbac geo mask waf cors csrf validate; do
    routes+="
[[routes]]
id = \"$plugin\"
path = { prefix = \"/$plugin/\" }
upstream = { targets = [\"127.0.0.1:$origin_port\"] }
[[routes.plugins]]
name = \"$plugin\"
$(case $plugin in
    waf) echo 'settings = { rules_dir = "/crs", paranoia_level = 1 }' ;;
    geo) echo 'settings = { allow = ["EEA"] }' ;;
    cors) echo 'settings = { allow_origins = ["https://app.example.com"] }' ;;
    validate) echo 'settings = { openapi_file = "/api/petstore.json" }' ;;
  esac)"
  done
  portcullis_config "" "$chain_lines
$api_key_lines

[plugins.ip-filter]
builtin = \"ip-filter\"
settings = { allow = [\"127.0.0.0/8\"] }

[plugins.headers]
builtin = \"headers\"

[plugins.api-key]
$api_key_plugin

[plugins.mask]
builtin = \"mask\"
body_budget = 1048576

[plugins.waf]
$waf_plugin

[plugins.cors]
builtin = \"cors\"

[plugins.csrf]
builtin = \"csrf\"

[plugins.validate]
builtin = \"validate\"
mounts = { api = \"$root/examples/validate\" }
body_budget = 1048576" "$routes"
}
