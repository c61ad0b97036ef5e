#!/usr/bin/env bash
# Records the helm-made fixtures that helm/tests/repo_against_helm.rs compares with, using
# the real helm v4 (WEIR_HELM, else ~/.cache/weir/helm/helm as `cargo xtask test` installs
# it). Run it again after changing a chart under charts/ or src/, and commit its output:
#
#   charts/parent/charts/packaged-0.2.0.tgz   src/packaged, packaged by helm
#   repository/*.tgz, repository/old/*.tgz    the charts, packaged by helm
#   repository/index.yaml                     `helm repo index` (relative URLs)
#   index-absolute.yaml                       `helm repo index --url ...` of the same files
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
helm="${WEIR_HELM:-${XDG_CACHE_HOME:-$HOME/.cache}/weir/helm/helm}"
[ -x "$helm" ] || { echo "helm not found at $helm: run cargo xtask test or set WEIR_HELM" >&2; exit 1; }
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
export HELM_CACHE_HOME="$home/cache" HELM_CONFIG_HOME="$home/config" HELM_DATA_HOME="$home/data"
"$helm" version --short

# The subchart parent vendors as an archive.
rm -f "$here"/charts/parent/charts/packaged-*.tgz
"$helm" package "$here/src/packaged" -d "$here/charts/parent/charts"

# A repository: simple at several versions (pre-releases, 0.10 after 0.2), the other charts
# once, legacy one folder down.
repo="$here/repository"
rm -rf "$repo"
mkdir -p "$repo/old"
for v in 0.1.0 0.2.0 0.10.0 1.0.0-rc.1 1.0.0 1.1.0 1.2.0-beta.1 2.0.0-alpha.1; do
    "$helm" package "$here/charts/simple" --version "$v" --app-version "app-$v" -d "$repo"
done
"$helm" package "$here/charts/parent" -d "$repo"
"$helm" package "$here/charts/ignored" -d "$repo"
"$helm" package "$here/charts/legacy" -d "$repo/old"
"$helm" repo index "$repo"

# The same archives indexed with absolute URLs.
absolute="$home/absolute"
mkdir -p "$absolute/old"
cp "$repo"/*.tgz "$absolute/"
cp "$repo"/old/*.tgz "$absolute/old/"
"$helm" repo index "$absolute" --url https://charts.example.com/stable
cp "$absolute/index.yaml" "$here/index-absolute.yaml"
