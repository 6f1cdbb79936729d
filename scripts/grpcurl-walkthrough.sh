#!/usr/bin/env bash
# The README's grpcurl walk-through, runnable: list and describe over server
# reflection, place an order, read it back, see the customer's notification,
# and a call outside the authorization policy. Needs `make up` running (it
# issues certs/) and grpcurl on PATH (https://github.com/fullstorydev/grpcurl).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v grpcurl >/dev/null; then
  echo "grpcurl is not on PATH: install it (e.g. brew install grpcurl, or go install github.com/fullstorydev/grpcurl/cmd/grpcurl@latest)" >&2
  exit 1
fi
if [ ! -f certs/operator.pem ]; then
  echo "certs/operator.pem is missing: run make up (or make certs)" >&2
  exit 1
fi

# The operator may read; writes are the gateway's (deploy/authz-policy.yaml).
OP=(-cacert certs/ca.pem -cert certs/operator.pem -key certs/operator-key.pem)
GW=(-cacert certs/ca.pem -cert certs/gateway.pem -key certs/gateway-key.pem)
customer="walkthrough-$RANDOM"
key="walkthrough-key-$RANDOM$RANDOM"
show() { printf '\n$ %s\n' "$*"; "$@"; }

show grpcurl "${OP[@]}" localhost:50051 list
show grpcurl "${OP[@]}" localhost:50053 describe bazaar.orders.v1.OrderService
show grpcurl "${OP[@]}" -d '{"id": "v60-dripper"}' localhost:50051 bazaar.catalog.v1.CatalogService/GetProduct
show grpcurl "${OP[@]}" -d '{"product_id": "v60-dripper"}' localhost:50052 bazaar.inventory.v1.InventoryService/GetStock

request=$(printf '{"customer_id": "%s", "items": [{"product_id": "v60-dripper", "quantity": 2}], "payment_token": "tok_visa", "idempotency_key": "%s"}' "$customer" "$key")
printf '\n$ grpcurl %s -d %q localhost:50053 bazaar.orders.v1.OrderService/PlaceOrder\n' "${GW[*]}" "$request"
placed=$(grpcurl "${GW[@]}" -d "$request" localhost:50053 bazaar.orders.v1.OrderService/PlaceOrder)
echo "$placed"
order_id=$(sed -n 's/.*"id": "\(ord_[0-9a-f]*\)".*/\1/p' <<<"$placed" | head -n 1)
payment_id=$(sed -n 's/.*"paymentId": "\(pay_[0-9a-f]*\)".*/\1/p' <<<"$placed" | head -n 1)

show grpcurl "${OP[@]}" -d "{\"order_id\": \"$order_id\"}" localhost:50053 bazaar.orders.v1.OrderService/GetOrder
show grpcurl "${OP[@]}" -d "{\"payment_id\": \"$payment_id\"}" localhost:50054 bazaar.payments.v1.PaymentService/GetPayment
sleep 1 # the confirmation travels as an event: outbox → JetStream → notifications
show grpcurl "${OP[@]}" -d "{\"customer_id\": \"$customer\"}" localhost:50055 bazaar.notifications.v1.NotificationService/ListNotifications

# The operator may look, not touch: PERMISSION_DENIED (grpcurl exits non-zero).
show grpcurl "${OP[@]}" -d "{\"order_id\": \"$order_id\"}" localhost:50053 bazaar.orders.v1.OrderService/CancelOrder || true
