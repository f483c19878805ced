#!/usr/bin/env bash
# helm, kubeconform and promtool, built from the Go module proxy into the cache (once per version).
#
#   deploy/k8s-tools.sh build   go install the three tools unless the cache has them
#   deploy/k8s-tools.sh path    print the directory holding them (helm, kubeconform, promtool)
#
# They check the Helm chart (helm lint, helm template | kubeconform -strict against the schemas in
# deploy/helm/schemas/) and the Prometheus rules (promtool check rules / test rules): see
# tests/deploy/. The binaries live outside the repository (PR_CACHE_DIR, default
# ~/.cache/pipeline-review); nothing built here is committed.
set -euo pipefail

HELM_VERSION="${PR_HELM_VERSION:-v3.22.0}"
KUBECONFORM_VERSION="${PR_KUBECONFORM_VERSION:-v0.8.0}"
# Prometheus tags its Go module v0.<minor*100+patch>: v0.316.0 is Prometheus 3.16.0.
PROMETHEUS_VERSION="${PR_PROMETHEUS_MODULE_VERSION:-v0.316.0}"
CACHE_DIR="${PR_CACHE_DIR:-$HOME/.cache/pipeline-review}"
BIN_DIR="$CACHE_DIR/k8s-tools-2-helm-$HELM_VERSION-kubeconform-$KUBECONFORM_VERSION-prometheus-$PROMETHEUS_VERSION"

log() { echo "[k8s-tools] $*" >&2; }

find_go() {
  if command -v go >/dev/null; then command -v go; return; fi
  if [ -x /usr/local/go/bin/go ]; then echo /usr/local/go/bin/go; return; fi
  log "Go is needed to build helm, kubeconform and promtool"; exit 1
}

# go install one package@version into BIN_DIR through a temporary GOBIN: a half build is never taken as done.
# Extra arguments are build flags (-tags ...).
install_one() {
  local name="$1" package="$2"; shift 2
  [ -x "$BIN_DIR/$name" ] && return 0
  local go tmp start
  go="$(find_go)"
  tmp="$(mktemp -d "$CACHE_DIR/.k8s-tools-build.XXXXXX")"
  start=$SECONDS
  log "building $name ($package) from the Go module proxy"
  # -trimpath and no VCS stamp: the build does not depend on where the module cache is; -s -w: no
  # symbol tables, a faster link and a third of the size.
  (cd "$tmp" && GOBIN="$tmp" GOFLAGS="-mod=mod -trimpath -buildvcs=false" CGO_ENABLED=0 \
     "$go" install -ldflags="-s -w" "$@" "$package") \
    || { rm -rf "$tmp"; log "building $name failed"; exit 1; }
  mv "$tmp/$name" "$BIN_DIR/$name" && rm -rf "$tmp"
  log "built $name in $((SECONDS - start)) s"
}

build() {
  mkdir -p "$BIN_DIR"
  install_one kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  install_one helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  # remove_all_sd leaves out Prometheus's service-discovery plug-ins (AWS, Azure, Kubernetes, ...):
  # promtool checks rules without them, and they are most of its build time.
  install_one promtool "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" -tags remove_all_sd
}

case "${1:-}" in
  build) build ;;
  path) echo "$BIN_DIR" ;;
  *) echo "usage: $0 build|path" >&2; exit 2 ;;
esac
