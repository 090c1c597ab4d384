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

function row(tbody, cells) {
  const tr = document.createElement("tr");
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
  for (const it of items) row(tbody, render(it));
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

// An endpoint that only some servers have (public mode, activations): null when absent.
async function optional(path, token) {
  try { return await api(path, token); } catch (e) { if (e instanceof Missing) return null; throw e; }
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

function seatsOf(lic, nodes, now) {
  const window = 2 * (lic.heartbeat || 7200);
  return nodes.filter((n) => n.license === lic.id && n.last_valid > 0 && now - n.last_valid < window).length;
}

function render(d, now) {
  fill("licenses", d.licenses, (l) => {
    const used = seatsOf(l, d.nodes, now), max = l.max_nodes || 0;
    const seats = el("span", used + " / " + (max ? max : "unlimited"), max && used >= max ? "warn" : "");
    const state = l.revoked ? el("span", "revoked", "bad")
      : l.expires && l.expires <= now ? el("span", "expired", "bad") : el("span", "active", "ok");
    return [{ text: l.id, cls: "id" }, l.customer, { text: termsText(d.terms[l.id]), cls: "terms" },
            when(l.expires), countdown(l.expires, now), seats, state];
  }, "No license imported (licsrv import FILE).");
  fill("nodes", d.nodes, (n) => {
    const f = n.last_failure;
    const held = d.licenses.some((l) => l.id === n.license && n.last_valid > 0 &&
                                        now - n.last_valid < 2 * (l.heartbeat || 7200));
    return [n.node, { text: shortId(n.license), cls: "id", title: n.license },
            el("span", held ? "held" : "free", held ? "ok" : "muted"), when(n.last_valid), when(n.last_seen),
            f ? f.status : ""];
  }, "No report server has checked in yet.");
  const fails = d.failures.slice().sort((a, b) => b.last_failure.time - a.last_failure.time);
  fill("failures", fails, (n) => [when(n.last_failure.time), n.node,
    { text: shortId(n.license), cls: "id", title: n.license },
    el("span", n.last_failure.status, "bad"), n.last_failure.reason], "No failed check.");
  const audit = d.audit.slice().reverse().slice(0, 200);
  fill("audit", audit, (a) => [when(a.time), a.token || a.actor, a.action, a.subject], "Nothing audited yet.");
  $("activations-section").hidden = d.activations === null;
  if (d.activations !== null) {
    fill("activations", d.activations.activations || [], (a) => [a.product, a.serial, { text: a.machine, cls: "id" },
      when(a.time)], "No activation claimed.");
  }
  $("accounts-section").hidden = d.accounts === null;
  if (d.accounts !== null) {
    fill("accounts", d.accounts.accounts || [], (a) => [{ text: a.id, cls: "id" }, a.customer, when(a.expires),
      (a.registrations !== undefined ? a.registrations : a.used !== undefined ? a.used : "?") +
        (a.capacity !== undefined ? " / " + a.capacity : ""),
      a.revoked ? el("span", "revoked", "bad") : el("span", "active", "ok")], "No account imported.");
  }
  if (d.health && d.health.version) $("version").textContent = d.health.version;
  const warn = d.health && d.health.warnings ? d.health.warnings.map((w) => w.message).join("; ") : "";
  $("load-error").hidden = !warn;
  $("load-error").textContent = warn;
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

async function load() {
  const token = sessionStorage.getItem(KEY);
  if (!token) { showLogin(""); return; }
  try {
    const lic = await api("/v1/admin/licenses", token);
    const [nodes, failures, audit, activations, accounts, health] = await Promise.all([
      api("/v1/admin/nodes", token), api("/v1/admin/failures", token), api("/v1/admin/audit", token),
      optional("/v1/admin/activations", token), optional("/v1/admin/accounts", token),
      fetch("/healthz", { headers: { "Authorization": "Bearer " + token }, cache: "no-store", credentials: "omit" })
        .then((r) => r.json()).catch(() => null)]);
    const terms = {};
    await Promise.all((lic.licenses || []).slice(0, 50).map((l) =>
      api("/v1/admin/licenses/show", token, { id: l.id }).then((x) => { terms[l.id] = x.terms; })));
    $("login").hidden = true;
    $("status").hidden = false;
    $("session").hidden = false;
    render({ licenses: lic.licenses || [], nodes: nodes.nodes || [], failures: failures.failures || [],
             audit: audit.audit || [], activations, accounts, health, terms }, Math.floor(Date.now() / 1000));
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
