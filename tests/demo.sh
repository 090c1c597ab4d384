#!/bin/sh
# demo.sh BUILD DEMO_DIR - what `make run` does: a demo data directory with a
# development root key and licenses for this machine, then a license server on
# 127.0.0.1:$PORT (admin $ADMIN_PORT) serving TLS with a demo CA. Re-running
# reuses the directory: keys, licenses, the certificate and the admin token are
# never replaced.
set -eu
B=$(cd "$1" && pwd)
D=$2
PORT=${PORT:-7470}
ADMIN_PORT=${ADMIN_PORT:-7471}

# A port already taken is said first, not after the banner.
for p in "$PORT" "$ADMIN_PORT"; do
  if ! /usr/bin/python3 -c 'import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))' "$p" 2>/dev/null; then
    echo "make run: error: port $p on 127.0.0.1 is in use (or not a port): choose others," \
      "e.g. make run PORT=8470 ADMIN_PORT=8471" >&2
    exit 1
  fi
done
mkdir -p "$D"
D=$(cd "$D" && pwd)
LICGEN=$B/bin/licgen
LICCTL=$B/bin/licctl
LICSRV=$B/bin/licsrv
say() { printf '\n== %s\n' "$*"; }

# A machine without a physical network adapter (some containers) cannot be
# licensed; simulate one so the demo still runs, and say so.
if ! ls /sys/class/net/*/device >/dev/null 2>&1 || [ ! -r /etc/machine-id ]; then
  say "no physical network adapter or /etc/machine-id here: simulating a machine in $D/sysroot"
  mkdir -p "$D/sysroot/etc" "$D/sysroot/sys/class/net/eth0/device"
  [ -f "$D/sysroot/etc/machine-id" ] || od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$D/sysroot/etc/machine-id"
  echo 52:54:00:12:34:56 > "$D/sysroot/sys/class/net/eth0/address"
  LIC_SYSROOT=$D/sysroot
  export LIC_SYSROOT
fi

say "development root key (a stand-in for the vendor's; never ship it)"
if [ ! -f "$D/dev-root.pem" ]; then
  "$LICGEN" keygen -o "$D/dev-root.pem"
else
  echo "reusing $D/dev-root.pem"
fi
TRUST="--trust $D/dev-root.pub.pem"

say "local mode: licctl rif -> licgen sign -> licctl check"
if [ ! -f "$D/local.lic" ]; then
  "$LICCTL" rif --state "$D/licctl" --project Demo --product ReportServer --version 11.0.18 -o "$D/local.rif"
  "$LICGEN" sign "$D/local.rif" --key "$D/dev-root.pem" --mode local --customer "Demo Customer" \
    --features export,schedule --domain localhost --domain '*.demo.test' --port 8080 --port 8443 \
    --major 11 --expires "$(date -u -d '+1 year' +%Y-%m-%d)" -o "$D/local.lic"
else
  echo "reusing $D/local.lic (delete $D to start over)"
fi
"$LICCTL" check "$D/local.lic" $TRUST --domain localhost --port 8080 --major 11

if [ ! -x "$LICSRV" ]; then
  say "licsrv is not built in this tree yet: the local-mode demo is all there is"
  exit 0
fi

say "private mode: licsrv init -> licsrv rif -> licgen sign -> licsrv import"
SRV=$D/server
if [ ! -d "$SRV/store" ]; then
  "$LICSRV" init --data "$SRV"
fi
# Roots the admin API's import trusts, besides the built-in store.
mkdir -p "$SRV/trusted"
cp "$D/dev-root.pub.pem" "$SRV/trusted/dev-root.pub.pem"
if [ ! -f "$D/server.lic" ]; then
  "$LICSRV" rif --data "$SRV" --project Demo --product ReportServer --version 11.0.18 -o "$D/server.rif"
  "$LICGEN" sign "$D/server.rif" --key "$D/dev-root.pem" --mode private --customer "Demo Customer" \
    --features export,schedule --domain localhost --port 8080 --port 8443 --major 11 \
    --max-nodes 5 --expires "$(date -u -d '+1 year' +%Y-%m-%d)" -o "$D/server.lic"
  "$LICSRV" import --data "$SRV" $TRUST "$D/server.lic"
else
  echo "reusing $D/server.lic (delete $D to start over)"
fi

# A demo CA and a certificate for localhost (ECDSA P-256), made once: what a
# company CA or ACME gives in real life (docs/server.md, "TLS").
T=$D/tls
if [ ! -f "$T/server.pem" ]; then
  say "demo TLS: a CA and a server certificate for localhost in $T"
  mkdir -p "$T"
  chmod 700 "$T"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=licsrv demo CA" -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
    -keyout "$T/server.key" -out "$T/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > "$T/server.ext"
  openssl x509 -req -in "$T/server.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$T/server.ext" -out "$T/server.pem" 2>/dev/null
  chmod 600 "$T/ca.key" "$T/server.key"
  rm -f "$T/server.csr" "$T/server.ext"
else
  echo "reusing the demo TLS certificate in $T"
fi


# The demo's admin token: made once, printed that once, kept (0600) beside the
# data directory so the curl line below works on every run.
if [ ! -f "$D/admin-token" ]; then
  say "admin API token for the demo (shown only this once; also kept in $D/admin-token, 0600)"
  (umask 077 && "$LICSRV" token add demo --data "$SRV" > "$D/admin-token")
  cat "$D/admin-token"
fi

say "serving TLS on https://localhost:$PORT (admin on https://localhost:$ADMIN_PORT); Ctrl-C stops"
cat <<TRY
In another terminal, try:
  $LICCTL verify https://localhost:$PORT --cacert $T/ca.pem $TRUST --domain localhost --port 8080 --version 11.0.18 --node demo-1
  curl -s --cacert $T/ca.pem https://localhost:$PORT/healthz
  curl -s --cacert $T/ca.pem https://localhost:$PORT/metrics | grep -E 'licsrv_verdicts|licsrv_tls'
  curl -s --cacert $T/ca.pem -H "Authorization: Bearer \$(cat $D/admin-token)" https://localhost:$ADMIN_PORT/v1/admin/nodes
  openssl s_client -connect localhost:$PORT -CAfile $T/ca.pem </dev/null | grep -E 'Verify return|Protocol'
A new certificate in $T/server.pem/.key is picked up with: kill -HUP <licsrv pid>
TRY
exec "$LICSRV" serve --data "$SRV" --listen "127.0.0.1:$PORT" --admin-listen "127.0.0.1:$ADMIN_PORT" \
  --tls-cert "$T/server.pem" --tls-key "$T/server.key"
