#!/usr/bin/env bash
# Starts a throwaway single-node Ceph (one mon, one memstore OSD, one RADOS
# Gateway) on 127.0.0.1 in DIR, creates an S3 user with known keys and a
# bucket, and prints (and writes to DIR/env) what a client needs:
#   S3_ENDPOINT=http://127.0.0.1:PORT S3_REGION=us-east-1 S3_BUCKET=...
#   S3_ACCESS_KEY=... S3_SECRET_KEY=...
#   S3_TLS_ENDPOINT=https://127.0.0.1:PORT2 S3_CA_FILE=DIR/tls.crt (a
#   self-signed certificate for 127.0.0.1 and localhost)
# Usage: start_rgw.sh DIR   (stop with stop_rgw.sh DIR). Takes about 12 s.
# Run as root, the daemons run as the `ceph` user the Debian packages create.
# Exit status 3: a needed program is missing (the message names it).
# Overrides: RGW_ACCESS_KEY, RGW_SECRET_KEY, RGW_BUCKET, RGW_TIMEOUT (s).
set -euo pipefail

DIR=${1:?usage: start_rgw.sh DIR}
ACCESS_KEY=${RGW_ACCESS_KEY:-IMAGENTESTACCESSKEY1}
SECRET_KEY=${RGW_SECRET_KEY:-imagen-test-secret-key-0123456789abcdef}
BUCKET=${RGW_BUCKET:-imagen-test}
TIMEOUT=${RGW_TIMEOUT:-90}

missing=()
for tool in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph curl python3 openssl; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -ne 0 ]; then
  echo "start_rgw.sh: missing: ${missing[*]} (Debian packages: radosgw ceph-mon ceph-osd ceph-common curl openssl; ./run installs them)" >&2
  exit 3
fi

RUN=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id ceph >/dev/null 2>&1; then
    echo "start_rgw.sh: missing: the 'ceph' system user (created by the ceph-common package)" >&2
    exit 3
  fi
  RUN=(runuser -u ceph --)
fi

t0=$(date +%s.%N)
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}s')" "$t0" "$(date +%s.%N)"; }

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
mkdir -p "$DIR"/{mon,osd,run,log,tmp}
[ ${#RUN[@]} -eq 0 ] || chown -R ceph:ceph "$DIR"

read -r MON_PORT RGW_PORT TLS_PORT < <(python3 - <<'PY'
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PY
)
FSID=$(cat /proc/sys/kernel/random/uuid)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$DIR/tls.key" -out "$DIR/tls.crt" >/dev/null 2>&1 || { echo "start_rgw.sh: openssl req failed" >&2; exit 1; }
[ ${#RUN[@]} -eq 0 ] || chown ceph:ceph "$DIR/tls.key" "$DIR/tls.crt"
C=$DIR/ceph.conf
LIB=/usr/lib/x86_64-linux-gnu/ceph
[ -d "$LIB" ] || LIB=$(dirname "$(dpkg -L ceph-common 2>/dev/null | grep -m1 '/ceph/erasure-code$' || echo /usr/lib/ceph/x)")
cat > "$C" <<CONF
[global]
fsid = $FSID
mon initial members = a
mon host = v2:127.0.0.1:$MON_PORT
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
mon allow pool size one = true
mon warn on pool no redundancy = false
osd objectstore = memstore
memstore device bytes = 1073741824
osd crush chooseleaf type = 0
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon data = $DIR/mon/\$name
osd data = $DIR/osd/\$id
erasure code dir = $LIB/erasure-code
plugin dir = $LIB
ms bind msgr1 = false
[client.rgw.a]
# RGW asks the mon for a secure connection by default, which auth none
# cannot give (it loops on "get_initial_auth_request returned -13").
ms mon client mode = crc
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT ssl_endpoint=127.0.0.1:$TLS_PORT ssl_certificate=$DIR/tls.crt ssl_private_key=$DIR/tls.key
rgw data = $DIR/rgw
CONF
[ ${#RUN[@]} -eq 0 ] || chown ceph:ceph "$C"
echo "$C" > "$DIR/conf_path"

# On failure: say why, show the logs' tails, stop what was started (the
# folder and its logs stay for a look; stop_rgw.sh removes them).
fail() {
  echo "start_rgw.sh: $* (logs in $DIR/log)" >&2
  tail -n 20 "$DIR"/log/*.log >&2 2>/dev/null || true
  for f in "$DIR"/run/*.pid; do
    [ -f "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null
  done
  exit 1
}

"${RUN[@]}" monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$FSID" "$DIR/monmap" >/dev/null ||
  fail "monmaptool failed"
"${RUN[@]}" ceph-mon -c "$C" --mkfs -i a --monmap "$DIR/monmap" || fail "ceph-mon --mkfs failed"
"${RUN[@]}" ceph-mon -c "$C" -i a || fail "ceph-mon did not start"
t_mon=$(elapsed)

OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
OSD_ID=$(timeout 60 "${RUN[@]}" ceph -c "$C" osd new "$OSD_UUID" 2>"$DIR/log/osd-new.err") ||
  fail "ceph osd new failed: $(cat "$DIR/log/osd-new.err")"
"${RUN[@]}" mkdir -p "$DIR/osd/$OSD_ID"
"${RUN[@]}" ceph-osd -c "$C" -i "$OSD_ID" --mkfs --osd-uuid "$OSD_UUID" >/dev/null 2>&1 || fail "ceph-osd --mkfs failed"
"${RUN[@]}" ceph-osd -c "$C" -i "$OSD_ID" >"$DIR/log/osd-start.out" 2>&1 || fail "ceph-osd did not start"
t_osd=$(elapsed)

"${RUN[@]}" radosgw -c "$C" -n client.rgw.a || fail "radosgw did not start"
ENDPOINT=http://127.0.0.1:$RGW_PORT
deadline=$(( $(date +%s) + TIMEOUT ))
until curl -s -o /dev/null --max-time 2 "$ENDPOINT/"; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "radosgw did not answer on $ENDPOINT within ${TIMEOUT}s"
  sleep 0.2
done
t_rgw=$(elapsed)

"${RUN[@]}" radosgw-admin -c "$C" user create --uid=imagen --display-name=imagen \
  --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >/dev/null 2>"$DIR/log/user-create.err" ||
  fail "radosgw-admin user create failed: $(cat "$DIR/log/user-create.err")"
code=$(curl -s -o "$DIR/log/bucket-create.out" -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" \
  --user "$ACCESS_KEY:$SECRET_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X PUT "$ENDPOINT/$BUCKET")
[ "$code" = 200 ] || fail "creating bucket $BUCKET answered HTTP $code: $(cat "$DIR/log/bucket-create.out")"
t_all=$(elapsed)

cat > "$DIR/env" <<ENV
S3_ENDPOINT=$ENDPOINT
S3_REGION=us-east-1
S3_BUCKET=$BUCKET
S3_ACCESS_KEY=$ACCESS_KEY
S3_SECRET_KEY=$SECRET_KEY
S3_TLS_ENDPOINT=https://127.0.0.1:$TLS_PORT
S3_CA_FILE=$DIR/tls.crt
RGW_STARTUP=$t_all
ENV
cat "$DIR/env"
echo "start_rgw.sh: mon $t_mon, osd $t_osd, rgw listening $t_rgw, ready $t_all" >&2
