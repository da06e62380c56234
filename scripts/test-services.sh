#!/usr/bin/env bash
# Throwaway services for the test suites: a PostgreSQL 15 cluster and a single-node Ceph RGW
# (one mon, one memstore OSD, radosgw) -- the real S3 implementation the S3 blob store is tested against.
#
#   bash scripts/test-services.sh start    # install what is missing (apt-get), start both, check them
#   bash scripts/test-services.sh env      # print the export lines (also in $DIR/env)
#   bash scripts/test-services.sh status   # say what runs
#   bash scripts/test-services.sh stop     # stop everything and remove $DIR
#
# Everything (pg data, ceph conf, mon data, osd data, run dir, admin sockets, logs) lives in
# DIR=${MODELREG_SERVICES_DIR:-/tmp/modelreg-test-services}; nothing goes to /etc/ceph or /var/lib/ceph.
# All servers listen on 127.0.0.1 only, on ports picked free below 32768 (outside the ephemeral range).
#
# Measured here (2 cores): installing ceph-mon ceph-osd radosgw with apt-get (update included) ~60 s;
# start when installed 2.3-5 s (up to ~8 s while other test suites load the machine; postgres ~2 s, in
# parallel with ceph); start when already running ~0.4 s; stop ~2.5 s.
# The OSD is memstore: objects live in RAM, capacity 4 GiB. RGW's garbage collector runs every 10 s here
# (default: 2 h), else overwritten/deleted objects fill it. A full OSD blocks writes (PUTs end in 408 after a
# minute or more); `status` then says "ceph health: ... full" and `start` starts everything afresh.
#
# S3 behaviours checked on this RGW (Debian 12 radosgw 16.2.15 "pacific", path-style, SigV4 header auth):
#   works: PUT with If-None-Match: * (200 new key, 412 PreconditionFailed on an existing one, object kept);
#     x-amz-content-sha256 = real hex sha256 of the body (200), a wrong one -> 400 XAmzContentSHA256Mismatch
#     and nothing stored; UNSIGNED-PAYLOAD accepted; wrong Content-MD5 -> 400 BadDigest; single-PUT ETag = md5;
#     multipart Create/UploadPart/ListParts/ListMultipartUploads/Complete/Abort (a non-last part < 5 MiB ->
#     400 EntityTooSmall at Complete; UploadPart after Abort -> 404 NoSuchUpload; ETag "<md5>-N" on HEAD/GET);
#     Range GET bytes=a-b, suffix bytes=-N (also N > size), bytes=a-, end past size (206, Content-Range), start
#     past size -> 416 InvalidRange; ListObjectsV2 max-keys + continuation-token paging, start-after, delimiter;
#     HEAD of a missing object -> 404 with empty body; GET missing -> 404 NoSuchKey; DELETE -> 204, again 204;
#     presigned GET and PUT (query-string SigV4, UNSIGNED-PAYLOAD); expired, altered or other-key -> 403.
#   differs from AWS: CompleteMultipartUpload answers <ETag></ETag> (empty: HEAD the object for it);
#     CompleteMultipartUpload ignores If-None-Match: * (overwrites an existing key: no conditional create by
#     multipart); Range bytes=-0 -> 206 with the whole body (AWS: 416).
#   curl 7.88 --aws-sigv4 does not send x-amz-content-sha256 and RGW then answers 403 SignatureDoesNotMatch:
#     pass -H "x-amz-content-sha256: <hex sha256 of the body>" and curl signs it (see s3req below).
set -euo pipefail

DIR="${MODELREG_SERVICES_DIR:-/tmp/modelreg-test-services}"
PG_BIN=/usr/lib/postgresql/15/bin
DB_NAME=modelreg_test
DB_USER=modelreg
DB_PASS=modelreg-test-password
S3_ACCESS_KEY=MODELREGTESTACCESSKY
S3_SECRET_KEY=modelregTestSecretKey0000000000000000000
S3_BUCKET=modelreg-test
S3_REGION=us-east-1
MARKER=.modelreg-test-services
CEPH_CONF_FILE="$DIR/ceph/ceph.conf"

say() { printf 'test-services: %s\n' "$*"; }
err() { printf 'test-services: error: %s\n' "$*" >&2; }
die() { err "$*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Print the last lines of a log file to stderr, framed, if it exists.
show_log() {
  local f=$1 n=${2:-30}
  if [[ -s $f ]]; then
    printf -- '--- last %s lines of %s ---\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2
    printf -- '--- end of %s ---\n' "$f" >&2
  fi
}

# ---------------------------------------------------------------------------------------------- installs

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else return 1
  fi
}

ensure_packages() {
  local -a missing=()
  [[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/postgres ]] || missing+=(postgresql-15)
  [[ -x $PG_BIN/psql && -x $PG_BIN/pg_isready ]] || missing+=(postgresql-client-15)
  command -v ceph-mon >/dev/null 2>&1 || missing+=(ceph-mon)
  command -v ceph-osd >/dev/null 2>&1 || missing+=(ceph-osd)
  { command -v radosgw >/dev/null 2>&1 && command -v radosgw-admin >/dev/null 2>&1; } || missing+=(radosgw)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  ((${#missing[@]} == 0)) && return 0

  local t0 log="$DIR/log/apt.log"
  if [[ $(id -u) -ne 0 ]] && ! sudo -n true 2>/dev/null; then
    die "missing Debian packages ${missing[*]}; install them as root: apt-get install ${missing[*]}"
  fi
  t0=$(now)
  say "installing from Debian: ${missing[*]} (log: $log)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get -o DPkg::Lock::Timeout=300 update >>"$log" 2>&1; then
    err "apt-get update failed"; show_log "$log"; exit 1
  fi
  if ! as_root apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    err "apt-get install ${missing[*]} failed"; show_log "$log"; exit 1
  fi
  say "installed in $(elapsed "$t0") s"
  local -a still=()
  local c
  for c in initdb pg_ctl postgres psql pg_isready; do
    [[ -x $PG_BIN/$c ]] || still+=("$PG_BIN/$c")
  done
  for c in ceph ceph-mon ceph-osd ceph-authtool monmaptool radosgw radosgw-admin curl; do
    command -v "$c" >/dev/null 2>&1 || still+=("$c")
  done
  ((${#still[@]} == 0)) || die "still missing after apt-get install: ${still[*]}"
}

# ---------------------------------------------------------------------------------------------- ports

port_free() {
  local p=$1
  if command -v ss >/dev/null 2>&1; then
    # Listening sockets only: the last run's closed connections linger in TIME_WAIT for a
    # minute, and would move every restart to the next port (the services bind with SO_REUSEADDR).
    [[ -z $(ss -Hltn "( sport = :$p )" 2>/dev/null) ]]
  else
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then return 1; fi
  fi
}

TAKEN=" "
pick_port() {
  local p=$1 last=$(($1 + 200))
  while ((p < last)); do
    if [[ $TAKEN != *" $p "* ]] && port_free "$p"; then
      TAKEN+="$p "
      echo "$p"; return 0
    fi
    p=$((p + 1))
  done
  die "no free port on 127.0.0.1 between $1 and $last"
}

# ---------------------------------------------------------------------------------------------- helpers

# True if process $1's command line names our directory (ceph daemons run with -c $DIR/ceph/ceph.conf,
# the postmaster with -D $DIR/pg/data). Bash builtins only: this runs in loops over /proc.
names_our_dir() {
  local -a args
  mapfile -d '' -t args 2>/dev/null <"/proc/$1/cmdline" || return 1
  [[ "${args[*]}" == *"$DIR/"* ]]
}

# Our daemons: processes running one of the given programs (ceph-mon, ceph-osd, radosgw, postgres) whose
# command line names our directory. Only those are ever signalled.
our_pids() {
  local d pid comm
  for d in /proc/[0-9]*; do
    pid=${d#/proc/}
    read -r comm 2>/dev/null <"$d/comm" || continue
    [[ " $* " == *" $comm "* ]] || continue
    if names_our_dir "$pid"; then echo "$pid"; fi
  done
}

# pid from a pid file if that process is alive and is ours.
live_pid() {
  local file=$1 pid
  [[ -r $file ]] || return 1
  read -r pid 2>/dev/null <"$file" || return 1
  [[ $pid =~ ^[0-9]+$ ]] && names_our_dir "$pid" || return 1
  echo "$pid"
}

as_pg() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

pg_os_user() {
  if [[ $(id -u) -ne 0 ]]; then id -un
  elif id postgres >/dev/null 2>&1; then echo postgres
  else echo nobody
  fi
}

ceph_cli() { timeout 30 ceph -c "$CEPH_CONF_FILE" --connect-timeout 20 "$@"; }

# One signed S3 request through curl's SigV4: s3req METHOD URL BODYFILE|"" OUTFILE [curl args...]; prints the
# HTTP status. curl 7.88 does not send x-amz-content-sha256 by itself (RGW then refuses the signature), but
# signs it when given, so it is always given.
s3req() {
  local method=$1 url=$2 body=$3 out=$4 hash=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
  shift 4
  if [[ -n $body ]]; then
    hash=$(sha256sum <"$body"); hash=${hash%% *}
    set -- --data-binary "@$body" -H 'Content-Type: application/octet-stream' "$@"
  fi
  curl -sS --max-time 20 --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    -H "x-amz-content-sha256: $hash" -X "$method" -o "$out" -w '%{http_code}' "$@" "$url" 2>>"$out.err" || true
}

load_state() {
  [[ -r $DIR/state ]] || return 1
  # shellcheck disable=SC1091
  . "$DIR/state"
}

# ---------------------------------------------------------------------------------------------- postgres

# initdb refuses to run as root: as root, the cluster belongs to the postgres system user (made by the
# Debian package). Checked before anything starts.
prepare_postgres() {
  local pgdir="$DIR/pg"
  PG_OS_USER=$(pg_os_user)
  mkdir -p "$pgdir"
  if [[ $(id -u) -eq 0 ]]; then chown "$PG_OS_USER" "$pgdir"; fi
  if ! as_pg test -w "$pgdir"; then
    die "postgres: user $PG_OS_USER cannot write $pgdir (is $DIR under a directory it cannot enter?)"
  fi
}

start_postgres() {
  local t0 pgdir="$DIR/pg" log="$DIR/pg/postgres.log"
  t0=$(now)
  if ! as_pg "$PG_BIN/initdb" -D "$pgdir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C --no-sync >"$pgdir/initdb.log" 2>&1; then
    err "postgres: initdb failed"; show_log "$pgdir/initdb.log"; return 1
  fi
  cat >>"$pgdir/data/postgresql.conf" <<EOF
# modelreg test cluster: throwaway, so durability is off
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$pgdir'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  if ! as_pg "$PG_BIN/pg_ctl" -D "$pgdir/data" -l "$log" -w -t 30 start </dev/null >"$pgdir/pg_ctl.log" 2>&1; then
    err "postgres: pg_ctl start failed on 127.0.0.1:$PG_PORT"; show_log "$pgdir/pg_ctl.log" 10; show_log "$log"; return 1
  fi
  if ! as_pg "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$PG_PORT" -U postgres -d postgres >"$pgdir/setup.log" 2>&1 <<EOF
CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$DB_PASS';
CREATE DATABASE $DB_NAME OWNER $DB_USER;
EOF
  then
    err "postgres: creating role $DB_USER / database $DB_NAME failed"; show_log "$pgdir/setup.log"; return 1
  fi
  if ! PGPASSWORD=$DB_PASS "$PG_BIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$DB_USER" -d "$DB_NAME" -tAc 'select 1' \
      </dev/null >"$pgdir/check.log" 2>&1; then
    err "postgres: cannot log in as $DB_USER over TCP 127.0.0.1:$PG_PORT"; show_log "$pgdir/check.log"; show_log "$log"; return 1
  fi
  say "postgres ready on 127.0.0.1:$PG_PORT in $(elapsed "$t0") s"
}

stop_postgres() {
  local data="$DIR/pg/data" pid
  pid=$(live_pid "$data/postmaster.pid") || return 0
  PG_OS_USER=$(stat -c %U "$data" 2>/dev/null || pg_os_user)
  as_pg "$PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 20 stop </dev/null >/dev/null 2>&1 || kill -KILL "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------- ceph

write_ceph_conf() {
  local fsid=$1 c="$DIR/ceph"
  cat >"$CEPH_CONF_FILE" <<EOF
# modelreg throwaway single-node Ceph: one mon, one memstore OSD, one radosgw, all on 127.0.0.1.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
ms cluster mode = crc secure
ms service mode = crc secure
ms client mode = crc secure
ms mon cluster mode = crc secure
ms mon service mode = crc secure
ms mon client mode = crc secure
keyring = $c/keyring
run dir = $c/run
admin socket = $c/run/\$cluster-\$name.asok
pid file = $c/run/\$cluster-\$name.pid
log file = $c/log/\$cluster-\$name.log
mon cluster log file = $c/log/\$cluster.log
crash dir = $c/crash
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
mon max pg per osd = 1000
mon data avail crit = 1
mon data avail warn = 2
[mon]
# every pool rgw creates costs osdmap epochs; the default 1 s between proposals makes that ~10 s
paxos propose interval = 0.05
mon data = $c/mon/\$cluster-\$id
[osd]
osd data = $c/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 4294967296
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $c/rgw
# memstore keeps every byte in RAM, and RGW keeps the tails (past the first 4 MiB) of overwritten or deleted
# objects until its garbage collector runs: by default 2 h later, which fills the OSD in one test run
rgw gc obj min wait = 10
rgw gc processor period = 10
# a full OSD blocks writes: with this, such S3 requests end in 408 after a minute or more instead of hanging
rados osd op timeout = 30
EOF
}

# Tails of the logs of a failed ceph daemon ($1: mon, osd or rgw), then short tails of the ones it needs.
show_ceph_logs() {
  local l="$DIR/ceph/log"
  case $1 in
    rgw) show_log "$l/rgw.out" 10; show_log "$l/ceph-client.rgw.a.log" 30
         show_log "$l/ceph-osd.0.log" 8; show_log "$l/ceph-mon.a.log" 8 ;;
    osd) show_log "$l/osd.out" 10; show_log "$l/ceph-osd.0.log" 30; show_log "$l/ceph-mon.a.log" 8 ;;
    *)   show_log "$l/mon.out" 10; show_log "$l/ceph-mon.a.log" 30 ;;
  esac
}

start_ceph() {
  local t0 c="$DIR/ceph" fsid osd_uuid osd_id i code
  t0=$(now)
  mkdir -p "$c/run" "$c/log" "$c/crash" "$c/rgw" "$c/mon/ceph-a" "$c/osd/ceph-0"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_ceph_conf "$fsid"

  # mon
  if ! { ceph-authtool --create-keyring "$c/keyring" --gen-key -n mon. --cap mon 'allow *' &&
         monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]" "$c/monmap" &&
         ceph-mon -c "$CEPH_CONF_FILE" --mkfs -i a --monmap "$c/monmap" --keyring "$c/keyring"; } >"$c/log/mkfs.out" 2>&1; then
    err "ceph-mon: creating the monitor failed"; show_log "$c/log/mkfs.out"; show_ceph_logs mon; return 1
  fi
  if ! ceph-mon -c "$CEPH_CONF_FILE" -i a </dev/null >"$c/log/mon.out" 2>&1; then
    err "ceph-mon: start failed (v2 127.0.0.1:$MON_PORT, v1 127.0.0.1:$MON_V1_PORT)"; show_ceph_logs mon; return 1
  fi

  # osd (memstore: no device, data in memory)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  if ! osd_id=$(ceph_cli osd new "$osd_uuid" 2>"$c/log/osd-new.out"); then
    err "ceph: 'ceph osd new' failed (is the mon up?)"; show_log "$c/log/osd-new.out"; show_ceph_logs osd; return 1
  fi
  osd_id=$(tr -dc '0-9' <<<"$osd_id")
  [[ $osd_id == 0 ]] || { err "ceph: expected osd id 0, got '$osd_id'"; return 1; }
  if ! ceph-osd -c "$CEPH_CONF_FILE" -i 0 --mkfs --osd-uuid "$osd_uuid" </dev/null >>"$c/log/mkfs.out" 2>&1; then
    err "ceph-osd: mkfs failed"; show_log "$c/log/mkfs.out"; show_ceph_logs osd; return 1
  fi
  if ! ceph-osd -c "$CEPH_CONF_FILE" -i 0 </dev/null >"$c/log/osd.out" 2>&1; then
    err "ceph-osd: start failed"; show_ceph_logs osd; return 1
  fi

  # radosgw: it creates its pools itself and serves once they are active
  if ! radosgw -c "$CEPH_CONF_FILE" -n client.rgw.a </dev/null >"$c/log/rgw.out" 2>&1; then
    err "radosgw: start failed"; show_ceph_logs rgw; return 1
  fi
  code=000
  for ((i = 0; i < 180; i++)); do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$RGW_PORT/" || true)
    [[ $code == 200 ]] && break
    if ! live_pid "$c/run/ceph-client.rgw.a.pid" >/dev/null && ((i > 10)); then break; fi
    sleep 0.5
  done
  if [[ $code != 200 ]]; then
    err "radosgw: not serving S3 on 127.0.0.1:$RGW_PORT after 90 s (last HTTP status $code)"; show_ceph_logs rgw; return 1
  fi

  if ! radosgw-admin -c "$CEPH_CONF_FILE" user create --uid=modelreg --display-name=modelreg \
      --access-key="$S3_ACCESS_KEY" --secret="$S3_SECRET_KEY" </dev/null >"$c/log/user-create.out" 2>&1; then
    err "radosgw-admin: user create failed"; show_log "$c/log/user-create.out"; show_ceph_logs rgw; return 1
  fi
  s3_check || { show_ceph_logs rgw; return 1; }
  say "ceph rgw ready on http://127.0.0.1:$RGW_PORT in $(elapsed "$t0") s"
}

# Create the test bucket, PUT an object, GET it back, delete it.
s3_check() {
  local url="http://127.0.0.1:$RGW_PORT" tmp code body
  tmp="$DIR/ceph/s3check"
  mkdir -p "$tmp"
  code=$(s3req PUT "$url/$S3_BUCKET" "" "$tmp/mb.out")
  [[ $code == 200 ]] || { err "s3: creating bucket $S3_BUCKET failed: HTTP $code"; show_log "$tmp/mb.out" 5; show_log "$tmp/mb.out.err" 5; return 1; }
  body="modelreg s3 check $(date +%s%N)"
  printf '%s' "$body" >"$tmp/obj"
  code=$(s3req PUT "$url/$S3_BUCKET/.test-services-check" "$tmp/obj" "$tmp/put.out")
  [[ $code == 200 ]] || { err "s3: PUT object failed: HTTP $code"; show_log "$tmp/put.out" 5; show_log "$tmp/put.out.err" 5; return 1; }
  code=$(s3req GET "$url/$S3_BUCKET/.test-services-check" "" "$tmp/get.out")
  [[ $code == 200 ]] || { err "s3: GET object failed: HTTP $code"; show_log "$tmp/get.out" 5; show_log "$tmp/get.out.err" 5; return 1; }
  [[ $(cat "$tmp/get.out") == "$body" ]] || { err "s3: GET returned other bytes than were PUT"; return 1; }
  code=$(s3req DELETE "$url/$S3_BUCKET/.test-services-check" "" "$tmp/del.out")
  [[ $code == 204 ]] || { err "s3: DELETE object failed: HTTP $code"; show_log "$tmp/del.out" 5; return 1; }
  rm -rf "$tmp"
}

# All data is thrown away, so there is nothing to flush: SIGTERM (radosgw alone would take ~5 s to exit
# gracefully, mon and osd ~2 s each), then SIGKILL whatever is left after 2 s.
stop_ceph() {
  local name pid
  for name in client.rgw.a osd.0 mon.a; do
    pid=$(live_pid "$DIR/ceph/run/ceph-$name.pid") || continue
    kill -TERM "$pid" 2>/dev/null || true
  done
}

# Wait until no daemon of ours running one of the programs $2... is left (up to $1 s), then SIGKILL the rest.
wait_gone() {
  local deadline pids
  deadline=$(($(date +%s%N) + $1 * 1000000000))
  shift
  while :; do
    pids=$(our_pids "$@")
    [[ -z $pids ]] && return 0
    (($(date +%s%N) < deadline)) || break
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  sleep 0.2
}

# ---------------------------------------------------------------------------------------------- env

write_env() {
  cat >"$DIR/env" <<EOF
export MODELREG_TEST_DATABASE_URL='postgres://$DB_USER:$DB_PASS@127.0.0.1:$PG_PORT/$DB_NAME'
export MODELREG_TEST_S3_ENDPOINT='http://127.0.0.1:$RGW_PORT'
export MODELREG_TEST_S3_BUCKET='$S3_BUCKET'
export MODELREG_TEST_S3_REGION='$S3_REGION'
export MODELREG_TEST_S3_ACCESS_KEY_ID='$S3_ACCESS_KEY'
export MODELREG_TEST_S3_SECRET_ACCESS_KEY='$S3_SECRET_KEY'
EOF
}

# ---------------------------------------------------------------------------------------------- commands

# Prints one line per service; returns 0 when all run and answer.
check_running() {
  local ok=0 pid name code health
  if ! load_state; then
    echo "not started ($DIR/state missing)"; return 1
  fi
  if pid=$(live_pid "$DIR/pg/data/postmaster.pid") &&
     "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 3 >/dev/null 2>&1; then
    echo "postgres: running (pid $pid) on 127.0.0.1:$PG_PORT, database $DB_NAME"
  else
    echo "postgres: not running"; ok=1
  fi
  for name in mon.a osd.0 client.rgw.a; do
    if pid=$(live_pid "$DIR/ceph/run/ceph-$name.pid"); then
      case $name in
        mon.a) echo "ceph-mon: running (pid $pid) on 127.0.0.1:$MON_PORT (v2), 127.0.0.1:$MON_V1_PORT (v1)" ;;
        osd.0) echo "ceph-osd: running (pid $pid), memstore"
               health=$(ceph_cli health 2>/dev/null || echo "no answer from the mon")
               if [[ $health == *full* || $health == *down* || $health == *"no answer"* ]]; then
                 echo "ceph health: $health"; ok=1
               fi ;;
        *)     code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$RGW_PORT/" || true)
               if [[ $code == 200 ]]; then echo "radosgw: running (pid $pid), S3 at http://127.0.0.1:$RGW_PORT"
               else echo "radosgw: running (pid $pid) but http://127.0.0.1:$RGW_PORT/ answers HTTP $code"; ok=1; fi ;;
      esac
    else
      echo "ceph ${name%%.*}: not running" | sed 's/ceph client/radosgw/'; ok=1
    fi
  done
  return $ok
}

cmd_start() {
  local t0 pgjob rc=0
  t0=$(now)
  if [[ -f $DIR/env ]] && check_running >/dev/null 2>&1; then
    say "already running (env: $DIR/env)"
    return 0
  fi
  if [[ -e $DIR ]]; then
    say "cleaning up a previous, incomplete run in $DIR"
    cmd_stop >/dev/null
  fi
  mkdir -p "$DIR/log"
  chmod 755 "$DIR"
  touch "$DIR/$MARKER"
  ensure_packages

  PG_PORT=$(pick_port 25432)
  MON_PORT=$(pick_port 23300)
  MON_V1_PORT=$(pick_port 26789)
  RGW_PORT=$(pick_port 27480)
  cat >"$DIR/state" <<EOF
PG_PORT=$PG_PORT
MON_PORT=$MON_PORT
MON_V1_PORT=$MON_V1_PORT
RGW_PORT=$RGW_PORT
EOF

  prepare_postgres
  # postgres starts in the background while ceph comes up
  start_postgres &
  pgjob=$!
  start_ceph || rc=1
  wait "$pgjob" || rc=1
  if ((rc != 0)); then
    err "start failed; stopping what did start (logs kept in $DIR)"
    stop_processes
    exit 1
  fi
  write_env
  say "started in $(elapsed "$t0") s; env in $DIR/env"
}

stop_processes() {
  stop_ceph
  stop_postgres
  wait_gone 2 ceph-mon ceph-osd radosgw postgres
}

cmd_stop() {
  if [[ ! -e $DIR ]]; then
    say "not running (no $DIR)"; return 0
  fi
  [[ -f $DIR/$MARKER ]] || die "$DIR exists but was not made by this script ($MARKER missing); not touching it"
  stop_processes
  rm -rf "$DIR"
  say "stopped; removed $DIR"
}

cmd_env() {
  [[ -r $DIR/env ]] || die "not started: $DIR/env missing (run: bash scripts/test-services.sh start)"
  cat "$DIR/env"
}

cmd_status() {
  check_running
}

case "${1:-}" in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  env)    cmd_env ;;
  status) cmd_status ;;
  *) echo "usage: $0 start|stop|env|status" >&2; exit 2 ;;
esac
