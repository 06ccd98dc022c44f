// instances.js - the instances page: Triton's portal columns plus brand,
// package and server; sort, text and state filters, chosen columns,
// actions on several at once, CSV export; states live from the event
// stream.
import {api, enc} from "./api.js";
import {el, clear, say} from "./dom.js";
import {failed, session} from "./app.js";

const COLUMNS = [
  {key: "name", label: "Name"},
  {key: "ip", label: "IP"},
  {key: "image", label: "Image"},
  {key: "firewall", label: "Firewall"},
  {key: "created", label: "Created"},
  {key: "state", label: "Status"},
  {key: "brand", label: "Brand"},
  {key: "package", label: "Package"},
  {key: "server", label: "Server"},
];

const page = {
  rows: [], // {id, name, ip, ...} as shown
  byId: new Map(),
  sort: {key: "name", dir: 1},
  text: "",
  state: "",
  selected: new Set(),
  shown: loadShown(),
  body: null,
  count: null,
  refreshing: null,
  cells: new Map(), // id -> its state cell, for the event stream
  pending: 0, // a render asked for, for the next frame
};

function loadShown() {
  try {
    const s = JSON.parse(localStorage.getItem("hull.columns"));
    if (Array.isArray(s) && s.length) return new Set(s);
  } catch (e) {
    /* none saved */
  }
  return new Set(COLUMNS.map((c) => c.key));
}

function row(m, images) {
  return {
    id: m.id,
    name: m.name || "",
    ip: m.primaryIp || (m.ips || [])[0] || "",
    image: images.get(m.image) || m.image || "",
    firewall: m.firewall_enabled ? "on" : "off",
    created: m.created || "",
    state: m.state || "",
    brand: m.brand || "",
    package: m.package || "",
    server: m.compute_node || "",
  };
}

async function load() {
  const [machines, imgs] = await Promise.all([
    api("GET", "/my/machines"),
    api("GET", "/my/images?state=all").catch(() => []),
  ]);
  const images = new Map(imgs.map((i) => [i.id, `${i.name}@${i.version}`]));
  page.rows = machines.filter((m) => m.state !== "deleted").map((m) => row(m, images));
  page.byId = new Map(page.rows.map((r) => [r.id, r]));
  for (const id of [...page.selected]) if (!page.byId.has(id)) page.selected.delete(id);
}

function visible() {
  const t = page.text.toLowerCase();
  const cols = COLUMNS.filter((c) => page.shown.has(c.key));
  const rows = page.rows.filter((r) => (!page.state || r.state === page.state) &&
    (!t || cols.some((c) => r[c.key].toLowerCase().includes(t)) || r.id.includes(t)));
  const {key, dir} = page.sort;
  rows.sort((a, b) => (a[key] < b[key] ? -dir : a[key] > b[key] ? dir : 0));
  return {cols, rows};
}

function render() {
  if (!page.body) return;
  const {cols, rows} = visible();
  const thead = el("tr", {},
    el("th", {scope: "col"}, el("input", {type: "checkbox", "aria-label": "Select all shown",
      id: "select-all", onchange: (e) => {
        for (const r of rows) e.target.checked ? page.selected.add(r.id) : page.selected.delete(r.id);
        render();
      }})),
    cols.map((c) => el("th", {scope: "col", "aria-sort": page.sort.key === c.key ?
      (page.sort.dir > 0 ? "ascending" : "descending") : "none"},
      el("button", {type: "button", "data-sort": c.key, onclick: () => {
        page.sort = {key: c.key, dir: page.sort.key === c.key ? -page.sort.dir : 1};
        render();
      }}, c.label))));
  const frag = document.createDocumentFragment();
  page.cells = new Map();
  for (const r of rows) {
    frag.append(el("tr", {"data-id": r.id},
      el("td", {}, el("input", {type: "checkbox", "aria-label": `Select ${r.name}`,
        checked: page.selected.has(r.id), onchange: (e) => {
          e.target.checked ? page.selected.add(r.id) : page.selected.delete(r.id);
          updateCount();
        }})),
      cols.map((c) => c.key === "name" ?
        el("td", {"data-col": "name"}, el("a", {href: `#/instances/${enc(r.id)}`}, r.name || r.id)) :
        el("td", {"data-col": c.key, class: c.key === "state" ? `state-${r.state}` : null}, r[c.key]))));
    const cell = frag.lastChild.querySelector('td[data-col="state"]');
    if (cell) page.cells.set(r.id, cell);
  }
  const table = page.body;
  clear(table);
  table.append(el("thead", {}, thead), el("tbody", {}, frag));
  updateCount(rows.length);
}

// Typing renders once a frame, not once a key.
function later() {
  if (!page.pending) page.pending = requestAnimationFrame(() => {
    page.pending = 0;
    render();
  });
}

function updateCount(n) {
  if (n !== undefined) page.count.dataset.shown = n;
  page.count.textContent = `${page.count.dataset.shown} of ${page.rows.length} shown, ${page.selected.size} selected`;
}

// The event stream's {id: state}: rows change in place; an instance not
// listed yet (made elsewhere) reloads the list.
export function onStates(states) {
  let unknown = false;
  for (const [id, state] of Object.entries(states)) {
    const r = page.byId.get(id);
    if (!r) {
      if (state !== "deleted") unknown = true;
      continue;
    }
    r.state = state;
    if (state === "deleted") {
      page.rows = page.rows.filter((x) => x.id !== id);
      page.byId.delete(id);
      page.selected.delete(id);
      if (page.body) render();
      continue;
    }
    const cell = page.cells.get(id);
    if (cell && cell.isConnected) {
      cell.textContent = state;
      cell.className = `state-${state}`;
    }
  }
  document.dispatchEvent(new CustomEvent("hull-states", {detail: states}));
  if (unknown && page.body && !page.refreshing)
    page.refreshing = load().then(render).catch(failed).finally(() => (page.refreshing = null));
}

async function act(action) {
  const ids = [...page.selected];
  if (!ids.length) return say("Select instances first.", true);
  if (action === "delete" && !confirm(`Delete ${ids.length} instance(s)?`)) return;
  say(`${action}: ${ids.length} instance(s)…`);
  const results = await Promise.allSettled(ids.map((id) => action === "delete" ?
    api("DELETE", `/my/machines/${enc(id)}`) :
    api("POST", `/my/machines/${enc(id)}?action=${enc(action)}`)));
  const bad = results.filter((r) => r.status === "rejected");
  if (bad.length) say(`${action}: ${bad.length} failed: ${bad[0].reason.message}`, true);
  else say(`${action}: asked for ${ids.length} instance(s).`);
}

function csvCell(v) {
  const s = String(v);
  // A cell a spreadsheet would run as a formula is quoted as text.
  const t = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(t) || t !== s ? `"${t.replace(/"/g, '""')}"` : t;
}

function exportCsv() {
  const {cols, rows} = visible();
  const lines = [["ID", ...cols.map((c) => c.label)].map(csvCell).join(",")];
  for (const r of rows) lines.push([r.id, ...cols.map((c) => r[c.key])].map(csvCell).join(","));
  const blob = new Blob([lines.join("\r\n") + "\r\n"], {type: "text/csv"});
  const a = el("a", {href: URL.createObjectURL(blob), download: "instances.csv"});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

export async function showInstances(view) {
  page.body = null;
  const t0 = performance.now();
  await load();
  const states = ["", "running", "stopped", "provisioning", "failed", "stopping", "offline"];
  const columns = el("fieldset", {class: "columns"}, el("legend", {}, "Columns"),
    COLUMNS.map((c) => el("label", {}, el("input", {type: "checkbox", "data-column": c.key,
      checked: page.shown.has(c.key), onchange: (e) => {
        e.target.checked ? page.shown.add(c.key) : page.shown.delete(c.key);
        localStorage.setItem("hull.columns", JSON.stringify([...page.shown]));
        render();
      }}), " ", c.label)));
  page.count = el("span", {id: "count", "aria-live": "polite"});
  const tableEl = el("table", {id: "instances", "aria-label": "Instances"});
  view.append(
    el("h1", {}, "Instances"),
    el("div", {class: "toolbar"},
      el("label", {for: "filter"}, "Filter"),
      el("input", {id: "filter", type: "search", value: page.text, oninput: (e) => {
        page.text = e.target.value;
        later();
      }}),
      el("label", {for: "state-filter"}, "State"),
      el("select", {id: "state-filter", onchange: (e) => {
        page.state = e.target.value;
        render();
      }}, states.map((s) => el("option", {value: s, selected: s === page.state}, s || "any"))),
      ["start", "stop", "reboot", "delete"].map((a) =>
        el("button", {type: "button", id: `act-${a}`, onclick: () => act(a).catch(failed)},
          a[0].toUpperCase() + a.slice(1))),
      el("button", {type: "button", id: "export-csv", onclick: exportCsv}, "Export CSV"),
      page.count),
    columns, tableEl);
  page.body = tableEl;
  render();
  view.dataset.renderMs = String(Math.round(performance.now() - t0));
  tableEl.dataset.ready = "1";
  // When the filled table was in the page, in ms since navigation (the
  // bench reads it).
  tableEl.dataset.readyAt = String(Math.round(performance.now()));
  if (!session.login) return;
}
