#!/usr/bin/env bash
# Remote installation benchmark: the demo at 1.0.0 with about 1 GB of notes on
# "another machine" (a real sshd on loopback in its own mount and pid
# namespaces, as in the tests), upgraded to 1.1.0 by `upshift apply` over ssh.
# Reports the maintenance window (first stop to healthy again, from the
# journal), the online backup (the stores streamed with tar over ssh into the
# local mirror, then snapshotted) and the whole apply, and whether the final
# backup reused the online snapshot (nothing changed between the copy and
# the stop, as seen by `find` there) or copied the data again.
#
# Usage: bench/remote.sh [NOTES]   (NOTES default 16384 x 64 KiB = 1 GiB)
# Env:   BODY_BYTES (65536), BIN_DIR (binaries; default: build target/release),
#        KEEP=1 (keep the temp dir). Needs root (namespaces) and openssh-server.
# Prints a markdown table on stdout; progress goes to stderr.

set -euo pipefail

NOTES=${1:-${NOTES:-16384}}
BODY_BYTES=${BODY_BYTES:-65536}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

log() { printf '[remote %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (mount and pid namespaces for the sshd)"
[[ -x /usr/sbin/sshd ]] || die "needs /usr/sbin/sshd (apt-get install openssh-server)"
command -v sqlite3 >/dev/null || die "needs sqlite3"

if [[ -n ${BIN_DIR:-} ]]; then
  BIN_DIR=$(cd "$BIN_DIR" && pwd)
else
  log "building release binaries"
  cargo build --release -p upshift-cli -p upshift-demo >&2
  BIN_DIR=$ROOT/target/release
fi
UPSHIFT=$BIN_DIR/upshift
DEMO=$BIN_DIR/upshift-demo

TMP=$(mktemp -d /tmp/upshift-remote.XXXXXX)
SSHD_PID=
cleanup() {
  [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null || true
  if [[ ${KEEP:-0} == 1 ]]; then log "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT

# --- the other machine ------------------------------------------------------
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(port); AUTH=$(port); NOTESP=$(port)
ssh-keygen -q -t ed25519 -N "" -f "$TMP/host_key"
ssh-keygen -q -t ed25519 -N "" -f "$TMP/user_key"
cp "$TMP/user_key.pub" "$TMP/authorized_keys"
echo "[127.0.0.1]:$PORT $(cut -d' ' -f1,2 "$TMP/host_key.pub")" > "$TMP/known_hosts"
mkdir -p "$TMP/remote" "$TMP/local"
cat > "$TMP/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $TMP/host_key
PidFile $TMP/sshd.pid
AuthorizedKeysFile $TMP/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
MaxSessions 64
LogLevel ERROR
CONF
printf 'Host *\n  User root\n  IdentityFile %s/user_key\n  IdentitiesOnly yes\n  UserKnownHostsFile %s/known_hosts\n  GlobalKnownHostsFile /dev/null\n' "$TMP" "$TMP" > "$TMP/local/ssh_config"
unshare --mount --propagation private --pid --fork --mount-proc --kill-child sh -c "
  mount -t tmpfs -o size=8g upshift-remote '$TMP/remote' && mkdir -p /run/sshd &&
  for rc in /root/.bashrc /root/.profile; do [ ! -f \$rc ] || mount --bind /dev/null \$rc; done &&
  exec /usr/sbin/sshd -D -e -f '$TMP/sshd_config'" 2>"$TMP/sshd.log" &
SSHD_PID=$!
there() { ssh -F "$TMP/local/ssh_config" -o BatchMode=yes -p "$PORT" 127.0.0.1 -- "$@"; }
for _ in $(seq 1 300); do there true 2>/dev/null && break; sleep 0.1; done
there true || die "sshd did not start: $(cat "$TMP/sshd.log")"

R=$TMP/remote/demo
log "demo at 1.0.0 on the other machine, seeding $NOTES notes of $BODY_BYTES bytes"
there "$DEMO init --root $R --version 1.0.0 --auth-port $AUTH --notes-port $NOTESP >/dev/null &&
  cd $R && mkdir -p logs run &&
  $DEMO seed --config config/notes.toml --count $NOTES --body-bytes $BODY_BYTES --owners 100 >/dev/null &&
  (current/bin/upshift-demo auth --config config/auth.toml </dev/null >>logs/auth.log 2>&1 & echo \$! > run/auth.pid) &&
  (current/bin/upshift-demo notes --config config/notes.toml </dev/null >>logs/notes.log 2>&1 & echo \$! > run/notes.pid)"
DB_MB=$(there "du -m $R/data/notes.db | cut -f1")
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$NOTESP/health" >/dev/null && break; sleep 0.1; done

sed -e "s/127.0.0.1:7301/127.0.0.1:$AUTH/; s/127.0.0.1:7302/127.0.0.1:$NOTESP/" \
    -e "s|^version = \"1.0.0\".*|version = \"1.0.0\"\nhost = \"ssh://root@127.0.0.1:$PORT$R\"\nssh_config = \"ssh_config\"|" \
    examples/demo/upshift.toml > "$TMP/local/upshift.toml"

log "upshift apply --to 1.1.0 over ssh"
start=$(date +%s%3N)
"$UPSHIFT" -y -m "$TMP/local/upshift.toml" apply --to 1.1.0 2>"$TMP/apply.log" >/dev/null \
  || die "apply failed: $(tail -20 "$TMP/apply.log")"
total=$(( $(date +%s%3N) - start ))

J=$TMP/local/.upshift/journal.db
q() { sqlite3 "$J" "$1"; }
window=$(q "select max(at_ms) - (select min(at_ms) from steps where step like 'stop.%' and state='started') from steps where step like 'health.%' and state='done'")
online=$(q "select (select at_ms from steps where step='backup.online' and state='done') - (select at_ms from steps where step='backup.online' and state='started')")
final=$(q "select (select at_ms from steps where step='backup.final' and state='done') - (select at_ms from steps where step='backup.final' and state='started')")
reused=no; grep -q "did not change since the online backup" "$TMP/apply.log" && reused=yes

echo "| notes.db MiB | apply total s | online backup over ssh s | final backup s | online snapshot reused | maintenance window s |"
echo "|---|---|---|---|---|---|"
printf '| %s | %.2f | %.2f | %.2f | %s | %.2f |\n' "$DB_MB" "$(bc -l <<<"$total/1000")" "$(bc -l <<<"$online/1000")" \
  "$(bc -l <<<"$final/1000")" "$reused" "$(bc -l <<<"$window/1000")"
