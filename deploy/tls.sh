#!/usr/bin/env bash
# A throw-away CA and one server certificate signed by it, made with openssl.
#
#   deploy/tls.sh DIR [HOST]   writes DIR/ca.pem, DIR/ca.key, DIR/server.pem, DIR/server.key
#
# The certificate names 127.0.0.1, ::1, localhost and HOST, so clients verify the hostname.
# Used by kafka.sh (PR_KAFKA_SECURITY=sasl_ssl) and redis.sh (PR_REDIS_TLS=1) at start; the
# files live in the state directory, never in the repository. Existing files are kept.
set -euo pipefail

DIR="${1:?usage: $0 DIR [HOST]}"
HOST="${2:-127.0.0.1}"
DAYS="${PR_TLS_DAYS:-30}"

if [ -f "$DIR/server.pem" ] && [ -f "$DIR/ca.pem" ]; then exit 0; fi
command -v openssl >/dev/null || { echo "[tls] openssl is needed to make the throw-away certificates" >&2; exit 1; }
mkdir -p "$DIR" && chmod 700 "$DIR"
umask 077
san="IP:127.0.0.1,IP:::1,DNS:localhost"
case "$HOST" in
  127.0.0.1|localhost|::1) ;;
  *[!0-9.]*) san="$san,DNS:$HOST" ;;
  *) san="$san,IP:$HOST" ;;
esac
openssl req -x509 -newkey rsa:2048 -nodes -days "$DAYS" -subj "/CN=pipeline-review throw-away CA" \
  -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=$HOST" -keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial -days "$DAYS" \
  -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san") -out "$DIR/server.pem" 2>/dev/null
rm -f "$DIR/server.csr" "$DIR/ca.srl"
echo "[tls] made a throw-away CA and a certificate for $san in $DIR" >&2
