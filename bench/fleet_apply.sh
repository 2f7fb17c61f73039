#!/usr/bin/env bash
# Fleet rollout benchmark: N small demo installations (each its own auth +
# notes processes, SQLite notes, 3 notes), no links between them, upgraded
# 1.0.0 -> 1.1.0 (one hop each) by `upshift fleet apply`, once with
# max_parallel = 1 and once with max_parallel = 8, side by side in one run.
# Each run gets fresh installations.
#
# Usage: bench/fleet_apply.sh [N]   (default 50)
# Env:   BIN_DIR (use the binaries there instead of building target/release),
#        PARALLEL ("1 8"), KEEP=1 (keep the temp dir).
# Prints a markdown table on stdout; progress goes to stderr.

set -euo pipefail
N=${1:-50}
PARALLEL=${PARALLEL:-"1 8"}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[fleet-apply %s] %s\n' "$(date +%T)" "$*" >&2; }
if [[ -n ${BIN_DIR:-} ]]; then
  BIN_DIR=$(cd "$BIN_DIR" && pwd)
else
  log "building release binaries"
  (cd "$ROOT" && cargo build --release -p upshift-cli -p upshift-demo >&2)
  BIN_DIR=$ROOT/target/release
fi
TMP=$(mktemp -d)
# Copies, so a rebuild during the run cannot pull the binaries from under it.
mkdir -p "$TMP/bin" && cp "$BIN_DIR/upshift" "$BIN_DIR/upshift-demo" "$TMP/bin/"
UPSHIFT=$TMP/bin/upshift
export UPSHIFT_DEMO_BIN=$TMP/bin/upshift-demo
stop_all() {
  local p
  for p in "$TMP"/p*/*/run/*.pid; do
    [[ -f $p ]] && kill "$(cat "$p")" 2>/dev/null || true
  done
}
trap 'stop_all; [[ ${KEEP:-} == 1 ]] || rm -rf "$TMP"' EXIT

now_ms() { date +%s%3N; }
echo "| installations | max_parallel | waves | set-up s | fleet apply s | per installation s | outcome |"
echo "|---|---|---|---|---|---|---|"
for par in $PARALLEL; do
  dir=$TMP/p$par
  mkdir -p "$dir"
  printf '[rollout]\nmax_parallel = %s\n' "$par" >"$dir/fleet.toml"
  log "max_parallel = $par: setting up $N demo installations"
  t0=$(now_ms)
  for ((i = 0; i < N; i++)); do
    "$UPSHIFT" demo --no-upgrade --dir "$dir/i$i" >/dev/null 2>&1 || { log "demo $i failed"; exit 1; }
    printf '\n[installations.i%s]\nmanifest = "i%s/upshift.toml"\n' "$i" "$i" >>"$dir/fleet.toml"
  done
  setup=$(($(now_ms) - t0))
  waves=$("$UPSHIFT" --json fleet plan "$dir/fleet.toml" --to 1.1.0 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["waves"]))')
  log "max_parallel = $par: fleet apply"
  t0=$(now_ms)
  if "$UPSHIFT" -y fleet apply "$dir/fleet.toml" --to 1.1.0 >/dev/null 2>"$dir/apply.log"; then outcome=done; else outcome="failed (see $dir/apply.log)"; fi
  apply=$(($(now_ms) - t0))
  stop_all
  awk -v n="$N" -v p="$par" -v w="$waves" -v s="$setup" -v a="$apply" -v o="$outcome" \
    'BEGIN { printf "| %d | %d | %d | %.1f | %.1f | %.2f | %s |\n", n, p, w, s/1000, a/1000, a/1000/n, o }'
done
