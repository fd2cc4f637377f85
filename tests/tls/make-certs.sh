#!/usr/bin/env bash
# Make a throwaway CA and a server certificate for localhost / 127.0.0.1,
# both ECDSA P-256, for the scripts that grade or load an HTTPS listener.
#
#   tests/tls/make-certs.sh DIR     → DIR/ca.pem, DIR/server.pem, DIR/server.key
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
  -subj "/CN=Portcullis test CA" -keyout ca.key -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
cat > server.ext <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
# Where a client would check revocation (nothing answers there; no check
# here fetches them).
crlDistributionPoints=URI:http://ca.invalid/portcullis-test.crl
authorityInfoAccess=OCSP;URI:http://ocsp.invalid/
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 397 \
  -extfile server.ext -out server.pem 2>/dev/null
