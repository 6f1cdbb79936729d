#!/usr/bin/env bash
# The certificates of deploy/k8s/overlays/dev: one Secret <name>-tls per workload in
# namespace bazaar-dev, keys ca.pem, <name>.pem and <name>-key.pem, from certs/
# (`make certs`). kustomize cannot make them: it reads no file outside the overlay,
# and private keys are never committed. Idempotent (create --dry-run | apply), so
# it also refreshes them; a pod reads its certificate when it starts, so restart
# after a refresh: kubectl -n bazaar-dev rollout restart deployment statefulset/nats
#
#   scripts/k8s-dev-secrets.sh            apply them with the current kubectl context
#   scripts/k8s-dev-secrets.sh --dry-run  print the manifests instead
# CERTS_DIR=<dir> reads another directory than certs/.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CERTS_DIR="${CERTS_DIR:-$ROOT/certs}"
NAMESPACE=bazaar-dev
# The workloads that mount a <name>-tls Secret: the services, the gateway, the console
# (this overlay's alone), NATS and the Job nats-provision, as nats-admin
# (test/deploy/kubernetes.test.ts checks the two lists agree).
IDENTITIES=(catalog inventory orders payments notifications gateway console nats nats-admin)

case "${1:-}" in
  "") apply=true ;;
  --dry-run) apply=false ;;
  *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
esac

manifests() {
  # The namespace as the overlay declares it, so this may run before `kubectl apply -k`.
  cat "$ROOT/deploy/k8s/overlays/dev/namespace.yaml"
  for name in "${IDENTITIES[@]}"; do
    for file in ca.pem "$name.pem" "$name-key.pem"; do
      [[ -r "$CERTS_DIR/$file" ]] || { echo "k8s-dev-secrets: cannot read $CERTS_DIR/$file; run \`make certs\` first" >&2; exit 1; }
    done
    echo "---"
    kubectl create secret generic "$name-tls" --namespace "$NAMESPACE" \
      --from-file="ca.pem=$CERTS_DIR/ca.pem" \
      --from-file="$name.pem=$CERTS_DIR/$name.pem" \
      --from-file="$name-key.pem=$CERTS_DIR/$name-key.pem" \
      --dry-run=client -o yaml
  done
}

# All or nothing: every file is read before anything reaches the cluster.
output="$(manifests)"
if [[ "$apply" == true ]]; then
  printf '%s\n' "$output" | kubectl apply -f -
else
  printf '%s\n' "$output"
fi
