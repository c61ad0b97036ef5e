#!/bin/sh
# The helm command `kubectl kustomize --enable-helm` runs for the `helm-charts-*` fixtures.
# kubectl 1.32's Kustomize (v5.5) first runs `helm version -c --short` and refuses any major
# version but 3; helm v4 has no `-c` flag. This answers that one question and hands every
# other command (`helm template ...`) to helm v4 ($WEIR_HELM, default the binary
# `cargo xtask test` installs), which renders what Weir is compared with.
if [ "$1" = version ]; then
  echo "v3.0.0+helm-v4-shim"
  exit 0
fi
exec "${WEIR_HELM:-$HOME/.cache/weir/helm/helm}" "$@"
