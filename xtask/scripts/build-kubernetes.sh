#!/usr/bin/env bash
# Builds the Kubernetes v1.20.2 binaries the local cluster runs (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kube-proxy) from Debian's `kubernetes`
# source package in ONE `make WHAT=...` (the packages they share compile once), plus the
# upstream pause binary (build/pause/linux/pause.c, static), and links Debian's etcd.
# Caches everything in $1. Called by `cargo xtask cluster up` when the cache is incomplete;
# safe to re-run. Prints a line per phase with its duration.
set -euo pipefail
out="$1"
binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
mkdir -p "$out"
complete() {
  for b in "${binaries[@]}" pause etcd; do [[ -x "$out/$b" ]] || return 1; done
}
complete && exit 0
export DEBIAN_FRONTEND=noninteractive
apt_updated=
need_pkg() {
  dpkg -s "$@" >/dev/null 2>&1 && return 0
  if [[ -z "$apt_updated" ]]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq "$@" >/dev/null
}
need_pkg etcd-server golang-go rsync jq golang-github-modern-go-reflect2-dev dpkg-dev gcc libc6-dev
ln -sf "$(command -v etcd)" "$out/etcd"
complete && exit 0

# A deb-src entry derived from the machine's own Debian source list (no host hard-coded).
src_list=/etc/apt/sources.list.d/weir-deb-src.sources
if [[ -z "$(apt-cache showsrc kubernetes 2>/dev/null)" ]]; then
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [[ -z "$uri" ]]; then
    uri=$(awk '/^deb / && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
  suite=$(. /etc/os-release; echo "$VERSION_CODENAME")
  printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$suite" >"$src_list"
  apt-get update -qq
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/weir-k8s-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
t0=$(date +%s)
apt-get source --download-only kubernetes >/dev/null 2>&1 || apt-get source --download-only kubernetes
orig=$(ls kubernetes_*.orig.tar.gz | head -n1)
mkdir src && tar -xzf "$orig" -C src --strip-components=1
echo "build-kubernetes: source downloaded and extracted in $(($(date +%s) - t0))s" >&2

# The vendored reflect2 v1.0.1 crashes kube-apiserver under Go >= 1.18; use Debian's 1.0.2.
rm -rf src/vendor/github.com/modern-go/reflect2
mkdir -p src/vendor/github.com/modern-go/reflect2
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s \
  src/vendor/github.com/modern-go/reflect2/ 2>/dev/null || \
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go src/vendor/github.com/modern-go/reflect2/
rm -f src/vendor/github.com/modern-go/reflect2/*_test.go

# The pod sandbox ("pause") binary: upstream's C source, statically linked.
pause_c=$(find src/build/pause -name pause.c | head -n1)
gcc -Os -Wall -static -DVERSION=v3.4.1-weir -o "$work/pause" "$pause_c"
strip "$work/pause"

export GOPATH="$work/gopath" HOME="$work/home"
mkdir -p "$GOPATH/src/k8s.io" "$HOME"
ln -s "$work/src" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
export GO111MODULE=off GOFLAGS=-mod=vendor GOCACHE="$work/gocache"
what=""
for b in "${binaries[@]}"; do what+=" cmd/$b"; done
t1=$(date +%s)
echo "build-kubernetes: make WHAT=\"${what# }\" (one invocation; ~7 min on an idle 2-core machine)" >&2
CGO_ENABLED=0 make WHAT="${what# }" >"$work/build.log" 2>&1 &
make_pid=$!
# Progress: a line a minute with the size of the build's output so far.
while kill -0 "$make_pid" 2>/dev/null; do
  sleep 60
  kill -0 "$make_pid" 2>/dev/null || break
  echo "build-kubernetes: still compiling ($(($(date +%s) - t1))s; $(du -sm "$work" 2>/dev/null | cut -f1) MB in the work dir)" >&2
done
wait "$make_pid" || { tail -n 60 "$work/build.log" >&2; exit 1; }
echo "build-kubernetes: make finished in $(($(date +%s) - t1))s" >&2
for b in "${binaries[@]}"; do
  install -m 0755 "$(find _output -name "$b" -type f | head -n1)" "$out/"
done
install -m 0755 "$work/pause" "$out/pause"
