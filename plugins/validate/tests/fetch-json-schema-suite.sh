#!/usr/bin/env bash
# Fetch the official JSON-Schema-Test-Suite as shipped in the source package
# of the Python `jsonschema` project on PyPI (its json/ directory), into $1.
# Usage: fetch-json-schema-suite.sh DEST
set -euo pipefail
dest=$1
version=4.25.1
if [ -d "$dest/tests/draft2020-12" ]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# PyPI's simple index (JSON form, PEP 691) names the source archive;
# Python's standard library fetches it, so neither pip nor curl is needed.
python3 - "$version" "$work/jsonschema-$version.tar.gz" <<'PY'
import json, sys, urllib.request
version, target = sys.argv[1], sys.argv[2]
index = urllib.request.Request(
    "https://pypi.org/simple/jsonschema/",
    headers={"Accept": "application/vnd.pypi.simple.v1+json"},
)
with urllib.request.urlopen(index, timeout=60) as reply:
    files = json.load(reply)["files"]
sdist = next(f for f in files if f["filename"] == f"jsonschema-{version}.tar.gz")
with urllib.request.urlopen(sdist["url"], timeout=120) as reply, open(target, "wb") as out:
    out.write(reply.read())
PY
tar -xzf "$work/jsonschema-$version.tar.gz" -C "$work" "jsonschema-$version/json"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/jsonschema-$version/json" "$dest"
