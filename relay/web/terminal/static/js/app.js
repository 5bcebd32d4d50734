// The terminal app: enrollment, PIN, operator sign-in, inbox, scanning, checking,
// completing, and the outbox of completions made offline.
import { ApiError, Offline, call } from "./api.js";
import * as camera from "./camera.js";
import * as catalog from "./catalog.js";
import { signal } from "./feedback.js";
import { lang, loadLanguage, pickLanguage, t } from "./i18n.js";
import { actualLines, add, bind, discrepancies } from "./quantities.js";
import * as store from "./store.js";

const POLL_MS = 5000;
const CATALOG_EVERY = 12;
const BATCH = 50;
const $ = (id) => document.getElementById(id);
// Marks a message id translated later with t(): the extraction finds it.
const N_ = (text) => text;

const app = {
  device: null, // {device_id, pin, token, name}
  session: null, // {session_token, user}
  screen: null,
  etag: null,
  inbox: [],
  doc: null, // the document open on screen, as kept in the "docs" store
  byBarcode: new Map(), // barcode -> declared line of the open document
  byProduct: new Map(), // product_id -> declared line of the open document
  rows: new Map(), // line_id -> its row on screen and its total
  extra: new Map(), // product_id or barcode -> the row of goods that were not declared
  sums: { declared: 0, actual: 0 },
  lastRow: null,
  ticks: 0,
  flushing: false,
};

// ---------------------------------------------------------------- helpers

function token() {
  return app.session ? app.session.session_token : app.device && app.device.token;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child);
  return node;
}

function show(screen) {
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.id !== `screen-${screen}`;
  }
  app.screen = screen;
  const first = {
    enroll: "enroll-code",
    pin: "pin-continue",
    login: "login-name",
    inbox: "inbox-refresh",
    check: "check-complete",
  }[screen];
  if (screen === "doc") focusScan();
  else if (first) $(first).focus();
}

function notify(text, kind = "error") {
  const notice = $("notice");
  notice.textContent = text || "";
  notice.className = `notice notice-${kind}`;
  notice.hidden = !text;
}

function uuid() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function holderName(holder) {
  if (!holder) return "?";
  const who = holder.user_name || holder.login || holder.device_name || "";
  return holder.pin ? `${who} (${t("PIN")} ${holder.pin})`.trim() : who;
}

function qtyText(value) {
  return String(Number(value));
}

// An answer of the relay in words an operator understands.
function explain(err) {
  if (err instanceof Offline) {
    return t("No connection to the relay. Keep working: what you complete is kept on this terminal and sent later.");
  }
  if (!(err instanceof ApiError)) return String(err);
  const words = {
    claim_lost: N_("This document was taken away from this terminal (given back or sent to another terminal). Your count was not sent."),
    document_cancelled: N_("Accounting cancelled this document. Stop working on it and remove it from the terminal."),
    already_completed: N_("This document is already completed."),
    quantity_control: N_("The quantities do not pass the check; nothing was saved. Fix the lines listed and complete again."),
    parts_open: N_("Others are still working on this document; it will be closed when they finish."),
    document_not_found: N_("This document is no longer for this terminal."),
    invalid_enrollment_code: N_("This enrollment code is wrong, used up or expired. Ask the administrator for a new one."),
    invalid_login: N_("Wrong login or password."),
    login_locked: N_("Too many wrong passwords: this login is locked for a while. Ask the administrator."),
    rate_limited: N_("Too many attempts. Wait a few minutes and try again."),
    claim_expired: N_("The time to work on this document ran out; it went back to the list."),
  };
  if (err.code === "already_claimed") {
    return t("Someone else is already working on this document: {who}.", { who: holderName(err.details.holder) });
  }
  if (words[err.code]) return t(words[err.code]);
  if (err.status === 401) return t("This terminal is not registered any more (it was revoked). Register it again.");
  return err.message;
}

async function handleAuthFailure(err) {
  if (!(err instanceof ApiError) || err.status !== 401) return false;
  if (app.session) {
    app.session = null;
    await store.remove("kv", "session");
    renderBar();
    show("login");
    notify(t("The operator session has ended. Sign in again."));
    return true;
  }
  // The device token itself is refused: the terminal was revoked and must enroll again.
  app.device = null;
  await store.remove("kv", "device");
  renderBar();
  show("enroll");
  notify(explain(err));
  return true;
}

// ---------------------------------------------------------------- the bar

function renderBar() {
  $("bar-pin").hidden = !app.device;
  $("bar-pin-value").textContent = app.device ? app.device.pin : "";
  const user = app.session && app.session.user;
  $("bar-user").hidden = !user;
  $("bar-user").textContent = user ? user.name || user.login : "";
  $("inbox-login").hidden = !!user;
  $("inbox-logout").hidden = !user;
  $("bar-net").hidden = navigator.onLine;
  $("bar-lang").textContent = lang === "ru" ? "EN" : "RU";
}

async function renderOutbox() {
  const waiting = await store.count("outbox");
  const chip = $("bar-outbox");
  chip.hidden = waiting === 0;
  chip.textContent = t("To send: {n}", { n: waiting });
  chip.dataset.count = String(waiting);
  const line = $("inbox-waiting");
  line.hidden = waiting === 0;
  line.textContent = t("{n} completed document(s) wait on this terminal to be sent.", { n: waiting });
}

// ---------------------------------------------------------------- enrollment

async function enroll(event) {
  event.preventDefault();
  const code = $("enroll-code").value.trim();
  const name = $("enroll-name").value.trim();
  try {
    const answer = await call("POST", "/enroll", {
      body: { code, name, model: navigator.userAgent.slice(0, 100), serial: "" },
    });
    app.device = answer.data;
    // A new device holds nothing of the one it replaces (its claims are not this device's,
    // and it may belong to another tenant with other catalogs).
    await store.clear(["docs", "outbox", "products", "barcodes"]);
    await store.remove("kv", "inbox");
    await store.remove("kv", "catalog:products");
    app.inbox = [];
    app.etag = null;
    await store.put("kv", app.device, "device");
    notify("");
    renderBar();
    $("pin-big").textContent = app.device.pin;
    show("pin");
  } catch (err) {
    notify(explain(err));
    signal(false);
  }
}

function readEnrollmentQr(raw) {
  try {
    const body = JSON.parse(raw);
    if (body && typeof body.code === "string") return body.code;
  } catch (err) {
    // Not JSON: the QR code holds the bare code.
  }
  return raw.trim();
}

async function enrollByCamera() {
  try {
    const raw = await camera.scanOnce($("enroll-video"), ["qr_code"]);
    if (!raw) return;
    $("enroll-code").value = readEnrollmentQr(raw);
    if (!$("enroll-name").value) $("enroll-name").focus();
    else $("enroll-form").requestSubmit();
  } catch (err) {
    notify(t("The camera cannot be used: {why}", { why: err.message }));
  }
}

// ---------------------------------------------------------------- operator session

async function logIn(event) {
  event.preventDefault();
  try {
    const answer = await call("POST", "/sessions", {
      token: app.device.token,
      body: { login: $("login-name").value.trim(), password: $("login-password").value },
    });
    app.session = answer.data;
    await store.put("kv", app.session, "session");
    $("login-password").value = "";
    notify("");
    renderBar();
    app.etag = null;
    await openInbox();
  } catch (err) {
    notify(explain(err));
    signal(false);
  }
}

async function logOut() {
  try {
    await call("DELETE", "/sessions/current", { token: token() });
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) {
      notify(explain(err));
      return;
    }
  }
  app.session = null;
  await store.remove("kv", "session");
  app.etag = null;
  renderBar();
  await openInbox();
}

// ---------------------------------------------------------------- inbox

async function openInbox() {
  app.doc = null;
  show("inbox");
  await renderInbox();
  await loadInbox();
}

async function loadInbox() {
  let answer;
  try {
    answer = await call("GET", "/documents?limit=500", { token: token(), etag: app.etag });
  } catch (err) {
    if (await handleAuthFailure(err)) return;
    if (!(err instanceof Offline)) notify(explain(err));
    return;
  }
  if (answer.status !== 304) {
    app.etag = answer.etag;
    app.inbox = answer.data.documents;
    await store.put("kv", app.inbox, "inbox");
    if (!answer.data.next) await noticeLost();
    await renderInbox();
  }
  $("inbox-updated").textContent = t("Updated at {time}", { time: new Date().toLocaleTimeString(lang) });
}

// Documents this terminal holds that left its (complete) inbox were taken away: released by
// an admin or rerouted to another terminal.
async function noticeLost() {
  const listed = new Set(app.inbox.map((d) => d.id));
  for (const doc of await store.all("docs")) {
    if (doc.status === "working" && doc.claim_token && !listed.has(doc.id)) {
      doc.status = "lost";
      doc.message = t("This document was taken away from this terminal (given back or sent to another terminal). Your count was not sent.");
      await store.put("docs", doc);
    }
  }
}

async function renderInbox() {
  if (!app.inbox.length) app.inbox = (await store.get("kv", "inbox")) || [];
  const local = new Map((await store.all("docs")).map((d) => [d.id, d]));
  const list = $("inbox-list");
  // Keep the keyboard's place: the focused document keeps the focus across a refresh.
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  list.replaceChildren();
  const shown = new Set();
  const item = (summary, doc) => {
    shown.add(summary.id);
    const status = statusText(summary, doc);
    const button = el(
      "button",
      { type: "button", class: `doc-item state-${summary.state}${doc ? ` local-${doc.status}` : ""}`, "data-id": summary.id },
      el("span", { class: "doc-number" }, `${summary.terminal_document_type || ""} ${summary.number || summary.external_id || ""}`.trim()),
      el("span", { class: "doc-meta" }, [summary.date, status].filter(Boolean).join(" · ")),
    );
    button.addEventListener("click", () => openDocument(summary.id));
    list.append(el("li", {}, button));
  };
  for (const summary of app.inbox) item(summary, local.get(summary.id));
  for (const doc of local.values()) if (!shown.has(doc.id)) item(doc.summary, doc);
  if (focused) {
    const again = [...list.querySelectorAll("button")].find((b) => b.dataset.id === focused);
    (again || $("inbox-refresh")).focus();
  }
  $("inbox-empty").hidden = list.children.length > 0;
  await renderOutbox();
}

function statusText(summary, doc) {
  if (doc && doc.status === "queued") return t("Completed, waiting to be sent");
  if (doc && doc.status === "lost") return t("Taken away from this terminal");
  if (doc && doc.status === "refused") return t("Not accepted: open it");
  if (summary.state === "cancelled" || (doc && doc.status === "cancelled")) return t("Cancelled by accounting");
  if (summary.state === "claimed") return summary.claimed_by_me ? t("In work on this terminal") : t("In work");
  return t("New");
}

// ---------------------------------------------------------------- a document

async function openDocument(id) {
  notify("");
  let doc = await store.get("docs", id);
  const summary = app.inbox.find((d) => d.id === id) || (doc && doc.summary);
  try {
    const fresh = (await call("GET", `/documents/${encodeURIComponent(id)}`, { token: token() })).data;
    doc = mergeDocument(doc, fresh);
    if (doc.claim_token || doc.status !== "working") await store.put("docs", doc);
  } catch (err) {
    if (await handleAuthFailure(err)) return;
    if (err instanceof ApiError && err.status === 404 && doc && doc.status === "working") {
      doc.status = "lost";
      doc.message = explain(new ApiError(409, "claim_lost", ""));
      await store.put("docs", doc);
    } else if (!doc) {
      notify(explain(err));
      if (summary && err instanceof Offline) notify(t("This document is not on the terminal yet. Take it while online."));
      return;
    }
  }
  app.doc = doc;
  indexLines(doc);
  feedback("", "none");
  renderDocument();
  show("doc");
}

function mergeDocument(doc, fresh) {
  const base = doc || { id: fresh.id, scans: [], claim_token: null, submission_id: null, status: "working", message: "" };
  const merged = {
    ...base,
    summary: {
      id: fresh.id,
      number: fresh.number,
      external_id: fresh.external_id,
      date: fresh.date,
      terminal_document_type: fresh.terminal_document_type,
      state: fresh.state,
      claimed_by_me: fresh.claimed_by_me,
      collective: fresh.collective,
    },
    header: fresh.header || {},
    lines: fresh.lines || [],
    quantity_control: fresh.quantity_control || "none",
    accepts: fresh.accepts || { header: [], lines: [] },
    collective: fresh.collective,
    state: fresh.state,
  };
  if (fresh.state === "cancelled" && merged.status !== "queued") {
    merged.status = "cancelled";
    merged.message = explain(new ApiError(409, "document_cancelled", ""));
  }
  return merged;
}

function indexLines(doc) {
  app.byBarcode = new Map();
  app.byProduct = new Map();
  for (const line of doc.lines) {
    if (line.barcode) app.byBarcode.set(String(line.barcode), line);
    for (const code of line.barcodes || []) {
      app.byBarcode.set(String(code.barcode || code), line);
    }
    if (line.product_id && !app.byProduct.has(line.product_id)) app.byProduct.set(line.product_id, line);
  }
}

// Names of the usual header fields; any other field shows under its own name.
const HEADER_LABELS = { warehouse: N_("Warehouse"), counterparty: N_("Counterparty"), comment: N_("Comment"), cell: N_("Cell") };

function canWork(doc) {
  return doc.status === "working" && !!doc.claim_token;
}

function renderDocument() {
  const doc = app.doc;
  const s = doc.summary;
  $("doc-title").textContent = `${s.terminal_document_type || ""} ${s.number || s.external_id || ""}`.trim();
  const header = $("doc-header");
  header.replaceChildren();
  if (s.date) header.append(el("dt", {}, t("Date")), el("dd", {}, s.date));
  for (const [key, value] of Object.entries(doc.header)) {
    if (value === null || typeof value === "object") continue;
    header.append(el("dt", {}, t(HEADER_LABELS[key] || key)), el("dd", {}, String(value)));
  }
  const working = canWork(doc);
  const waiting = doc.status === "queued";
  $("doc-take").hidden = working || waiting || doc.status !== "working";
  $("doc-claim").hidden = doc.collective;
  $("doc-join").hidden = !doc.collective;
  $("scan-form").hidden = !working;
  $("scan-fields").hidden = !working;
  $("doc-actions").hidden = !working;
  $("doc-camera").hidden = !camera.available;
  $("doc-dismiss").hidden = !["lost", "cancelled"].includes(doc.status);
  const accepts = new Set(doc.accepts.lines);
  $("scan-serial-label").hidden = !accepts.has("serial");
  $("scan-lot-label").hidden = !accepts.has("lot");
  const stateLine = $("doc-state");
  const message = {
    queued: t("Completed on this terminal; it will be sent when the network is back."),
    lost: doc.message,
    cancelled: doc.message,
    refused: doc.message,
  }[doc.status];
  stateLine.hidden = !message && working;
  stateLine.textContent = message || (working ? "" : stateHint(doc));
  stateLine.className = `state local-${doc.status}`;
  if (!working) feedback("", "none");
  if (doc.status === "refused") {
    stateLine.hidden = false;
    $("scan-form").hidden = false;
    $("scan-fields").hidden = false;
    $("doc-actions").hidden = false;
  }
  renderLines();
}

function stateHint(doc) {
  if (doc.state === "claimed" && !doc.claimed_by_me && !doc.summary.claimed_by_me) return t("Someone else is working on this document.");
  if (doc.state === "claimed") return t("This document was taken on this terminal earlier, but its claim is not kept here. Ask accounting to give it back to the list.");
  return t("Take the document to start scanning.");
}

function totals() {
  return bind(app.doc.lines, app.doc.scans);
}

// The list is built once per document; a scan then repaints only its own row.
function renderLines() {
  const { lines, undeclared } = totals();
  app.rows = new Map();
  app.extra = new Map();
  app.sums = { declared: 0, actual: 0 };
  const rows = [];
  for (const line of lines) {
    const item = {
      line,
      actual: line.actual_qty,
      row: el("li", { "data-line": String(line.line_id) }),
      name: el("span", { class: "line-name" }, line.name || line.product_id || line.barcode || String(line.line_id)),
      qty: el("span", { class: "line-qty" }),
    };
    item.row.append(item.name, item.qty);
    paintLine(item);
    app.rows.set(String(line.line_id), item);
    app.sums.declared = add(app.sums.declared, line.declared_qty || 0);
    app.sums.actual = add(app.sums.actual, line.actual_qty);
    rows.push(item.row);
  }
  $("doc-lines").replaceChildren(...rows);
  for (const entry of undeclared) countExtra(entry, entry.qty);
  paintProgress();
}

function paintLine(item) {
  const unit = item.line.unit || "";
  if (!("declared_qty" in item.line)) {
    // Counted blind (the process does not send declared quantities): the count alone.
    item.row.className = `line line-${item.actual > 0 ? "part" : "todo"}`;
    item.qty.textContent = `${qtyText(item.actual)} ${unit}`.trim();
    return;
  }
  const declared = Number(item.line.declared_qty || 0);
  const mark = item.actual === declared ? "done" : item.actual > declared ? "over" : item.actual > 0 ? "part" : "todo";
  item.row.className = `line line-${mark}`;
  item.qty.textContent = `${qtyText(item.actual)} / ${qtyText(declared)} ${unit}`.trim();
}

function paintProgress() {
  const blind = app.doc.lines.length > 0 && app.doc.lines.every((line) => !("declared_qty" in line));
  $("doc-progress").textContent = blind
    ? t("Counted {actual}", { actual: qtyText(app.sums.actual) })
    : t("Counted {actual} of {declared}", { actual: qtyText(app.sums.actual), declared: qtyText(app.sums.declared) });
}

// Goods that were not declared: one row per product (or barcode), with its total.
function countExtra(entry, qty) {
  const key = entry.product_id || entry.barcode;
  let item = app.extra.get(key);
  if (!item) {
    item = {
      qty: 0,
      row: el("li", { class: "line line-extra" }),
      name: el("span", { class: "line-name" }, `${entry.name || entry.barcode} — ${t("not in the document")}`),
      amount: el("span", { class: "line-qty" }),
    };
    item.row.append(item.name, item.amount);
    app.extra.set(key, item);
    $("doc-lines").append(item.row);
  }
  item.qty = add(item.qty, qty);
  item.amount.textContent = `${qtyText(item.qty)} ${entry.unit || ""}`.trim();
  if (item.qty === 0) {
    item.row.remove();
    app.extra.delete(key);
  }
}

// Add (sign 1) or take back (sign -1) one scan in the totals on screen.
function countScan(entry, sign) {
  const qty = sign * entry.qty;
  app.sums.actual = add(app.sums.actual, qty);
  const item = entry.line_id === null || entry.line_id === undefined ? null : app.rows.get(String(entry.line_id));
  if (item) {
    item.actual = add(item.actual, qty);
    paintLine(item);
  } else countExtra(entry, qty);
  paintProgress();
}

// On the document screen the focus goes to the scan field, else to the next thing to do.
function focusScan() {
  if (app.screen !== "doc") return;
  const next = ["scan", "doc-claim", "doc-join", "doc-dismiss", "doc-back"].find((id) => {
    const node = $(id);
    return !node.hidden && !node.closest("[hidden]");
  });
  $(next).focus();
}

async function take(kind) {
  const doc = app.doc;
  try {
    const answer = await call("POST", `/documents/${encodeURIComponent(doc.id)}/${kind}`, { token: token(), body: {} });
    doc.claim_token = answer.data.claim_token;
    doc.status = "working";
    doc.state = answer.data.state;
    doc.summary.claimed_by_me = true;
    await store.put("docs", doc);
    app.etag = null;
    notify("");
    renderDocument();
    focusScan();
  } catch (err) {
    if (await handleAuthFailure(err)) return;
    notify(explain(err));
    signal(false);
  }
}

// ---------------------------------------------------------------- scanning

function feedback(text, kind) {
  const box = $("feedback");
  box.textContent = text;
  box.className = `feedback feedback-${kind}`;
  box.dataset.seq = String(Number(box.dataset.seq) + 1);
}

function typedQuantity() {
  const raw = $("scan-qty").value.trim().replace(",", ".");
  if (raw === "") return 1;
  const value = Number(raw);
  return Number.isFinite(value) && value > 0 ? value : null;
}

async function scan(event) {
  event.preventDefault();
  const input = $("scan");
  const code = input.value.trim();
  input.value = "";
  input.focus();
  if (!code || !app.doc) return;
  const qty = typedQuantity();
  if (qty === null) {
    feedback(t("The quantity must be a number above zero."), "error");
    signal(false);
    return;
  }
  await addScan(code, qty);
}

async function addScan(code, qty) {
  const doc = app.doc;
  let entry = null;
  const line = app.byBarcode.get(code);
  if (line) {
    entry = { line_id: line.line_id, product_id: line.product_id, barcode: code, name: line.name, unit: line.unit, qty };
  } else {
    let found = await catalog.lookup(code);
    if (!found && navigator.onLine) {
      try {
        found = await catalog.resolveOnline(token(), code);
      } catch (err) {
        found = null;
      }
    }
    if (found) {
      const declared = app.byProduct.get(found.product.id);
      const units = add(0, qty * found.factor);
      entry = declared
        ? { line_id: declared.line_id, product_id: found.product.id, barcode: code, name: declared.name, unit: declared.unit, qty: units }
        : { line_id: null, product_id: found.product.id, barcode: code, name: found.product.name, unit: found.product.unit, qty: units };
      entry.factor = found.factor;
    }
  }
  if (!entry) {
    feedback(t("Unknown barcode {code}: it is not in the document or the catalog.", { code }), "error");
    signal(false);
    return;
  }
  const serial = $("scan-serial").value.trim();
  const lot = $("scan-lot").value.trim();
  if (serial) entry.serial = serial;
  if (lot) entry.lot = lot;
  doc.scans.push(entry);
  if (doc.status === "refused") {
    doc.status = "working";
    doc.message = "";
  }
  $("scan-qty").value = "1";
  $("scan-serial").value = "";
  const extra = entry.line_id === null ? ` — ${t("not in the document")}` : "";
  const factor = entry.factor && entry.factor !== 1 ? ` (${qtyText(qty)} × ${qtyText(entry.factor)})` : "";
  feedback(`+${qtyText(entry.qty)}${factor} ${entry.name || code}${extra}`, entry.line_id === null ? "warn" : "ok");
  signal(true);
  countScan(entry, 1);
  highlight(entry.line_id);
  await store.put("docs", doc);
}

function highlight(lineId) {
  if (app.lastRow) app.lastRow.classList.remove("line-last");
  const item = lineId === null || lineId === undefined ? null : app.rows.get(String(lineId));
  app.lastRow = item ? item.row : null;
  if (item) {
    item.row.classList.add("line-last");
    item.row.scrollIntoView({ block: "nearest" });
  }
}

async function undo() {
  const doc = app.doc;
  const last = doc.scans.pop();
  if (!last) {
    feedback(t("Nothing to undo."), "warn");
  } else {
    feedback(t("Removed: {what}", { what: `${qtyText(last.qty)} ${last.name || last.barcode}` }), "warn");
    countScan(last, -1);
    await store.put("docs", doc);
  }
  focusScan();
}

async function cameraScan() {
  try {
    const raw = await camera.scanOnce($("doc-video"));
    if (raw) await addScan(raw.trim(), typedQuantity() || 1);
  } catch (err) {
    notify(t("The camera cannot be used: {why}", { why: err.message }));
  }
  focusScan();
}

// ---------------------------------------------------------------- checking and completing

const PROBLEMS = {
  shortage: N_("Short"),
  excess: N_("Too many"),
  undeclared: N_("Not in the document"),
};

function renderCheck() {
  const doc = app.doc;
  const { lines, undeclared } = totals();
  const found = discrepancies(doc.quantity_control, lines, undeclared);
  const modes = {
    none: N_("Quantities are not checked by this process."),
    no_excess: N_("Check: no more than declared, no goods that were not declared."),
    exact: N_("Check: exactly as declared."),
  };
  $("check-mode").textContent = t(modes[doc.quantity_control] || modes.none);
  $("check-summary").textContent = found.length
    ? t("{n} line(s) do not pass the check; the relay will refuse this completion.", { n: found.length })
    : t("Everything passes the check.");
  $("check-summary").className = found.length ? "summary summary-bad" : "summary summary-ok";
  $("check-list").replaceChildren(...found.map(problemRow));
  const comment = doc.accepts.header.includes("comment");
  $("check-comment-label").hidden = !comment;
  $("check-complete").textContent = doc.collective ? t("Send my part") : t("Complete");
  $("check-close").hidden = !doc.collective;
  show("check");
}

function problemRow(item) {
  const what = item.name || item.product_id || item.barcode || item.line_id;
  const numbers = item.problem === "undeclared"
    ? qtyText(item.actual_qty)
    : `${qtyText(item.actual_qty)} / ${qtyText(item.declared_qty)}`;
  return el(
    "li",
    { class: `line line-problem problem-${item.problem}`, "data-problem": item.problem, "data-line": String(item.line_id ?? "") },
    el("span", { class: "line-name" }, `${t(PROBLEMS[item.problem])}: ${what}`),
    el("span", { class: "line-qty" }, numbers),
  );
}

// Collective work: ``close`` false sends this operator's part and leaves the document open for
// the others; true also closes it (the relay refuses while another part is open).
function completionBody(doc, close) {
  const body = {
    submission_id: doc.submission_id,
    claim_token: doc.claim_token,
    close,
    header: {},
    lines: actualLines(doc.scans, doc.accepts.lines),
  };
  const comment = $("check-comment").value.trim();
  if (comment && doc.accepts.header.includes("comment")) body.header.comment = comment;
  return body;
}

async function complete(close) {
  const doc = app.doc;
  if (!doc.submission_id || !doc.pending) {
    doc.submission_id = uuid();
    doc.pending = completionBody(doc, close);
  }
  await store.put("docs", doc);
  $("check-complete").disabled = true;
  try {
    await call("POST", `/documents/${encodeURIComponent(doc.id)}/complete`, { token: token(), body: doc.pending });
    await finished(doc);
    notify(t("Document {number} is completed and sent.", { number: doc.summary.number || "" }), "ok");
    signal(true);
    await openInbox();
  } catch (err) {
    if (err instanceof Offline || (err instanceof ApiError && err.status >= 500)) {
      await enqueue(doc);
      notify(t("No connection: the completed document is kept on this terminal and will be sent when the network is back."), "warn");
      await openInbox();
    } else if (!(await handleAuthFailure(err))) {
      await refused(doc, err);
      signal(false);
      app.doc = doc;
      renderDocument();
      show(err.code === "quantity_control" ? "check" : "doc");
      if (err.code === "quantity_control") showServerRefusal(err);
      // A lost or cancelled document says so on its own screen; the rest get a notice.
      if (doc.status === "refused") notify(explain(err));
    }
  } finally {
    $("check-complete").disabled = false;
  }
}

function showServerRefusal(err) {
  const lines = (err.details && err.details.lines) || [];
  const named = new Map(app.doc.lines.map((l) => [String(l.line_id), l.name]));
  $("check-list").replaceChildren(
    ...lines.map((line) => problemRow({ ...line, name: named.get(String(line.line_id)) || line.product_id || line.barcode })),
  );
  $("check-summary").textContent = t("The relay refused the completion: {n} line(s) do not pass the check.", { n: lines.length });
  $("check-summary").className = "summary summary-bad";
}

async function finished(doc) {
  await store.remove("docs", doc.id);
  app.etag = null;
}

async function enqueue(doc) {
  doc.status = "queued";
  await store.put("docs", doc);
  await store.put("outbox", { ...doc.pending, id: doc.id, queued_at: new Date().toISOString() });
  await renderOutbox();
}

// A refused completion changed nothing: the next attempt is a new submission.
async function refused(doc, err) {
  doc.submission_id = null;
  doc.pending = null;
  if (err.code === "claim_lost" || err.code === "document_not_found") doc.status = "lost";
  else if (err.code === "document_cancelled") doc.status = "cancelled";
  else if (err.code === "already_completed") {
    await finished(doc);
    return;
  } else doc.status = "refused";
  doc.message = explain(err);
  await store.put("docs", doc);
}

// Send what waits in the outbox in batches; each completion is applied once.
async function flush() {
  if (app.flushing || !app.device) return;
  app.flushing = true;
  let settledAny = false;
  try {
    for (let round = 0; round < 20; round += 1) {
      const waiting = (await store.all("outbox")).slice(0, BATCH);
      if (!waiting.length) break;
      const completions = waiting.map(({ queued_at: _, ...item }) => item);
      const answer = await call("POST", "/completions", { token: token(), body: { completions } });
      let settled = 0;
      for (const result of answer.data.results) {
        if (result.status >= 500) continue;
        settled += 1;
        await store.remove("outbox", result.submission_id);
        const doc = await store.get("docs", result.id);
        if (!doc) continue;
        if (result.status === 200) await finished(doc);
        else {
          const error = result.body.error || {};
          await refused(doc, new ApiError(result.status, error.code, error.message, error.details));
        }
      }
      if (!settled) break;
      settledAny = true;
    }
  } catch (err) {
    if (!(err instanceof Offline)) await handleAuthFailure(err);
  } finally {
    app.flushing = false;
    await renderOutbox();
    if (settledAny && app.screen === "inbox") await renderInbox();
  }
}

async function release() {
  const doc = app.doc;
  try {
    await call("POST", `/documents/${encodeURIComponent(doc.id)}/release`, { token: token(), body: {} });
  } catch (err) {
    if (await handleAuthFailure(err)) return;
    if (!(err instanceof ApiError && ["not_claimed", "claim_lost", "document_not_found"].includes(err.code))) {
      notify(explain(err));
      return;
    }
  }
  await finished(doc);
  await openInbox();
}

async function dismiss() {
  const doc = app.doc;
  if (doc.status === "cancelled") {
    try {
      await call("POST", `/documents/${encodeURIComponent(doc.id)}/release`, { token: token(), body: {} });
    } catch (err) {
      if (err instanceof Offline) {
        notify(explain(err));
        return;
      }
    }
  }
  await finished(doc);
  await openInbox();
}

// ---------------------------------------------------------------- start

async function tick() {
  if (!app.device || document.hidden) return;
  renderBar();
  app.ticks += 1;
  await flush();
  if (app.screen === "inbox") await loadInbox();
  if (app.ticks % CATALOG_EVERY === 1) await syncCatalog();
}

async function syncCatalog() {
  try {
    await catalog.sync(token());
  } catch (err) {
    if (!(err instanceof Offline)) await handleAuthFailure(err);
  }
  await renderCatalog();
}

async function renderCatalog() {
  const version = await catalog.version();
  $("inbox-catalog").textContent = version ? t("Products catalog on this terminal: version {version}", { version }) : "";
}

async function switchLanguage() {
  const next = lang === "ru" ? "en" : "ru";
  await store.put("kv", next, "lang");
  await loadLanguage(next);
  renderBar();
  if (app.screen === "inbox") await renderInbox();
  await renderCatalog();
  if (app.screen === "doc") {
    renderDocument();
    focusScan();
  }
  if (app.screen === "check") renderCheck();
  await renderOutbox();
}

function keepScanFocus(event) {
  // A hardware scanner types into whatever has focus: send stray keys to the scan field.
  if (app.screen !== "doc") return;
  if (event.key === "Escape") {
    openInbox();
    return;
  }
  if ($("scan-form").hidden) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
  if (event.key.length === 1 && !event.ctrlKey && !event.altKey && !event.metaKey) $("scan").focus();
}

function bindEvents() {
  $("enroll-form").addEventListener("submit", enroll);
  $("enroll-camera").addEventListener("click", enrollByCamera);
  $("pin-continue").addEventListener("click", openInbox);
  $("login-form").addEventListener("submit", logIn);
  $("login-back").addEventListener("click", openInbox);
  $("inbox-refresh").addEventListener("click", async () => {
    notify("");
    await flush();
    await loadInbox();
    await syncCatalog();
  });
  $("inbox-login").addEventListener("click", () => show("login"));
  $("inbox-logout").addEventListener("click", logOut);
  $("doc-claim").addEventListener("click", () => take("claim"));
  $("doc-join").addEventListener("click", () => take("join"));
  $("scan-form").addEventListener("submit", scan);
  for (const id of ["scan-qty", "scan-serial", "scan-lot"]) {
    $(id).addEventListener("keydown", (event) => {
      if (event.key === "Enter") focusScan();
    });
  }
  $("doc-undo").addEventListener("click", undo);
  $("doc-camera").addEventListener("click", cameraScan);
  $("doc-check").addEventListener("click", renderCheck);
  $("doc-release").addEventListener("click", release);
  $("doc-back").addEventListener("click", openInbox);
  $("doc-dismiss").addEventListener("click", dismiss);
  $("check-complete").addEventListener("click", () => complete(!app.doc.collective));
  $("check-close").addEventListener("click", () => complete(true));
  $("check-back").addEventListener("click", () => show("doc"));
  $("bar-lang").addEventListener("click", switchLanguage);
  document.addEventListener("keydown", keepScanFocus);
  window.addEventListener("online", () => {
    renderBar();
    tick();
  });
  window.addEventListener("offline", renderBar);
  document.addEventListener("visibilitychange", tick);
}

async function start() {
  await loadLanguage(pickLanguage(await store.get("kv", "lang")));
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/t/sw.js", { scope: "/t/" }).catch(() => {});
  }
  bindEvents();
  $("enroll-camera").hidden = !camera.available;
  app.device = (await store.get("kv", "device")) || null;
  app.session = (await store.get("kv", "session")) || null;
  renderBar();
  await renderOutbox();
  await renderCatalog();
  if (!app.device) show("enroll");
  else await openInbox();
  document.body.dataset.ready = "true";
  setInterval(tick, POLL_MS);
  tick();
}

start();
