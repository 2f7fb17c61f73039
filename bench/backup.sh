#!/usr/bin/env bash
# Backup benchmark: upshift (release binary) side by side with Debian's restic
# on the same data — a PostgreSQL database of about 1 GB (`pgbench -i -s 70`)
# and a 1 GB file tree of mixed content (half text, half already compressed).
#
#   bench/backup.sh [WORKDIR]        (default: a new directory under /tmp)
#
# Env: SCALE (pgbench scale, default 70), FILES_MB (default 1024),
#      UPSHIFT (binary, default target/release/upshift; built if missing).
# Steps, each under /usr/bin/time -v (wall time and peak RSS, the latter the
# largest of the tool and its children, e.g. pg_dump):
#   backup 1      first backup
#   backup 2      after changing 1% of the rows (pgbench_accounts, scattered)
#                 and 1% of the files
#   verify        upshift verify (check --read-data, dump test-restored into
#                 a temporary database, row counts compared);
#                 restic check --read-data + the dump restored into a
#                 temporary database + row counts, then dropped
#   restore cold  files removed and database recreated empty, then restored
#   restore 1%    after another 1% change, restored in place
# restic gets `pg_dump -Fc | restic backup --stdin` and `restic backup DIR`
# (two snapshots); restores with `restic restore --target /` and
# `restic dump … | pg_restore`.
# The PostgreSQL server runs as `postgres` when this runs as root, on
# 127.0.0.1, fsync off (for both tools alike), in WORKDIR.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SCALE=${SCALE:-70}
FILES_MB=${FILES_MB:-1024}
UPSHIFT=${UPSHIFT:-$ROOT/target/release/upshift}
W=${1:-$(mktemp -d /tmp/upshift-bench.XXXXXX)}
mkdir -p "$W"
W=$(cd "$W" && pwd)
chmod 0777 "$W"
log() { printf '\n== %s\n' "$*" >&2; }

for t in restic pg_dump pg_restore psql pgbench /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "error: $t is missing (scripts/install-test-deps.sh; /usr/bin/time is Debian's 'time')" >&2; exit 2; }
done
if [ ! -x "$UPSHIFT" ]; then
  log "building upshift (release)"
  (cd "$ROOT" && cargo build --release -p upshift-cli)
fi

PGBIN=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)")
[ -x "$PGBIN/pg_ctl" ] || PGBIN=$(dirname "$(command -v pg_ctl)")
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres

cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$W/pg" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

log "PostgreSQL on 127.0.0.1:$PORT in $W/pg"
rm -rf "$W/pg"
as_pg "$PGBIN/initdb" -U postgres --auth=trust -E UTF8 -D "$W/pg" >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$W/pg" -o "-p $PORT -k $W -c listen_addresses=127.0.0.1 -c fsync=off -c max_wal_size=4GB" -l "$W/pg.log" -w start >/dev/null
deadline=$((SECONDS + 60))
until pg_isready -q; do
  [ $SECONDS -lt $deadline ] || { echo "PostgreSQL did not start" >&2; exit 1; }
  sleep 0.2 # poll interval
done

log "data: pgbench -i -s $SCALE, ${FILES_MB} MB of files"
createdb bench
pgbench -i -q -s "$SCALE" bench 2>&1 | tail -1 >&2
rm -rf "$W/files"
python3 "$ROOT/bench/gen_files.py" make "$W/files" "$FILES_MB" >&2
DB_BYTES=$(psql -XAtc "select pg_database_size('bench')" bench)
FILE_BYTES=$(du -sb "$W/files" | cut -f1)
DATA_MB=$(( (DB_BYTES + FILE_BYTES) / 1048576 ))

# upshift's installation and restic's repository.
head -c 32 /dev/urandom | base64 > "$W/upshift.key"
head -c 32 /dev/urandom | base64 > "$W/restic.key"
chmod 600 "$W/upshift.key" "$W/restic.key"   # upshift refuses a key others can read
cat > "$W/upshift.toml" <<EOF
[installation]
name = "bench"
product = "demo"
version = "1.0.0"

[backup]
repository = "upshift-repo"
key = "file:upshift.key"

[stores.db]
kind = "postgres"
host = "127.0.0.1"
port = $PORT
user = "postgres"
database = "bench"

[stores.files]
kind = "files"
path = "files"
EOF
rm -rf "$W/upshift-repo" "$W/restic-repo"
export RESTIC_REPOSITORY=$W/restic-repo RESTIC_PASSWORD_FILE=$W/restic.key RESTIC_CACHE_DIR=$W/restic-cache
restic init -q >/dev/null
U() { "$UPSHIFT" -m "$W/upshift.toml" -y "$@"; }
export -f U; export UPSHIFT W

RESULTS=$W/results.tsv
: > "$RESULTS"
# timed TOOL STEP CMD: runs CMD under /usr/bin/time -v, records wall s and peak MB.
timed() {
  local tool=$1 step=$2; shift 2
  local tf=$W/time.$tool.${step// /_}
  log "$tool: $step"
  /usr/bin/time -v -o "$tf" bash -c "$*" >"$W/out.$tool.${step// /_}" 2>&1 || {
    echo "$tool $step failed:" >&2; tail -20 "$W/out.$tool.${step// /_}" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tf")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$tf")
  printf '%s\t%s\t%s\t%s\n' "$tool" "$step" "$wall" "$rss" >> "$RESULTS"
  printf '   %.1f s, peak %s MB\n' "$wall" "$rss" >&2
}

change_data() {
  psql -XqAt -c "update pgbench_accounts set abalance = abalance + 1 where aid % 100 = $1" bench
  python3 "$ROOT/bench/gen_files.py" change "$W/files" 1 >&2
}

R_PG='pg_dump -Fc bench | restic backup -q --stdin --stdin-filename bench.pgcustom --tag db'
R_FILES='restic backup -q --tag files "$W/files"'
R_VERIFY='restic check -q --read-data && createdb verify_tmp && restic dump latest --tag db /bench.pgcustom | pg_restore --no-owner --no-acl --exit-on-error --single-transaction -d verify_tmp && psql -XAt -c "select count(*) from pgbench_accounts" verify_tmp && dropdb verify_tmp'
R_RESTORE='restic restore -q latest --tag files --target / && restic dump latest --tag db /bench.pgcustom | pg_restore --no-owner --no-acl --exit-on-error --single-transaction -d bench'

timed upshift "backup 1" 'U backup'
timed restic "backup 1" "$R_PG && $R_FILES"
log "changing 1% of rows and files"; change_data 0
timed upshift "backup 2" 'U backup'
timed restic "backup 2" "$R_PG && $R_FILES"
timed upshift "verify" 'U verify'
timed restic "verify" "$R_VERIFY"

want=$(cd "$W/files" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
want_db=$(psql -XAt -c "select sum(abalance), count(*) from pgbench_accounts" bench)
fresh() { rm -rf "$W/files"; dropdb bench; createdb bench; }
check_same() {
  local got got_db
  got=$(cd "$W/files" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
  got_db=$(psql -XAt -c "select sum(abalance), count(*) from pgbench_accounts" bench)
  [ "$got" = "$want" ] && [ "$got_db" = "$want_db" ] || { echo "error: $1 restored different data" >&2; exit 1; }
}
fresh
timed upshift "restore cold" 'U restore latest'
check_same upshift
fresh
timed restic "restore cold" "$R_RESTORE"
check_same restic
# In place, after another 1% change (the snapshot is the same for both).
change_data 1
timed upshift "restore 1%" 'U restore latest'
check_same upshift
change_data 2
dropdb bench; createdb bench # restic's dump is a full load: it needs an empty database
timed restic "restore 1%" "$R_RESTORE"
check_same restic

UP_REPO=$(du -sb "$W/upshift-repo" | cut -f1)
R_REPO=$(du -sb "$W/restic-repo" | cut -f1)

# The table: ratio = restic time / upshift time (above 1: upshift faster).
{
  echo
  echo "data: database $((DB_BYTES / 1048576)) MB (pgbench -s $SCALE) + files $((FILE_BYTES / 1048576)) MB = $DATA_MB MB; $(nproc) cores; $(restic version | cut -d' ' -f1-2)"
  echo "repository size after both backups: upshift $((UP_REPO / 1048576)) MB, restic $((R_REPO / 1048576)) MB"
  echo
  echo "| step | upshift s | restic s | time ratio (restic/upshift) | upshift MB/s | restic MB/s | upshift peak MB | restic peak MB | memory ratio (upshift/restic) |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for step in "backup 1" "backup 2" "verify" "restore cold" "restore 1%"; do
    awk -F'\t' -v step="$step" -v mb="$DATA_MB" '
      $2 == step && $1 == "upshift" { uw = $3; um = $4 }
      $2 == step && $1 == "restic"  { rw = $3; rm = $4 }
      END { printf "| %s | %.1f | %.1f | %.2f | %.0f | %.0f | %d | %d | %.2f |\n",
            step, uw, rw, rw / uw, mb / uw, mb / rw, um, rm, um / rm }' "$RESULTS"
  done
} | tee "$W/table.md"
