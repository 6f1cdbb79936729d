// Bazaar console: the page's behaviour. A plain ES module, no build step, no dependencies.
// Everything the server sends is untrusted text: the DOM is built with textContent and
// attributes only, never from markup strings.

const SVG_NS = "http://www.w3.org/2000/svg";
const FEED_LIMIT = 200;
const FINAL_STATUSES = new Set(["REJECTED", "CANCELLED"]);
const CANCELLABLE = new Set(["PENDING", "CONFIRMED"]);
/** Box centres, in the map's viewBox units, of the nodes the mesh is known to have. */
const POSITIONS = {
  gateway: [100, 230], orders: [470, 230],
  catalog: [840, 75], inventory: [840, 230], payments: [840, 385],
  notifications: [170, 425], nats: [470, 545], postgres: [840, 545],
};
/** Free spots for nodes the page does not know, in order of preference. */
const SPARE_POSITIONS = [[100, 75], [100, 545], [655, 465], [470, 75], [655, 75]];
const BOX_WIDTH = 184;
const LINE_HEIGHT = 17;
const HEALTH_ICONS = { SERVING: "●", NOT_SERVING: "✕", unreachable: "✕", unknown: "?" };

const state = {
  products: new Map(), // id → product, as the catalog last said
  cart: new Map(), // productId → quantity
  orders: new Map(), // orderId → this session's view of one order
  customerNames: new Map(),
  activeFaults: [],
  placing: false,
  feedIds: new Set(), // event ids on screen: a reconnecting stream replays the recent events
  positions: new Map(), // node id → [x, y], kept so that nodes never jump around
  nodes: new Map(), // node id → { g, box }
};

const $ = (selector) => document.querySelector(selector);

// ---- DOM helpers -------------------------------------------------------------------------
/** An element: props become attributes, except `text` (textContent) and on* (listeners). */
const el = (tag, props = {}, ...children) => build(document.createElement(tag), props, children);
const svg = (tag, props = {}, ...children) => build(document.createElementNS(SVG_NS, tag), props, children);
/** Ids for label and aria-describedby pairs: made here, never from server text. */
let lastId = 0;
const newId = (prefix) => `${prefix}-${++lastId}`;

function build(node, props, children) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined)); // strings become text nodes
  return node;
}

// ---- Formatting --------------------------------------------------------------------------
/** Minor units as money, with the currency's own number of decimals (EUR 2, JPY 0). */
function money(minor, currency) {
  try {
    const format = new Intl.NumberFormat(undefined, { style: "currency", currency });
    return format.format(Number(minor ?? 0) / 10 ** format.resolvedOptions().maximumFractionDigits);
  } catch {
    return `${Number(minor ?? 0)} ${currency || ""} (minor units)`;
  }
}

const pad = (n) => String(n).padStart(2, "0");
function clock(iso) {
  const at = new Date(iso ?? Date.now());
  return Number.isNaN(at.getTime()) ? "--:--:--" : `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

const isNumber = (value) => typeof value === "number" && Number.isFinite(value);
const rate = (value) => (isNumber(value) ? `${value.toFixed(1)}/s` : "–/s");
const millis = (value) => (!isNumber(value) ? "–" : value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`);
const percent = (value) => (isNumber(value) ? `${Math.round(value * 1000) / 10}%` : "–%");
const failing = (item) => isNumber(item.errorRate) && item.errorRate > 0;
/** The gateway speaks proto enum names ("ORDER_STATUS_CONFIRMED"); the page shows the short word. */
const statusOf = (order) => String(order?.status ?? "UNKNOWN").replace(/^ORDER_STATUS_/, "");
const totalOf = (order) => (order?.total ? money(order.total.amountMinor ?? order.total.minorUnits, order.total.currencyCode) : "");

// ---- API ---------------------------------------------------------------------------------
/** One call to the console's API; a network failure becomes an error answer, so callers handle one shape. */
async function api(method, path, body) {
  try {
    const json = body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
    const response = await fetch(path, { method, ...json });
    const parsed = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, body: parsed ?? {} };
  } catch (error) {
    return { ok: false, status: 0, body: { error: { message: `the console did not answer (${error.message})` } } };
  }
}

/** The gateway's error message, with its field violations when it lists any. */
function errorText(answer) {
  const error = answer.body?.error ?? {};
  const violations = Array.isArray(error.field_violations) ? error.field_violations.map((v) => `${v.field}: ${v.description}`) : [];
  return [String(error.message || `HTTP ${answer.status}`), ...violations].join("; ");
}

/** The shop's last outcome. The tone picks colour and icon; the words carry the meaning on their own. */
function say(text, tone = "error") {
  $("#shop-message").textContent = text;
  $("#shop-message").dataset.tone = tone;
}

// ---- Shop: customers, catalog, cart ------------------------------------------------------
async function loadCustomers() {
  const answer = await api("GET", "/console/api/customers");
  if (!answer.ok) return say(`Could not load the customers: ${errorText(answer)}`);
  const customers = answer.body.customers ?? [];
  state.customerNames = new Map(customers.map((c) => [c.id, c.name]));
  $("#customer").replaceChildren(...customers.map((c) => el("option", { value: c.id, text: `${c.name} (${c.id})` })));
  $("#payment-token").replaceChildren(...(answer.body.paymentTokens ?? []).map((t) => el("option", { value: t.token, text: t.label })));
  refreshNotifications();
}

/** The catalog, updated in place: a row someone is typing in or clicking is never swapped out. */
async function loadProducts() {
  const answer = await api("GET", "/console/api/products");
  if (!answer.ok) return say(`Could not load the catalog: ${errorText(answer)}`);
  const products = answer.body.products ?? [];
  state.products = new Map(products.map((p) => [p.id, p]));
  const body = $("#catalog");
  const rows = new Map([...body.children].map((row) => [row.dataset.product, row]));
  products.forEach((product, i) => {
    const row = rows.get(product.id) ?? productRow(product);
    row.querySelector("[data-stock]").textContent = isNumber(product.available) ? String(product.available) : "?";
    if (body.children[i] !== row) body.insertBefore(row, body.children[i] ?? null);
    rows.delete(product.id);
  });
  for (const gone of rows.values()) gone.remove();
  renderCart();
}

function productRow(product) {
  const quantity = el("input", { type: "number", id: newId("qty"), min: 1, max: 100, value: 1, class: "qty" });
  const name = el("td", { id: newId("product"), text: product.name });
  return el("tr", { "data-product": product.id }, name,
    el("td", { class: "num", text: money(product.priceMinor, product.currencyCode) }),
    el("td", { class: "num", "data-stock": "", title: "available in stock (? when inventory cannot say)" }),
    el("td", {}, el("label", { for: quantity.id, class: "visually-hidden", text: `Quantity of ${product.name}` }), quantity),
    el("td", {}, el("button", { type: "button", text: "Add", "aria-describedby": name.id, onclick: () => addToCart(product.id, quantity) })));
}

function addToCart(productId, input) {
  const quantity = Math.min(100, Math.max(1, Math.trunc(Number(input.value)) || 1));
  state.cart.set(productId, (state.cart.get(productId) ?? 0) + quantity);
  renderCart();
}

function renderCart() {
  const lines = [...state.cart].map(([id, quantity]) => ({ product: state.products.get(id) ?? { id, name: id, priceMinor: 0, currencyCode: "" }, quantity }));
  $("#cart").replaceChildren(...lines.map(({ product, quantity }) => el("li", {},
    el("span", { text: `${quantity} × ${product.name}` }),
    el("span", { class: "num", text: money(product.priceMinor * quantity, product.currencyCode) }),
    el("button", { type: "button", class: "quiet", text: "Remove", onclick: () => (state.cart.delete(product.id), renderCart()) }))));
  // One sum per currency: a cart of mixed currencies shows each rather than a wrong total.
  const totals = new Map();
  for (const { product, quantity } of lines) totals.set(product.currencyCode, (totals.get(product.currencyCode) ?? 0) + product.priceMinor * quantity);
  $("#cart-total").textContent = [...totals].map(([currency, minor]) => money(minor, currency)).join(" + ") || "—";
  $("#cart-empty").hidden = lines.length > 0;
  $("#place-order").disabled = lines.length === 0 || state.placing;
}

// ---- Shop: orders and notifications ------------------------------------------------------
async function placeOrder() {
  const customerId = $("#customer").value;
  const items = [...state.cart].map(([productId, quantity]) => ({ productId, quantity }));
  state.placing = true;
  renderCart();
  say("Placing the order…", "busy");
  const answer = await api("POST", "/console/api/orders", { customerId, items, paymentToken: $("#payment-token").value });
  state.placing = false;
  if (answer.ok && answer.body.order) {
    state.cart.clear();
    trackOrder(answer.body.order, customerId);
    say(`Order ${answer.body.order.id}: ${statusOf(answer.body.order)}`, "ok");
  } else {
    // A declined card or missing stock is the shop saying no (the order exists as REJECTED); the rest is a failure.
    const code = answer.body?.error?.code;
    say(code === "FAILED_PRECONDITION" ? `Rejected: ${errorText(answer)}` : `Order failed${code ? ` (${code})` : ""}: ${errorText(answer)}`);
  }
  renderCart();
  afterOrderAction();
}

function trackOrder(order, customerId) {
  const entry = { id: order.id, customerId: order.customerId || customerId, placedAt: Date.now(), cancelUntil: 0, busy: false };
  const idView = el("span", { id: newId("order"), class: "order-id mono", text: order.id, title: order.id });
  entry.statusView = el("span", { class: "status", "data-order-status": "" });
  entry.reasonView = el("span", { class: "reason small" });
  entry.cancelButton = el("button", { type: "button", text: "Cancel", "aria-describedby": idView.id, onclick: () => cancelOrder(entry) });
  const who = `${state.customerNames.get(entry.customerId) ?? entry.customerId} · ${totalOf(order)}`;
  $("#orders").prepend(el("li", { "data-order": order.id }, idView, entry.statusView, el("span", { class: "meta muted small", text: who }), entry.cancelButton, entry.reasonView));
  $("#orders-empty").hidden = true;
  state.orders.set(order.id, entry);
  showOrder(entry, order);
}

function showOrder(entry, order) {
  entry.status = statusOf(order);
  entry.statusView.textContent = entry.status;
  entry.statusView.dataset.status = entry.status;
  entry.reasonView.textContent = order.statusReason ? String(order.statusReason) : "";
  if (entry.status === "CANCELLED") entry.cancelUntil = 0;
  entry.cancelButton.disabled = entry.cancelUntil > Date.now() || !CANCELLABLE.has(entry.status);
}

const orderPath = (entry, suffix = "") => `/console/api/orders/${encodeURIComponent(entry.id)}${suffix}?customer=${encodeURIComponent(entry.customerId)}`;

/** Poll until the order settles: CONFIRMED for 10 s, REJECTED or CANCELLED; after a cancel, until CANCELLED (a minute at most). */
function needsPolling(entry) {
  if (entry.cancelUntil > Date.now()) return true;
  return !FINAL_STATUSES.has(entry.status) && !(entry.status === "CONFIRMED" && Date.now() - entry.placedAt > 10_000);
}

function pollOrders() {
  for (const entry of state.orders.values()) {
    if (entry.busy || !needsPolling(entry)) continue;
    entry.busy = true; // one request per order at a time, however slow the mesh is
    api("GET", orderPath(entry)).then((answer) => {
      entry.busy = false;
      if (answer.ok && answer.body.order) showOrder(entry, answer.body.order);
    });
  }
}

async function cancelOrder(entry) {
  entry.cancelUntil = Date.now() + 60_000;
  entry.cancelButton.disabled = true;
  const answer = await api("POST", orderPath(entry, "/cancel"), { reason: "changed my mind" });
  if (answer.ok && answer.body.order) {
    showOrder(entry, answer.body.order);
    say(entry.status === "CANCELLED" ? `Order ${entry.id} cancelled` : `Cancel of order ${entry.id} requested (now ${entry.status})`, "ok");
  } else {
    entry.cancelUntil = 0;
    entry.cancelButton.disabled = !CANCELLABLE.has(entry.status);
    say(`Cancel failed: ${errorText(answer)}`);
  }
  afterOrderAction();
}

/** Orders change stock and, a moment later, the customer's notifications. */
function afterOrderAction() {
  loadProducts();
  refreshNotifications();
}

async function refreshNotifications() {
  const customerId = $("#customer").value;
  if (!customerId) return;
  const answer = await api("GET", `/console/api/notifications?customer=${encodeURIComponent(customerId)}`);
  if (customerId !== $("#customer").value) return; // the picker moved on while this was under way
  if (!answer.ok) return void ($("#notifications-note").textContent = `Could not load the notifications: ${errorText(answer)}`);
  const items = answer.body.notifications ?? [];
  $("#notifications").replaceChildren(...items.map((n) => el("li", {},
    el("time", { datetime: n.createdAt, text: clock(n.createdAt), class: "mono small" }),
    el("span", { class: "kind small", text: String(n.kind ?? "").replace(/^NOTIFICATION_KIND_/, "") }),
    el("span", { class: "text", text: n.message }),
    el("span", { class: "mono muted small", text: n.orderId, title: n.orderId }))));
  $("#notifications-note").textContent = `${items.length === 0 ? "None yet" : `${items.length} shown`} · updated ${clock()}`;
}

// ---- Live stream -------------------------------------------------------------------------
function connect() {
  const source = new EventSource("/console/stream");
  source.addEventListener("open", () => showConnection(true));
  source.addEventListener("error", () => {
    showConnection(false);
    // EventSource retries by itself, except after an error status: then the page starts over.
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
  });
  source.addEventListener("mesh", (event) => withJson(event, drawMesh));
  source.addEventListener("feed", (event) => withJson(event, addFeedRow));
}

/** One bad message must not stop the page: it is skipped, and the next snapshot comes within a second. */
function withJson(event, use) {
  try {
    use(JSON.parse(event.data) ?? {});
  } catch (error) {
    console.warn("console: skipped a stream message", error);
  }
}

function showConnection(live) {
  $("[data-connection]").textContent = live ? "live" : "reconnecting";
  $(".connection").dataset.state = live ? "live" : "down";
}

// ---- Mesh map ----------------------------------------------------------------------------
function drawMesh(snapshot) {
  if (Array.isArray(snapshot.faults)) showActiveFaults(snapshot.faults);
  const nodes = (Array.isArray(snapshot.nodes) ? snapshot.nodes : []).filter((n) => typeof n?.id === "string");
  nodes.forEach(drawNode);
  const present = new Set(nodes.map((n) => n.id));
  // A process that left the mesh goes from the map; its spot stays reserved should it come back.
  for (const id of [...state.nodes.keys()].filter((id) => !present.has(id))) {
    state.nodes.get(id).g.remove();
    state.nodes.delete(id);
  }
  drawEdges(Array.isArray(snapshot.edges) ? snapshot.edges : []);
  $("#map-updated").textContent = `snapshot ${clock(snapshot.at)}`;
}

function positionOf(id) {
  if (!state.positions.has(id)) {
    const taken = new Set([...state.positions.values()].map(String));
    state.positions.set(id, POSITIONS[id] ?? SPARE_POSITIONS.find((spot) => !taken.has(String(spot))) ?? [100 + 40 * state.positions.size, 580]);
  }
  return state.positions.get(id);
}

/** A node's <g> stays the same element (tests and screen readers hold on to it); its content is redrawn. */
function drawNode(node) {
  let view = state.nodes.get(node.id);
  if (!view) {
    view = { g: svg("g", { "data-node": node.id, role: "img", class: "node" }) };
    state.nodes.set(node.id, view);
    $("#map-nodes").append(view.g);
  }
  const health = String(node.health ?? "unknown");
  const lines = nodeLines(node, health);
  const [x, y] = positionOf(node.id);
  const height = 10 + lines.length * LINE_HEIGHT;
  const box = (view.box = { x: x - BOX_WIDTH / 2, y: y - height / 2, width: BOX_WIDTH, height });
  view.g.setAttribute("data-health", health);
  view.g.setAttribute("aria-label", `${node.id}: ${health}`);
  view.g.replaceChildren(svg("rect", { ...box, rx: 8, class: "node-box" }), ...lines.flatMap((line, i) => {
    const top = box.y + 5 + i * LINE_HEIGHT;
    const text = svg("text", { x, y: top + 12, "text-anchor": "middle", class: line.cls, text: line.text });
    return line.badge ? [svg("rect", { x: box.x + 6, y: top + 1, width: BOX_WIDTH - 12, height: LINE_HEIGHT - 2, rx: 3, class: `badge-box ${line.badge}` }), text] : [text];
  }));
  // A long name or badge is squeezed to fit its box rather than spill out of it.
  for (const text of view.g.querySelectorAll("text")) {
    if (text.getComputedTextLength() > BOX_WIDTH - 14) build(text, { textLength: BOX_WIDTH - 14, lengthAdjust: "spacingAndGlyphs" }, []);
  }
}

/** What a node box says, line by line, in words and icons: colour is never the only signal. */
function nodeLines(node, health) {
  const lines = [{ text: node.id, cls: "node-name" }, { text: `${HEALTH_ICONS[health] ?? "?"} ${health}`, cls: "node-health" }];
  if (isNumber(node.rps) || isNumber(node.p99Ms)) {
    const errors = failing(node) ? ` · ${percent(node.errorRate)} err` : "";
    lines.push({ text: `${rate(node.rps)} · p99 ${millis(node.p99Ms)}${errors}`, cls: errors ? "node-metrics failing" : "node-metrics" });
  } else if (node.kind === "broker" || node.kind === "database") {
    lines.push({ text: node.kind, cls: "node-metrics" });
  }
  for (const breaker of (Array.isArray(node.breakers) ? node.breakers : []).filter((b) => b.state !== "closed")) {
    const tone = breaker.state === "half_open" ? "half" : "open";
    lines.push({ text: `breaker→${breaker.target} ${String(breaker.state).toUpperCase().replace("_", "-")}`, cls: `badge-text ${tone}`, badge: tone });
  }
  if (isNumber(node.backlog) && node.backlog > 0) lines.push({ text: `backlog ${node.backlog} events`, cls: "badge-text half", badge: "half" });
  for (const fault of state.activeFaults.filter((f) => f.service === node.id)) {
    lines.push({ text: `⚡ fault: ${fault.kind} (${Math.round(Number(fault.secondsLeft) || 0)} s)`, cls: "badge-text fault", badge: "fault" });
  }
  return lines;
}

/** Edges between the same two nodes share one arrow, with a label line per method or subject. */
function drawEdges(edges) {
  const groups = new Map();
  for (const edge of edges) {
    // Only between two nodes this snapshot shows; a self-call has no arrow to draw.
    if (!state.nodes.has(edge.from) || !state.nodes.has(edge.to) || edge.from === edge.to) continue;
    const key = `${edge.from}>${edge.to}>${edge.kind}`;
    groups.set(key, [...(groups.get(key) ?? []), edge]);
  }
  $("#map-edges").replaceChildren();
  $("#map-labels").replaceChildren();
  for (const [key, group] of groups) {
    const [from, to, kind] = key.split(">");
    drawEdge(from, to, kind, group, groups.has(`${to}>${from}>${kind}`));
  }
}

function drawEdge(from, to, kind, group, hasReverse) {
  const red = group.some(failing);
  const [x1, y1, x2, y2] = endpoints(state.nodes.get(from).box, state.nodes.get(to).box);
  const cls = `edge ${kind === "event" ? "edge-event" : "edge-grpc"}${red ? " failing" : ""}`;
  $("#map-edges").append(svg("line", { x1, y1, x2, y2, class: cls, "marker-end": red ? "url(#arrow-failing)" : "url(#arrow)", "data-edge": `${from}>${to}` }));
  // A pair talking both ways gets each label nearer its sender, so that the two do not overlap.
  const t = hasReverse ? 0.3 : 0.5;
  drawLabel(x1 + (x2 - x1) * t, y1 + (y2 - y1) * t, group.flatMap((edge) => edgeLines(kind, edge)), red);
}

function edgeLines(kind, edge) {
  const red = failing(edge);
  if (kind === "event") return [{ text: `${edge.label} ${rate(edge.rps)}${red ? ` · ${percent(edge.errorRate)} err` : ""}`, red }];
  return [{ text: String(edge.label), cls: "edge-method", red }, { text: `${rate(edge.rps)} · p99 ${millis(edge.p99Ms)} · ${percent(edge.errorRate)} err`, red }];
}

/** A label centred on (x, y), on a chip sized to its text once the text is laid out. */
function drawLabel(x, y, lines, red) {
  const top = y - (lines.length * 14) / 2 + 11;
  const text = svg("text", { class: "edge-label", "text-anchor": "middle" },
    ...lines.map((line, i) => svg("tspan", { x, y: top + i * 14, class: `${line.cls ?? ""}${line.red ? " failing" : ""}`, text: line.text })));
  $("#map-labels").append(text);
  const box = text.getBBox();
  text.before(svg("rect", { x: box.x - 4, y: box.y - 2, width: box.width + 8, height: box.height + 4, rx: 4, class: red ? "label-chip failing" : "label-chip" }));
}

/** From border to border on the line between the centres, nudged aside so that A→B and B→A do not overlap. */
function endpoints(a, b) {
  const [dx, dy] = [b.x + b.width / 2 - (a.x + a.width / 2), b.y + b.height / 2 - (a.y + a.height / 2)];
  const length = Math.hypot(dx, dy) || 1;
  const [nx, ny] = [(-dy / length) * 4, (dx / length) * 4];
  const [start, end] = [borderPoint(a, dx, dy), borderPoint(b, -dx, -dy)];
  return [start[0] + nx, start[1] + ny, end[0] + nx, end[1] + ny];
}

/** Where a ray from the box's centre in direction (dx, dy) leaves the box (3 units out, for the arrowhead). */
function borderPoint(box, dx, dy) {
  const scale = 1 / Math.max(Math.abs(dx) / (box.width / 2 + 3), Math.abs(dy) / (box.height / 2 + 3), 1e-9);
  return [box.x + box.width / 2 + dx * scale, box.y + box.height / 2 + dy * scale];
}

// ---- Event feed --------------------------------------------------------------------------
function addFeedRow(event) {
  if (event.eventId && state.feedIds.has(event.eventId)) return;
  const [subject, type] = [String(event.subject ?? ""), String(event.type ?? "")];
  const [orderId, traceId] = [event.orderId ? String(event.orderId) : "", event.traceId ? String(event.traceId) : ""];
  const row = el("li", { "data-feed-subject": subject, "data-feed-order": orderId, "data-event-id": event.eventId, class: "fresh" },
    el("time", { datetime: event.at, class: "mono", text: clock(event.at) }),
    el("span", { class: "subject", text: subject, title: subject }),
    el("span", { class: "type", text: type.split(".").pop(), title: type }),
    el("span", { class: "order mono", text: orderId || "—", title: orderId || "no order" }),
    el("span", { class: "trace mono", text: traceId ? `⌁ ${traceId.slice(0, 8)}` : "no trace", title: traceId || "no trace" }));
  row.hidden = !matchesFilter(row);
  const list = $("#feed");
  list.prepend(row);
  if (event.eventId) state.feedIds.add(event.eventId);
  while (list.children.length > FEED_LIMIT) {
    state.feedIds.delete(list.lastElementChild.dataset.eventId);
    list.lastElementChild.remove();
  }
  setTimeout(() => row.classList.remove("fresh"), 1500); // the highlight then fades out (CSS transition)
  showFeedCount();
}

function matchesFilter(row) {
  const query = $("#feed-filter").value.trim().toLowerCase();
  return query === "" || row.dataset.feedSubject.toLowerCase().includes(query) || row.dataset.feedOrder.toLowerCase().includes(query);
}

function applyFilter() {
  for (const row of $("#feed").children) row.hidden = !matchesFilter(row);
  showFeedCount();
}

function showFeedCount() {
  const rows = [...$("#feed").children];
  const shown = rows.filter((row) => !row.hidden).length;
  $("#feed-count").textContent = shown === rows.length ? `${rows.length} events` : `${shown} of ${rows.length} events`;
  $("#feed-empty").hidden = rows.length > 0;
}

// ---- Faults ------------------------------------------------------------------------------
const faultKey = (fault) => `${fault.service}/${fault.kind}`;

async function loadFaults() {
  const answer = await api("GET", "/console/api/faults");
  const body = answer.ok ? answer.body : { enabled: false, hint: `Could not load the faults: ${errorText(answer)}` };
  $("#faults-fieldset").disabled = !body.enabled;
  $("#faults-hint").hidden = Boolean(body.enabled);
  $("#faults-hint").textContent = body.enabled ? "" : String(body.hint || "Fault injection is off.");
  $("#faults-available").replaceChildren(...(body.available ?? []).map(faultRow));
  showActiveFaults(body.active ?? []);
}

function faultRow(fault) {
  const duration = el("select", { id: newId("fault-seconds") }, ...[30, 60, 120].map((s) => el("option", { value: s, text: `${s} s`, selected: s === 60 })));
  return el("li", {},
    el("span", { class: "fault-label", text: fault.label || faultKey(fault) }),
    el("label", { for: duration.id, class: "visually-hidden", text: `Duration of “${fault.label}”` }),
    duration,
    el("button", { type: "button", "data-fault": faultKey(fault), text: "Inject", onclick: () => switchFault("PUT", fault, Number(duration.value)) }));
}

async function switchFault(method, { service, kind }, seconds) {
  const answer = await api(method, `/console/api/faults/${encodeURIComponent(service)}/${encodeURIComponent(kind)}`, method === "PUT" ? { seconds } : undefined);
  $("#faults-message").textContent = answer.ok ? "" : `${service}/${kind}: ${errorText(answer)}`;
  if (!answer.ok || !Array.isArray(answer.body.active)) return;
  // The answer may list only this service's faults, and without its name: merge it into the others.
  const merged = new Map(state.activeFaults.filter((f) => f.service !== service).map((f) => [faultKey(f), f]));
  for (const active of answer.body.active) merged.set(faultKey({ service, ...active }), { service, ...active });
  showActiveFaults([...merged.values()]);
}

/** Active faults, updated row by row, so that an "Off" button is not replaced while someone reaches for it. */
function showActiveFaults(active) {
  state.activeFaults = active.filter((f) => f?.service && f.kind);
  const list = $("#faults-active");
  const rows = new Map([...list.children].map((row) => [row.dataset.faultRow, row]));
  for (const fault of state.activeFaults) {
    const row = rows.get(faultKey(fault)) ?? list.appendChild(activeFaultRow(fault));
    row.firstChild.textContent = `${fault.service}: ${fault.kind} — ${Math.max(0, Math.round(Number(fault.secondsLeft) || 0))} s left`;
    rows.delete(faultKey(fault));
  }
  for (const gone of rows.values()) gone.remove();
  $("#faults-none").hidden = state.activeFaults.length > 0;
}

function activeFaultRow(fault) {
  const label = el("span", { id: newId("fault") });
  const off = el("button", { type: "button", "data-fault-off": faultKey(fault), text: "Off", "aria-describedby": label.id, onclick: () => switchFault("DELETE", fault) });
  return el("li", { "data-fault-row": faultKey(fault) }, label, off);
}

// ---- Start -------------------------------------------------------------------------------
function start() {
  $("#customer").addEventListener("change", refreshNotifications);
  $("#refresh-notifications").addEventListener("click", refreshNotifications);
  $("#refresh-products").addEventListener("click", loadProducts);
  $("#place-order").addEventListener("click", placeOrder);
  $("#feed-filter").addEventListener("input", applyFilter);
  showFeedCount();
  connect();
  loadCustomers();
  loadProducts();
  loadFaults();
  setInterval(pollOrders, 1000);
  // Notifications arrive by events a moment after an order changes; a hidden tab need not ask.
  setInterval(() => document.visibilityState === "visible" && refreshNotifications(), 5000);
}

start();
