#!/usr/bin/env bash
# Fleet planning benchmark: a generated fleet of N small installations of the
# demo product (one auth installation that the other N-1 use), planned to
# 3.0.0 with `upshift fleet plan`. Target: under 1 s for 50 installations.
#
# Usage: bench/fleet.sh [N]   (default 50; also runs 1 and 10 side by side)
# Env:   RUNS (5), BIN_DIR (use the binaries there instead of building target/release).
# Prints a markdown table on stdout; progress goes to stderr.

set -euo pipefail
N=${1:-50}
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
log() { printf '[fleet %s] %s\n' "$(date +%T)" "$*" >&2; }
if [[ -n ${BIN_DIR:-} ]]; then
  BIN_DIR=$(cd "$BIN_DIR" && pwd)
else
  log "building release binaries"
  (cd "$ROOT" && cargo build --release -p upshift-cli >&2)
  BIN_DIR=$ROOT/target/release
fi
UPSHIFT=$BIN_DIR/upshift
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# A fleet of $1 installations in directory $2.
generate() {
  local n=$1 dir=$2 i name
  mkdir -p "$dir"
  printf '[rollout]\nmax_parallel = 8\n' >"$dir/fleet.toml"
  for ((i = 0; i < n; i++)); do
    if ((i == 0)); then name=auth; else name=notes-$i; fi
    mkdir -p "$dir/$name"
    sed -e "0,/^name = \"demo\"/s//name = \"$name\"/" "$ROOT/examples/demo/upshift.toml" >"$dir/$name/upshift.toml"
    printf '\n[installations.%s]\nmanifest = "%s/upshift.toml"\n' "$name" "$name" >>"$dir/fleet.toml"
    ((i == 0)) || printf 'uses = ["auth"]\n' >>"$dir/fleet.toml"
  done
}

now_ms() { date +%s%3N; }
echo "| installations | waves | median ms | worst ms | target |"
echo "|---|---|---|---|---|"
for n in 1 10 "$N"; do
  dir=$TMP/fleet-$n
  generate "$n" "$dir"
  times=()
  for ((r = 0; r < RUNS; r++)); do
    t0=$(now_ms)
    "$UPSHIFT" --json fleet plan "$dir/fleet.toml" --to 3.0.0 >"$dir/plan.json"
    times+=($(($(now_ms) - t0)))
  done
  waves=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["waves"]))' "$dir/plan.json")
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  median=$(sed -n "$(((RUNS + 1) / 2))p" <<<"$sorted")
  worst=$(tail -1 <<<"$sorted")
  verdict=$([[ $worst -lt 1000 ]] && echo met || echo MISSED)
  echo "| $n | $waves | $median | $worst | < 1000 ms: $verdict |"
done
