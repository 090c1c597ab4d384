// licsrv status page: reads the admin JSON API with a bearer token kept in
// this tab's sessionStorage; read-only; builds the DOM with textContent only.
"use strict";

const KEY = "licsrv.admin_token";
const REFRESH_MS = 30000;
let timer = null;

const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function pad(n) { return String(n).padStart(2, "0"); }

function utcText(d) {
  return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
    pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
}

// A <time>: local time shown, UTC on hover; "-" for 0 (never).
function when(sec) {
  if (!sec) return el("span", "-", "muted");
  const d = new Date(sec * 1000);
  const t = el("time", d.toLocaleString());
  t.dateTime = d.toISOString();
  t.title = utcText(d);
  return t;
}

function countdown(expires, now) {
  if (!expires) return el("span", "never expires", "muted");
  const s = expires - now;
  const days = Math.floor(Math.abs(s) / 86400), hours = Math.floor((Math.abs(s) % 86400) / 3600);
  const text = days >= 7 ? days + " days" : (days > 0 ? days + " d " : "") + hours + " h";
  if (s <= 0) return el("span", "expired " + text + " ago", "bad");
  return el("span", "in " + text, days < 30 ? "warn" : "ok");
}

function shortId(id) { return typeof id === "string" ? id.slice(0, 8) : "?"; }

function row(tbody, cells, cls) {
  const tr = document.createElement("tr");
  if (cls) tr.className = cls;
  for (const c of cells) {
    let td;
    if (c instanceof Node) { td = el("td"); td.appendChild(c); }
    else if (c && typeof c === "object") {
      td = el("td", c.text, c.cls);
      if (c.title) td.title = c.title;
    } else td = el("td", c === undefined || c === null || c === "" ? "-" : c);
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
}

function fill(id, items, render, empty) {
  const tbody = $(id).tBodies[0];
  tbody.replaceChildren();
  if (!items.length) {
    const tr = document.createElement("tr");
    const td = el("td", empty, "empty");
    td.colSpan = $(id).tHead.rows[0].cells.length;
    tr.appendChild(td);
    tbody.appendChild(tr);
    return;
  }
  for (const it of items) {
    const cells = render(it);
    row(tbody, cells.cells || cells, cells.cls);
  }
}

class AuthError extends Error {}
class Missing extends Error {}

// Every API request carries the token; none is made without it.
async function api(path, token, body) {
  const init = { headers: { "Authorization": "Bearer " + token, "Accept": "application/json" },
                 cache: "no-store", credentials: "omit", redirect: "error" };
  if (body !== undefined) { // a read with a JSON body (licenses/show); nothing is changed
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (r.status === 401) throw new AuthError("unauthorized");
  if (r.status === 404 || r.status === 405) throw new Missing(path);
  const doc = await r.json();
  if (!r.ok) throw new Error(path + ": " + (doc && doc.message ? doc.message : r.status));
  return doc;
}

function showLogin(message) {
  if (timer) { clearInterval(timer); timer = null; }
  $("status").hidden = true;
  $("session").hidden = true;
  $("login").hidden = false;
  const err = $("login-error");
  err.hidden = !message;
  err.textContent = message || "";
  $("token").value = "";
  $("token").focus();
}

// The terms a person checks first: version, domains, ports, apps, features.
function termsText(t) {
  if (!t) return "";
  const list = (v) => (Array.isArray(v) && v.length ? v.join(", ") : "any");
  const parts = ["major " + (t.major ? t.major : "any"), "domains " + list(t.domains), "ports " + list(t.ports)];
  if (Array.isArray(t.apps) && t.apps.length) parts.push("apps " + t.apps.join(", "));
  if (Array.isArray(t.features) && t.features.length) parts.push("features " + t.features.join(", "));
  return parts.join(" · ");
}

// Lineages (docs/operations.md, "Renewing and upgrading"): a renewal names
// the license it renews (supersedes). Seats belong to the lineage, keyed by
// its first license; the license in force is the newest by issued (a
// successor wins a tie) that is not revoked and whose window holds now.
// Each license gets l.key, and l.role: "in force", "superseded", or "" (a
// license with no successor in force: its own dates and state tell).
function lineages(licenses, terms, now) {
  const byId = new Map(licenses.map((l) => [l.id, l]));
  const prev = (l) => { const t = terms[l.id]; return t && typeof t.supersedes === "string" ? t.supersedes : null; };
  for (const l of licenses) {
    let k = l, seen = 0;
    while (prev(k) && byId.has(prev(k)) && seen++ < licenses.length) k = byId.get(prev(k));
    l.key = k.id; // the earliest license of it stored here
    l.role = "";
  }
  const groups = new Map();
  for (const l of licenses) groups.set(l.key, (groups.get(l.key) || []).concat([l]));
  for (const g of groups.values()) {
    const issued = (l) => (terms[l.id] && terms[l.id].issued) || 0;
    const usable = g.filter((l) => !l.revoked && (!terms[l.id] || !terms[l.id].not_before ||
      terms[l.id].not_before <= now) && (!l.expires || now < l.expires));
    usable.sort((a, b) => issued(b) - issued(a) || (prev(b) === a.id ? 1 : prev(a) === b.id ? -1 : 0));
    if (!usable.length) continue;
    const force = usable[0];
    force.role = g.length > 1 ? "in force" : "";
    for (const l of g) if (l !== force && !l.revoked && issued(l) <= issued(force)) l.role = "superseded";
    g.force = force;
  }
  return groups;
}

// Seats count for the license in force of a lineage only (the others hold none).
function seatsOf(lic, nodes, now) {
  const window = 2 * (lic.heartbeat || 7200);
  return nodes.filter((n) => n.license === lic.key && n.last_valid > 0 && now - n.last_valid < window).length;
}

// A seat is held by a recent valid check of a lineage with a license in
// force; a revoked (or superseded) license holds none itself.
function holds(licenses, n, now) {
  return licenses.some((l) => l.key === n.license && !l.revoked && l.role !== "superseded" &&
                              n.last_valid > 0 && now - n.last_valid < 2 * (l.heartbeat || 7200));
}

// Recent failures, newest first: the failure list and every node's last
// failure (a node that works again keeps it), one row per node.
// "works again": a valid check since (in the same second counts).
function recentFailures(failures, nodes) {
  const byNode = new Map(), valid = new Map();
  for (const n of nodes) valid.set(n.license + "/" + n.node, n.last_valid || 0);
  const offer = (n, f) => {
    if (!f || !f.time) return;
    const k = n.license + "/" + n.node, had = byNode.get(k);
    if (!had || had.f.time < f.time)
      byNode.set(k, { license: n.license, node: n.node, f, recovered: (valid.get(k) || 0) >= f.time });
  };
  for (const n of failures) offer(n, n.last_failure);
  for (const n of nodes) offer(n, n.last_failure);
  return [...byNode.values()].sort((a, b) => b.f.time - a.f.time).slice(0, 200);
}

function renderLicenses(d, now) {
  lineages(d.licenses, d.terms, now);
  fill("licenses", d.licenses, (l) => {
    if (l.revoked) // no countdown, no seats: it answers 'revoked' whatever its dates
      return { cls: "revoked", cells: [{ text: l.id, cls: "id" }, l.customer,
        { text: termsText(d.terms[l.id]), cls: "terms" }, when(l.expires),
        el("span", "revoked", "bad"), el("span", "none (revoked)", "muted"), el("span", "revoked", "bad")] };
    if (l.role === "superseded") // its renewal answers for it: seats are the renewal's
      return { cls: "revoked", cells: [{ text: l.id, cls: "id" }, l.customer,
        { text: termsText(d.terms[l.id]), cls: "terms" }, when(l.expires),
        el("span", "renewed", "muted"), el("span", "with its renewal", "muted"), el("span", "superseded", "muted")] };
    const used = seatsOf(l, d.nodes, now), max = l.max_nodes || 0;
    const seats = el("span", used + " / " + (max ? max : "unlimited"), max && used >= max ? "warn" : "");
    const nb = d.terms[l.id] && d.terms[l.id].not_before;
    const state = l.expires && l.expires <= now ? el("span", "expired", "bad")
      : nb && nb > now ? el("span", "not yet valid", "warn")
      : el("span", l.role === "in force" ? "active (in force)" : "active", "ok");
    return [{ text: l.id, cls: "id" }, l.customer, { text: termsText(d.terms[l.id]), cls: "terms" },
            when(l.expires), countdown(l.expires, now), seats, state];
  }, "No license imported (licsrv import FILE).");
}

function renderPublic(d, now) {
  const accts = d.accounts || [];
  const regs = accts.reduce((s, a) => s + (a.registrations || 0), 0);
  $("registrations-total").textContent = regs + " registered project" + (regs === 1 ? "" : "s") +
    " in " + accts.length + " account" + (accts.length === 1 ? "" : "s") + ".";
  fill("accounts", accts, (a) => {
    const full = a.capacity !== undefined && a.registrations >= a.capacity;
    const used = el("span", (a.registrations !== undefined ? a.registrations : "?") +
      (a.capacity !== undefined ? " / " + a.capacity : ""), full ? "warn" : "");
    if (a.revoked)
      return { cls: "revoked", cells: [{ text: a.id, cls: "id" }, a.customer, when(a.expires),
        el("span", "revoked", "bad"), used, el("span", "revoked", "bad")] };
    const state = a.expires && a.expires <= now ? el("span", "expired", "bad") : el("span", "active", "ok");
    return [{ text: a.id, cls: "id" }, a.customer, when(a.expires), countdown(a.expires, now), used, state];
  }, "No account imported (licsrv import ACCOUNT-FILE).");
  const srv = d.server, certs = (d.certificates || []).slice().sort((a, b) => b.expires - a.expires);
  const sum = $("cert-summary");
  if (srv.cert_end) {
    const left = countdown(srv.cert_end, now);
    sum.textContent = "This server's last usable certificate ends " + utcText(new Date(srv.cert_end * 1000)) +
      " (" + left.textContent + ")" + (srv.signing_kid ? "; it signs with key " + srv.signing_kid : "") + ".";
    sum.className = "note " + (left.className === "ok" ? "" : left.className);
  } else {
    sum.textContent = "No usable certificate for this server's online key: " + (srv.signing_error || "import one") + ".";
    sum.className = "note bad";
  }
  fill("certificates", certs, (c) => {
    const mine = c.pubkey_kid === srv.signing_kid;
    const state = c.usable_now ? el("span", mine ? "signs now" : "usable", "ok")
      : c.expires <= now ? el("span", "ended", "bad") : el("span", "not yet valid", "warn");
    return [{ text: shortId(c.id), cls: "id", title: c.id },
            { text: c.pubkey_kid + (mine ? " (this server)" : ""), cls: "id" },
            when(c.not_before), when(c.expires), countdown(c.expires, now), state];
  }, "No certificate imported (licgen certify, then licsrv import).");
}

function render(d, now) {
  const pub = d.server.mode === "public";
  for (const th of document.querySelectorAll("th.owner")) th.textContent = pub ? "Account" : "License";
  $("licenses-section").hidden = pub;
  $("accounts-section").hidden = !pub;
  $("certificates-section").hidden = !pub;
  $("activations-section").hidden = pub;
  if (pub) renderPublic(d, now); else renderLicenses(d, now);
  fill("nodes", d.nodes, (n) => {
    const f = n.last_failure, held = !pub && holds(d.licenses, n, now);
    return [n.node, { text: shortId(n.license), cls: "id", title: n.license },
            pub ? el("span", "-", "muted") : el("span", held ? "held" : "free", held ? "ok" : "muted"),
            when(n.last_valid), when(n.last_seen), f ? f.status : ""];
  }, "No report server has checked in yet.");
  fill("failures", recentFailures(d.failures, d.nodes), (r) => [when(r.f.time), r.node,
    { text: shortId(r.license), cls: "id", title: r.license },
    el("span", r.f.status, "bad"), r.f.reason,
    r.recovered ? el("span", "works again", "ok") : el("span", "failing", "bad")], "No failed check.");
  const audit = d.audit.slice().reverse().slice(0, 200);
  fill("audit", audit, (a) => [when(a.time), a.token || a.actor, a.action, a.subject], "Nothing audited yet.");
  if (!pub) {
    fill("activations", d.activations || [], (a) => [a.product, a.serial, { text: a.machine, cls: "id" },
      when(a.time)], "No activation claimed.");
  }
  if (d.server.version) $("version").textContent = d.server.version;
  const warn = d.health && d.health.warnings ? d.health.warnings.map((w) => w.message).join("; ") : "";
  $("load-error").hidden = !warn;
  $("load-error").textContent = warn;
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

// Only the endpoints of this server's mode: no request is answered 404.
async function load() {
  const token = sessionStorage.getItem(KEY);
  if (!token) { showLogin(""); return; }
  try {
    const server = await api("/v1/admin/server", token);
    const pub = server.mode === "public";
    const health = fetch("/healthz", { headers: { "Authorization": "Bearer " + token }, cache: "no-store",
                                       credentials: "omit" }).then((r) => r.json()).catch(() => null);
    const [nodes, failures, audit, h, first, second] = await Promise.all([
      api("/v1/admin/nodes", token), api("/v1/admin/failures", token), api("/v1/admin/audit", token), health,
      api(pub ? "/v1/admin/accounts" : "/v1/admin/licenses", token),
      api(pub ? "/v1/admin/certificates" : "/v1/admin/activations", token)]);
    const d = { server, nodes: nodes.nodes || [], failures: failures.failures || [], audit: audit.audit || [],
                health: h, licenses: [], terms: {}, activations: null, accounts: null, certificates: null };
    if (pub) {
      d.accounts = first.accounts || [];
      d.certificates = second.certificates || [];
    } else {
      d.licenses = first.licenses || [];
      d.activations = second.activations || [];
      await Promise.all(d.licenses.slice(0, 50).map((l) =>
        api("/v1/admin/licenses/show", token, { id: l.id }).then((x) => { d.terms[l.id] = x.terms; })));
    }
    $("login").hidden = true;
    $("status").hidden = false;
    $("session").hidden = false;
    render(d, Math.floor(Date.now() / 1000));
    if (!timer) timer = setInterval(load, REFRESH_MS);
  } catch (e) {
    if (e instanceof AuthError) {
      sessionStorage.removeItem(KEY);
      showLogin("The server refused this token: it is unknown or revoked. " +
                "Create one with: licsrv token add NAME");
    } else if ($("status").hidden) {
      showLogin("Cannot read the admin API: " + e.message);
    } else {
      $("load-error").hidden = false;
      $("load-error").textContent = "Refresh failed: " + e.message;
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    if (!t) return;
    sessionStorage.setItem(KEY, t);
    $("token").value = "";
    load();
  });
  $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(""); });
  $("refresh").addEventListener("click", load);
  load();
});
