#!/usr/bin/env bash
# Maintenance window benchmark (issue 5, performance part).
#
# Two identical demo installations at 1.0.0, each holding about 1 GB of notes,
# are upgraded to 1.1.0 (one hop; the notes schema goes 1 -> 2 on start):
#   A: by `upshift apply` (online backup while serving, then maintenance on,
#      stop, final incremental backup, verify, swap, start, health);
#   B: in the naive order of the vendors' upgrade guides: stop, full backup, swap, start.
# Both windows are "first stop to healthy again". Targets: A <= 5% of B without
# writes, <= 20% with --writes.
#
# The naive full backup uses upshift itself (`upshift backup`) into a NEW
# restic-format repository, so both sides use the same backup engine
# (rustic_core, same chunking, compression and encryption): the comparison
# measures the order of the steps, not two different backup programs.
#
# Usage: bench/window.sh [--poll] [--writes] [--store postgres] [NOTES]   (NOTES default 16384 x 64 KiB = 1 GiB)
#        --store postgres: both installations keep their notes in a PostgreSQL
#        cluster of their own (`upshift demo --store postgres`); default SQLite.
#        --writes: a client writes a note every 50 ms from before the run (A: from
#        before `upshift apply`, through the online backup; B: for 2 s) until the stop.
# The last line is `window ratio: N%` (upshift's window as a percentage of the naive one).
# Env:   BODY_BYTES (65536), KEEP=1 (keep the temp dir), BENCH_TMP (parent dir),
#        BIN_DIR (use the binaries there instead of building target/release).
# Prints a markdown table on stdout; progress goes to stderr.

set -euo pipefail

# --poll: a client GETs A's public addresses every POLL_MS (100) ms through
# the whole apply; its table (product, 503 page, refused, reset/other,
# longest gap) follows the main one. SOCKET_ACTIVATION=1 sets
# `socket_activation = true` on A's services first.
POLL=0
args=()
for a in "$@"; do
  if [[ $a == --poll ]]; then POLL=1; else args+=("$a"); fi
done
set -- "${args[@]+"${args[@]}"}"

STORE=sqlite
WRITES=0
while [[ ${1:-} == --* ]]; do
  case $1 in
    --store) STORE=${2:?--store needs sqlite or postgres}; shift 2 ;;
    --writes) WRITES=1; shift ;;
    *) echo "unknown option $1 (--writes, --store sqlite|postgres)" >&2; exit 2 ;;
  esac
done
[[ $STORE == sqlite || $STORE == postgres ]] || { echo "--store: sqlite or postgres, not $STORE" >&2; exit 2; }
NOTES=${1:-${NOTES:-16384}}
BODY_BYTES=${BODY_BYTES:-65536}
HEALTH_DEADLINE_S=${HEALTH_DEADLINE_S:-120}
STOP_DEADLINE_S=${STOP_DEADLINE_S:-30}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { printf '[window %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { date +%s%3N; }
# A process that has exited but waits to be reaped (zombie) counts as gone, as
# in upshift's process driver: the demo's services are reparented to PID 1 once
# `upshift demo` exits, and PID 1 here may reap them only seconds later.
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

for tool in curl python3; do
  command -v "$tool" >/dev/null || die "$tool is required"
done

# --- 1. release binaries ---------------------------------------------------
if [[ -n ${BIN_DIR:-} ]]; then
  BIN_DIR=$(cd "$BIN_DIR" && pwd)
  log "using the binaries in $BIN_DIR (no build)"
else
  log "building release binaries"
  cargo build --release -p upshift-cli -p upshift-demo >&2
  BIN_DIR=$ROOT/target/release
fi
UPSHIFT=$BIN_DIR/upshift
[[ -x $UPSHIFT && -x $BIN_DIR/upshift-demo ]] || die "no upshift and upshift-demo binaries in $BIN_DIR"

TMP=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/upshift-window.XXXXXX")
# The demo's PostgreSQL runs as an unprivileged user, who must enter the directory.
chmod 755 "$TMP"
A=$TMP/a
B=$TMP/b

# Kill the services of both installations (only the pids they recorded).
stop_services() {
  local dir pidfile pid
  for dir in "$A" "$B"; do
    [[ -f $dir/pg-stop ]] && bash "$dir/pg-stop" >/dev/null 2>&1 || true
    for pidfile in "$dir"/run/*.pid; do
      [[ -f $pidfile ]] || continue
      pid=$(<"$pidfile")
      [[ $pid =~ ^[0-9]+$ ]] && kill "$pid" 2>/dev/null || true
    done
  done
}
cleanup() {
  local rc=$?
  stop_services
  if [[ ${KEEP:-0} == 1 ]]; then
    log "kept $TMP"
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A client writing a note every 50 ms through the public API of the
# installation whose manifest is $1, until a write is refused (the stop:
# the maintenance page answers 503, or nothing listens); each acknowledged
# note's body is a line of $2.
WRITER_PY='
import json, sys, time, urllib.request
import tomllib
m = tomllib.load(open(sys.argv[1], "rb"))
auth = "http://" + m["services"]["auth"]["public_address"]
notes = "http://" + m["services"]["notes"]["public_address"] + "/notes"
def post(url, body, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    r = urllib.request.Request(url, data=json.dumps(body).encode(), headers=h, method="POST")
    with urllib.request.urlopen(r, timeout=5) as resp:
        return resp.status, resp.read()
token = json.loads(post(auth + "/token", {"user": "bench"})[1])["token"]
out = open(sys.argv[2], "w")
deadline = time.time() + 3600
n = 0
while time.time() < deadline:
    n += 1
    try:
        status, _ = post(notes, {"title": "bench", "body": "bench-%d" % n}, token)
    except Exception:
        break
    if status != 201:
        break
    out.write("bench-%d\n" % n)
    out.flush()
    time.sleep(0.05)
'
start_writer() {
  python3 -c "$WRITER_PY" "$1" "$2" 2>/dev/null &
  WRITER_PID=$!
}
# Waits (with a deadline) until the writer acknowledged $2 notes in file $1.
wait_writes() {
  local deadline=$(( $(now_ms) + 60000 ))
  while [[ ! -f $1 ]] || (( $(wc -l <"$1") < $2 )); do
    (( $(now_ms) < deadline )) || die "the writer acknowledged no $2 notes in 60 s"
    sleep 0.05
  done
}

# Health URLs of a manifest, in start order (auth, then notes).
health_urls() {
  python3 - "$1" <<'PY'
import sys, tomllib
m = tomllib.load(open(sys.argv[1], "rb"))
for name in ("auth", "notes"):
    print(m["services"][name]["health"]["http"])
PY
}

# Waits until URL answers 200 with a body containing "ok"; deadline in seconds.
wait_healthy() {
  local url=$1 deadline=$(( $(now_ms) + $2 * 1000 )) body
  while (( $(now_ms) < deadline )); do
    if body=$(curl -fsS --max-time 2 "$url" 2>/dev/null) && [[ $body == *ok* ]]; then
      return 0
    fi
    sleep 0.02
  done
  return 1
}

# Both services of installation DIR healthy according to `upshift status --json`.
STATUS_PY='
import sys, json
s = json.load(sys.stdin)
bad = [r["name"] + ": " + r["state"] for r in s["services"] if r["state"] != "healthy"]
print("; ".join(bad))
sys.exit(1 if bad else 0)
'
status_healthy() {
  "$UPSHIFT" -m "$1/upshift.toml" --json status 2>/dev/null | python3 -c "$STATUS_PY"
}
wait_status_healthy() {
  local dir=$1 deadline=$(( $(now_ms) + HEALTH_DEADLINE_S * 1000 )) why
  while (( $(now_ms) < deadline )); do
    why=$(status_healthy "$dir") && return 0
    sleep 0.2
  done
  die "$dir is not healthy after ${HEALTH_DEADLINE_S}s: $why"
}

# The poll client (--poll): started on A's public addresses, ended after its apply.
POLL_PID=
poll_begin() {
  (( POLL )) || return 0
  if [[ ${SOCKET_ACTIVATION:-0} == 1 ]]; then
    sed -i 's/^\[services\.\(auth\|notes\)\.process\]$/&\nsocket_activation = true/' "$A/upshift.toml"
  fi
  local targets
  targets=$(python3 - "$A/upshift.toml" <<'PY'
import sys, tomllib
m = tomllib.load(open(sys.argv[1], "rb"))
print(" ".join(f"{n}={m['services'][n]['public_address']}/health" for n in ("auth", "notes")))
PY
)
  # shellcheck disable=SC2086
  python3 "$ROOT/bench/poll_client.py" $targets >"$TMP/poll.md" &
  POLL_PID=$!
}
poll_end() {
  [[ -n $POLL_PID ]] || return 0
  sleep 0.5 # the new version's first answers, then the client stops
  kill -TERM "$POLL_PID" && wait "$POLL_PID" || true
}
poll_table() {
  [[ -n $POLL_PID ]] || return 0
  printf '\nWhat a client polling A'"'"'s public addresses saw during the whole apply (socket activation: %s):\n\n' \
    "$([[ ${SOCKET_ACTIVATION:-0} == 1 ]] && echo on || echo off)"
  cat "$TMP/poll.md"
}

# --- 2. two identical installations with ~1 GB of notes ---------------------
setup_installation() {
  local dir=$1
  log "setting up the demo installation in $dir"
  "$UPSHIFT" --json demo --dir "$dir" --no-upgrade --store "$STORE" >"$TMP/demo-$(basename "$dir").json"
  [[ -f $dir/upshift.toml ]] || die "no manifest at $dir/upshift.toml"
  if [[ $STORE == postgres ]]; then
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["postgres"]["stop"])' \
      "$TMP/demo-$(basename "$dir").json" >"$dir/pg-stop"
  fi
  log "seeding $NOTES notes of $BODY_BYTES bytes into $dir (services running)"
  (cd "$dir" && current/bin/upshift-demo seed --config config/notes.toml --count "$NOTES" --body-bytes "$BODY_BYTES") >&2
  # The services keep running across the seed; check that status agrees.
  wait_status_healthy "$dir"
  log "$dir is healthy after the seed"
}
setup_installation "$A"
setup_installation "$B"

db_bytes() {
  if [[ $STORE == postgres ]]; then
    local port
    port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["postgres"]["port"])' "$TMP/demo-$(basename "$1").json")
    PGPASSWORD=$(<"$1/secrets/notes-db.password") psql -h 127.0.0.1 -p "$port" -U notes -d notes -tAc \
      "SELECT pg_database_size('notes')"
  else
    du -cb "$1"/data/notes.db* | tail -1 | cut -f1
  fi
}
DATA_A=$(db_bytes "$A")
DATA_B=$(db_bytes "$B")
log "data: A $DATA_A bytes, B $DATA_B bytes"

# --- 3. upshift's window --------------------------------------------------------
poll_begin
if (( WRITES )); then
  log "A: a client writes a note every 50 ms until the stop"
  start_writer "$A/upshift.toml" "$TMP/writes-a"
  wait_writes "$TMP/writes-a" 5
fi
log "A: upshift apply --to 1.1.0"
t0=$(now_ms)
rc=0
"$UPSHIFT" -m "$A/upshift.toml" -y --json apply --to 1.1.0 >"$TMP/apply.json" 2>"$TMP/apply.err" || rc=$?
if (( rc != 0 )); then
  cat "$TMP/apply.err" >&2
  die "upshift apply failed (exit $rc)"
fi
APPLY_TOTAL_MS=$(( $(now_ms) - t0 ))
poll_end
WRITES_A=0
if (( WRITES )); then
  wait "$WRITER_PID" || true
  WRITES_A=$(wc -l <"$TMP/writes-a")
fi
read -r RUN_ID MAINT_MS AT < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["run_id"], d["maintenance_ms"], d["at"])' "$TMP/apply.json")
[[ $AT == 1.1.0 ]] || die "upshift apply ended at $AT, not 1.1.0"
wait_status_healthy "$A"

JOURNAL=$A/.upshift/journal.db
# Window from the journal: first stop.* started to the last health.* done of the hop,
# and where the time went (each step's started -> done, and the gaps between steps).
UPSHIFT_WINDOW_MS=$(python3 - "$JOURNAL" "$RUN_ID" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
q = lambda sql: db.execute(sql, (sys.argv[2],)).fetchone()[0]
start = q("SELECT min(at_ms) FROM steps WHERE run_id=? AND hop=0 AND step LIKE 'stop.%' AND state='started'")
end = q("SELECT max(at_ms) FROM steps WHERE run_id=? AND hop=0 AND step LIKE 'health.%' AND state='done'")
print(end - start)
PY
)
[[ $UPSHIFT_WINDOW_MS =~ ^[0-9]+$ ]] || die "cannot read the window from $JOURNAL"
STEPS_TABLE=$(python3 - "$JOURNAL" "$RUN_ID" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT step, state, at_ms FROM steps WHERE run_id=? AND hop=0 ORDER BY seq", (sys.argv[2],)).fetchall()
span, order = {}, []
for step, state, at in rows:
    # A step may journal more than one `started` event (the rollback
    # point's frozen copies, the durable snapshot's verification): the first counts.
    if state == "started" and step not in span:
        span[step] = [at, None]
        order.append(step)
    elif state == "done" and step in span:
        span[step][1] = at
first_stop = min(s for k, (s, _) in span.items() if k.startswith("stop."))
last_health = max(e for k, (_, e) in span.items() if k.startswith("health."))
print("| step | ms | in the window |")
print("|---|---|---|")
inside_sum = 0
for step in order:
    s, e = span[step]
    inside = s >= first_stop and e is not None and e <= last_health
    inside_sum += (e - s) if inside else 0
    print(f"| {step} | {'-' if e is None else e - s} | {'yes' if inside else ''} |")
print(f"| (between the steps in the window: journal writes) | {last_health - first_stop - inside_sum} | yes |")
PY
)
# upshift's own share of its window: everything but the product's stop, its
# data steps and its start (start and health polling).
OWN_MS=$(python3 - "$JOURNAL" "$RUN_ID" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
rows = db.execute("SELECT step, state, at_ms FROM steps WHERE run_id=? AND hop=0 ORDER BY seq", (sys.argv[2],)).fetchall()
span = {}
for step, state, at in rows:
    if state == "started" and step not in span:
        span[step] = [at, None]
    elif state == "done" and step in span:
        span[step][1] = at
first_stop = min(s for k, (s, _) in span.items() if k.startswith("stop."))
last_health = max(e for k, (_, e) in span.items() if k.startswith("health."))
product = sum(e - s for k, (s, e) in span.items()
              if e is not None and k.split(".")[0] in ("stop", "migrate", "start", "health"))
print(last_health - first_stop - product)
PY
)

# --- 4. the naive order on B --------------------------------------------------
mapfile -t B_HEALTH < <(health_urls "$B/upshift.toml")
# A fresh repository for the naive full backup (nothing to deduplicate against).
sed -i 's|^repository = .*|repository = ".upshift/naive-repo"|' "$B/upshift.toml"
grep -q '^repository = ".upshift/naive-repo"' "$B/upshift.toml" || die "cannot point B's backup at a new repository"
[[ ! -e $B/.upshift/naive-repo ]] || die "$B/.upshift/naive-repo already exists"

WRITES_B=0
if (( WRITES )); then
  log "B: a client writes a note every 50 ms for 2 s, until the stop"
  start_writer "$B/upshift.toml" "$TMP/writes-b"
  wait_writes "$TMP/writes-b" 5
  sleep 2
fi
log "B: naive order (stop, full backup, swap, start)"
cd "$B"
n0=$(now_ms)
# stop: notes first (it depends on auth), SIGTERM, wait until gone
for svc in notes auth; do
  pid=$(<"run/$svc.pid")
  kill "$pid"
  deadline=$(( $(now_ms) + STOP_DEADLINE_S * 1000 ))
  while alive "$pid"; do
    (( $(now_ms) < deadline )) || die "B: $svc (pid $pid) did not stop within ${STOP_DEADLINE_S}s"
    sleep 0.01
  done
  rm -f "run/$svc.pid"
done
n_stopped=$(now_ms)
if (( WRITES )); then
  wait "$WRITER_PID" || true
  WRITES_B=$(wc -l <"$TMP/writes-b")
fi
# full backup into the new repository
"$UPSHIFT" -m "$B/upshift.toml" backup >&2 || die "B: backup failed"
n_backup=$(now_ms)
# swap: install 1.1.0 beside 1.0.0, flip `current` atomically
current/bin/upshift-demo install --root . --version 1.1.0 >&2
ln -sfn releases/1.1.0 current.tmp
mv -T current.tmp current
n_swapped=$(now_ms)
# start in dependency order, each until healthy
svc_urls=("auth ${B_HEALTH[0]}" "notes ${B_HEALTH[1]}")
for pair in "${svc_urls[@]}"; do
  read -r svc url <<<"$pair"
  nohup current/bin/upshift-demo "$svc" --config "config/$svc.toml" >>"logs/$svc.log" 2>&1 &
  echo $! >"run/$svc.pid"
  wait_healthy "$url" "$HEALTH_DEADLINE_S" || { tail -20 "logs/$svc.log" >&2; die "B: $svc not healthy at $url"; }
done
n1=$(now_ms)
cd "$ROOT"
NAIVE_MS=$(( n1 - n0 ))
[[ $(curl -fsS "${B_HEALTH[1]}") == *1.1.0* ]] || die "B: notes does not report 1.1.0"
wait_status_healthy "$B"

poll_table

# --- 5. the table -----------------------------------------------------------------
fmt_s() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
RATIO=$(awk -v a="$UPSHIFT_WINDOW_MS" -v b="$NAIVE_MS" 'BEGIN { printf "%.1f", 100 * a / b }')
TARGET=$(( WRITES ? 20 : 5 ))
MET=$(awk -v a="$UPSHIFT_WINDOW_MS" -v b="$NAIVE_MS" -v t="$TARGET" 'BEGIN { print (a <= t / 100 * b) ? "met" : "MISSED" }')
OWN_PCT=$(awk -v a="$OWN_MS" -v w="$UPSHIFT_WINDOW_MS" 'BEGIN { printf "%.0f", 100 * a / w }')
WRITES_TEXT="no writes"
(( WRITES )) && WRITES_TEXT="a client writing a note every 50 ms until the stop ($WRITES_A notes acknowledged on A, $WRITES_B on B)"
MIB=$(awk -v b="$DATA_A" 'BEGIN { printf "%.0f", b / 1048576 }')

cat <<EOF
Upgrade 1.0.0 -> 1.1.0 of the demo installation ($STORE), $NOTES notes x $BODY_BYTES bytes, notes database $MIB MiB ($DATA_A bytes; B: $DATA_B bytes); $WRITES_TEXT.

| order | window: first stop to healthy (s) | notes |
|---|---|---|
| upshift apply (journal) | $(fmt_s "$UPSHIFT_WINDOW_MS") | \`maintenance_ms\` $(fmt_s "$MAINT_MS") s; whole apply $(fmt_s "$APPLY_TOTAL_MS") s |
| naive: stop, full backup, swap, start | $(fmt_s "$NAIVE_MS") | stop $(fmt_s $((n_stopped - n0))), backup $(fmt_s $((n_backup - n_stopped))), swap $(fmt_s $((n_swapped - n_backup))), start+health $(fmt_s $((n1 - n_swapped))) |
| upshift's own share of its window | $(fmt_s "$OWN_MS") | $OWN_PCT % of its window: all but the product's stop, data steps, start and health |
| **ratio upshift / naive** | **$RATIO %** | target <= $TARGET %: **$MET** |

upshift's hop, step by step (started -> done, from the journal):

$STEPS_TABLE

window ratio: $RATIO%
EOF
