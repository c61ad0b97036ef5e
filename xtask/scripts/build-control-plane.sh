#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager v1.20.2 from Debian's `kubernetes`
# source package and installs etcd from Debian, caching the binaries in $1.
# Called by `cargo xtask cluster up` when the cache is empty; safe to re-run.
set -euo pipefail
out="$1"
mkdir -p "$out"
if [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" && -x "$out/etcd" ]]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt_updated=
need_pkg() {
  dpkg -s "$@" >/dev/null 2>&1 && return 0
  if [[ -z "$apt_updated" ]]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq "$@" >/dev/null
}
need_pkg etcd-server golang-go rsync jq golang-github-modern-go-reflect2-dev dpkg-dev
ln -sf "$(command -v etcd)" "$out/etcd"

if [[ -x "$out/kube-apiserver" && -x "$out/kube-controller-manager" ]]; then exit 0; fi

# A deb-src entry derived from the machine's own Debian source list (no host hard-coded).
src_list=/etc/apt/sources.list.d/weir-deb-src.sources
if [[ ! -f "$src_list" ]]; then
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
apt-get source --download-only kubernetes >/dev/null 2>&1 || apt-get source --download-only kubernetes
orig=$(ls kubernetes_*.orig.tar.gz | head -n1)
mkdir src && tar -xzf "$orig" -C src --strip-components=1

# The vendored reflect2 v1.0.1 crashes kube-apiserver under Go >= 1.18; use Debian's 1.0.2.
rm -rf src/vendor/github.com/modern-go/reflect2
mkdir -p src/vendor/github.com/modern-go/reflect2
cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go /usr/share/gocode/src/github.com/modern-go/reflect2/*.s \
  src/vendor/github.com/modern-go/reflect2/ 2>/dev/null || \
  cp /usr/share/gocode/src/github.com/modern-go/reflect2/*.go src/vendor/github.com/modern-go/reflect2/
rm -f src/vendor/github.com/modern-go/reflect2/*_test.go

export GOPATH="$work/gopath"
mkdir -p "$GOPATH/src/k8s.io"
ln -s "$work/src" "$GOPATH/src/k8s.io/kubernetes"
cd "$GOPATH/src/k8s.io/kubernetes"
export GO111MODULE=off GOFLAGS=-mod=vendor GOCACHE="$work/gocache"
CGO_ENABLED=0 make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >"$work/build.log" 2>&1 || {
  tail -n 60 "$work/build.log" >&2; exit 1; }
bin=$(dirname "$(find _output -name kube-apiserver -type f | head -n1)")
install -m 0755 "$bin/kube-apiserver" "$bin/kube-controller-manager" "$out/"
