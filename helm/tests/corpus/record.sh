#!/usr/bin/env bash
# Records helm's output for corpus cases.
# Usage: ./record.sh [case...]   (no arguments = every case folder)
# Writes <case>/expected.yaml (stdout, exit 0) or <case>/expected.err (stderr, non-zero exit).
set -u
HELM="${HELM:-$HOME/.cache/weir/helm/helm}"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
export HELM_CACHE_HOME="$tmp/cache" HELM_CONFIG_HOME="$tmp/config" HELM_DATA_HOME="$tmp/data"
unset KUBECONFIG HELM_NAMESPACE HELM_KUBECONTEXT
# date functions (toDate, date, ...) use the local time zone: record in UTC
export TZ=UTC
export KUBECONFIG="$tmp/no-kubeconfig"
if [ "$#" -eq 0 ]; then
  set -- $(cd "$here" && for d in */; do [ -d "$d" ] && echo "${d%/}"; done)
fi
status=0
for c in "$@"; do
  c="${c%/}"
  dir="$here/$c"
  if [ ! -d "$dir" ]; then echo "no such case: $c" >&2; status=1; continue; fi
  args=()
  if [ -f "$dir/args" ]; then
    mapfile -t lines < "$dir/args"
    for l in "${lines[@]}"; do
      [ -z "$l" ] && continue
      [[ "$l" == \#* ]] && continue
      args+=("$l")
    done
  else
    args=(release chart)
  fi
  (
    cd "$dir" || exit 1
    "$HELM" template "${args[@]}" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq 0 ]; then
      cp "$tmp/out" expected.yaml; rm -f expected.err
      echo "$c: ok"
    else
      cp "$tmp/err" expected.err; rm -f expected.yaml
      echo "$c: error (exit $rc)"
    fi
  )
done
exit $status
