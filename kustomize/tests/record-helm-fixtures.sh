#!/bin/sh
# Records kubectl's output for the `helm-charts-*` fixtures (fixture.json has "helm": true),
# as `cargo xtask kustomize-fixtures` does for the others, with
# `kubectl kustomize --enable-helm --helm-command helm-as-v3.sh` (see that file).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for fixture in "$here"/kustomize/*/; do
  fixture=${fixture%/}
  grep -q '"helm": true' "$fixture/fixture.json" 2>/dev/null || continue
  build=$(sed -n 's/.*"build": "\(.*\)".*/\1/p' "$fixture/fixture.json")
  rm -f "$fixture/expected.yaml" "$fixture/expected-error.txt"
  if kubectl kustomize --enable-helm --helm-command "$here/helm-as-v3.sh" \
    "$fixture/in/${build:-.}" >"$fixture/out.tmp" 2>"$fixture/err.tmp"; then
    mv "$fixture/out.tmp" "$fixture/expected.yaml"
    rm -f "$fixture/err.tmp"
  else
    # kubectl prefixes its error with a time stamp and PID: keep only the message.
    sed -e "s|$fixture/in|<fixture>|g" -e "s|$here|<tests>|g" -e 's/^.*"command failed" //' "$fixture/err.tmp" \
      >"$fixture/expected-error.txt"
    rm -f "$fixture/out.tmp" "$fixture/err.tmp"
  fi
done
