#!/usr/bin/env bash
# Starts the throwaway servers the destination tests need, runs a command with their addresses in the
# environment, and stops them afterwards (also on failure or Ctrl-C):
#
#   scripts/test-services.sh swift test
#
# - PostgreSQL: a new cluster in a temporary folder, on a free loopback port, trust auth on loopback
#   only. Exports SLUICE_TEST_POSTGRES_URL=postgres://sluice@127.0.0.1:PORT/sluice.
# - moto's S3 server with signature checking on: moto_server starts with INITIAL_NO_AUTH_ACTION_COUNT=3,
#   and those three unauthenticated calls create an IAM user, its S3 policy and its access key, after
#   which every request must be signed with that key. Exports SLUICE_TEST_S3_ENDPOINT, SLUICE_TEST_S3_ACCESS_KEY_ID and
#   SLUICE_TEST_S3_SECRET_ACCESS_KEY.
#
# A server whose program is missing is skipped with a message (the tests that need it then say so);
# SLUICE_TEST_SERVICES=required (set by .ci/run) makes that an error instead.
set -euo pipefail

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-services.XXXXXX")
pids=()
pg_ctl=""
cleanup() {
  if [ -n "$pg_ctl" ]; then $pg_ctl -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

required=${SLUICE_TEST_SERVICES:-optional}
missing() {
  if [ "$required" = required ]; then echo "test-services: $1" >&2; exit 1; fi
  echo "test-services: $1; its tests will say they were skipped" >&2
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # wait_for SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then return 1; fi
    sleep 0.2
  done
}

# PostgreSQL
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ]; then
  port=$(free_port)
  mkdir -p "$work/pg"
  as_pg=()
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root.
    chown postgres "$work/pg"; chmod 755 "$work"
    as_pg=(runuser -u postgres --)
  fi
  "${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -U sluice -A trust --no-sync -E UTF8 >"$work/initdb.log" 2>&1 \
    || { cat "$work/initdb.log" >&2; exit 1; }
  pg_ctl="${as_pg[*]} $pg_bin/pg_ctl"
  $pg_ctl -D "$work/pg" -l "$work/pg/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $work/pg -c fsync=off -c max_connections=200" start >/dev/null \
    || { cat "$work/pg/server.log" >&2; exit 1; }
  "${as_pg[@]}" "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U sluice sluice
  export SLUICE_TEST_POSTGRES_URL="postgres://sluice@127.0.0.1:$port/sluice"
  echo "test-services: PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
else
  missing "PostgreSQL is not installed (apt-get install postgresql)"
fi

# moto's S3 server, with signatures checked after the first three calls.
if command -v moto_server >/dev/null 2>&1; then
  port=$(free_port)
  INITIAL_NO_AUTH_ACTION_COUNT=3 moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
  pids+=($!)
  endpoint="http://127.0.0.1:$port"
  wait_for 30 python3 -c "import urllib.request,sys; urllib.request.urlopen('$endpoint/moto-api/data.json')" \
    || { echo "test-services: moto did not start" >&2; cat "$work/moto.log" >&2; exit 1; }
  keys=$(python3 - "$endpoint" <<'PY'
import sys, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="sluice")
iam.put_user_policy(UserName="sluice", PolicyName="s3", PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}')
key = iam.create_access_key(UserName="sluice")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
)
  export SLUICE_TEST_S3_ENDPOINT="$endpoint"
  export SLUICE_TEST_S3_ACCESS_KEY_ID="${keys%% *}"
  export SLUICE_TEST_S3_SECRET_ACCESS_KEY="${keys#* }"
  echo "test-services: moto S3 $(python3 -c 'import moto; print(moto.__version__)') on $endpoint (signatures checked)" >&2
else
  missing "moto is not installed (pip install 'moto[server]')"
fi

"$@"
