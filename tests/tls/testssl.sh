#!/usr/bin/env bash
# An outside grade of the HTTPS listener: installs Debian's testssl.sh,
# starts a gateway with a freshly made certificate and the recommended
# security headers, runs testssl.sh against
# it with the test CA trusted, and fails on any finding worse than LOW.
# Takes a few minutes, so it is not part of `cargo test`.
#
#   tests/tls/testssl.sh
#
# The full JSON report is kept in target/testssl/<timestamp>/.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/target/testssl/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"

if ! command -v testssl >/dev/null; then
  echo "installing testssl.sh from Debian"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq testssl.sh >/dev/null
fi

echo "building portcullis"
(cd "$root" && cargo build -q -p portcullis-host)
"$root/tests/tls/make-certs.sh" "$out/certs"

cat > "$out/gateway.toml" <<CONF
[server]
listen = "127.0.0.1:0"

[server.tls]
[[server.tls.certificates]]
cert = "certs/server.pem"
key = "certs/server.key"
server_names = ["localhost"]

# The response headers examples/quickstart.toml recommends.
[plugins.security-headers]
builtin = "headers"
settings.response = { remove = ["server"], set = { "x-content-type-options" = "nosniff", "x-frame-options" = "DENY", "referrer-policy" = "no-referrer", "content-security-policy" = "default-src 'none'; frame-ancestors 'none'" } }

[[routes]]
id = "demo"
path = { prefix = "/" }
upstream = { builtin = "echo" }
plugins = [{ name = "security-headers" }]
CONF

"$root/target/debug/portcullis" run --log-format json --config "$out/gateway.toml" >"$out/gateway.log" 2>&1 &
gateway=$!
trap 'kill $gateway 2>/dev/null || true' EXIT
addr=""
for _ in $(seq 1 200); do
  addr=$(grep -o '"addr":"[^"]*"' "$out/gateway.log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break
  sleep 0.05
done
[ -n "$addr" ] || { echo "the gateway did not start:"; cat "$out/gateway.log"; exit 1; }
port=${addr##*:}
echo "grading https://localhost:$port"

# --ip one: localhost resolves to 127.0.0.1 only here; --warnings batch: no
# prompts. testssl's exit code counts findings of every kind, so the JSON
# decides.
testssl --quiet --warnings batch --color 0 --ip 127.0.0.1 --add-ca "$out/certs/ca.pem" \
  --jsonfile "$out/report.json" "https://localhost:$port" > "$out/report.txt" 2>&1 || true

[ -s "$out/report.json" ] || { echo "testssl.sh wrote no report:"; tail -20 "$out/report.txt"; exit 1; }
jq -r '.[] | select(.severity == "MEDIUM" or .severity == "HIGH" or .severity == "CRITICAL")
  | "\(.severity)\t\(.id)\t\(.finding)"' "$out/report.json" > "$out/findings.txt"
jq -r '[.[] | .severity] | group_by(.) | map("\(.[0]): \(length)") | join(", ")' "$out/report.json"
if [ -s "$out/findings.txt" ]; then
  echo "findings worse than LOW:"
  cat "$out/findings.txt"
  echo "report: $out/report.txt"
  exit 1
fi
echo "no finding worse than LOW (report: $out/report.txt)"
