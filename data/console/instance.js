// instance.js - one instance: properties, nics, snapshots (create, roll
// back, delete), tags and metadata (edit), firewall, and its console.
import {api, enc} from "./api.js";
import {el, clear, say, table, fmt} from "./dom.js";
import {failed} from "./app.js";
import {PlainTerm} from "./term.js";
import {cjsRequire} from "./cjs.js";

const TABS = ["Properties", "Network", "Snapshots", "Tags", "Metadata", "Firewall", "Console"];

export async function showInstance(view, id) {
  const base = `/my/machines/${enc(id)}`;
  let m = await api("GET", base);
  const title = el("h1", {}, m.name || m.id);
  const stateEl = el("span", {id: "instance-state", class: `state-${m.state}`}, m.state);
  const actions = ["start", "stop", "reboot"].map((a) =>
    el("button", {type: "button", id: `inst-${a}`, onclick: () =>
      api("POST", `${base}?action=${a}`).then(() => say(`${a}: asked.`)).catch(failed)},
    a[0].toUpperCase() + a.slice(1)));
  const del = el("button", {type: "button", id: "inst-delete", onclick: async () => {
    if (!confirm(`Delete ${m.name}?`)) return;
    try {
      await api("DELETE", base);
      say(`delete: asked for ${m.name}.`);
      location.hash = "#/instances";
    } catch (e) {
      failed(e);
    }
  }}, "Delete");
  const panel = el("section", {id: "tab-panel", role: "tabpanel"});
  const tabs = el("div", {class: "tabs", role: "tablist"}, TABS.map((t) =>
    el("button", {type: "button", role: "tab", id: `tab-${t.toLowerCase()}`,
      "aria-selected": "false", onclick: () => select(t)}, t)));
  view.append(title, el("p", {}, "State: ", stateEl), el("div", {class: "toolbar"}, actions, del), tabs, panel);

  // The event stream's states reach this page too.
  const onStates = (e) => {
    const s = e.detail[id];
    if (s && stateEl.isConnected) {
      stateEl.textContent = s;
      stateEl.className = `state-${s}`;
      m.state = s;
    }
  };
  document.addEventListener("hull-states", onStates);
  window.addEventListener("hashchange", () => document.removeEventListener("hull-states", onStates), {once: true});

  async function select(t) {
    for (const b of tabs.children) b.setAttribute("aria-selected", String(b.textContent === t));
    clear(panel);
    panel.setAttribute("aria-labelledby", `tab-${t.toLowerCase()}`);
    try {
      m = await api("GET", base);
      await PANES[t](panel, base, m);
    } catch (e) {
      failed(e);
    }
  }
  await select("Properties");
}

const PANES = {
  async Properties(panel, base, m) {
    const keys = ["id", "name", "brand", "state", "image", "package", "memory", "disk",
      "primaryIp", "compute_node", "created", "updated", "firewall_enabled", "type"];
    panel.append(el("dl", {class: "props"}, keys.filter((k) => k in m).map((k) =>
      [el("dt", {}, k), el("dd", {"data-prop": k}, fmt(m[k]))])));
  },

  Network(panel, base, m) {
    const nics = m.nics || [];
    panel.append(el("h2", {}, "NICs"), table("NICs", [
      {key: "mac", label: "MAC"}, {key: "ip", label: "IP"}, {key: "netmask", label: "Netmask"},
      {key: "gateway", label: "Gateway"}, {key: "network", label: "Network"},
      {key: "primary", label: "Primary"}], nics || []),
    el("p", {}, "Addresses: ", (m.ips || []).join(", ")));
  },

  async Snapshots(panel, base, m) {
    const snaps = await api("GET", `${base}/snapshots`);
    const name = el("input", {id: "snap-name", "aria-label": "Snapshot name", placeholder: "name"});
    const create = el("form", {class: "toolbar", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", `${base}/snapshots`, name.value ? {name: name.value} : {});
        say("snapshot: asked.");
        refresh();
      } catch (err) {
        failed(err);
      }
    }}, name, el("button", {type: "submit", id: "snap-create"}, "Create snapshot"));
    const list = el("div", {id: "snap-list"});
    async function refresh() {
      const ss = await api("GET", `${base}/snapshots`).catch(failed) || [];
      clear(list).append(el("table", {"aria-label": "Snapshots"},
        el("thead", {}, el("tr", {}, ["Name", "State", "Created", ""].map((h) => el("th", {scope: "col"}, h)))),
        el("tbody", {}, ss.map((s) => el("tr", {"data-snapshot": s.name},
          el("td", {}, s.name), el("td", {class: "snap-state"}, s.state), el("td", {}, s.created || ""),
          el("td", {},
            el("button", {type: "button", class: "snap-rollback", "aria-label": `Roll back to ${s.name}`,
              onclick: () => api("POST", `${base}/snapshots/${enc(s.name)}`)
                .then(() => say(`rollback to ${s.name}: asked.`)).catch(failed)}, "Roll back"),
            el("button", {type: "button", class: "snap-delete", "aria-label": `Delete ${s.name}`,
              onclick: () => api("DELETE", `${base}/snapshots/${enc(s.name)}`)
                .then(() => { say(`delete ${s.name}: asked.`); refresh(); }).catch(failed)}, "Delete")))))));
    }
    panel.append(create, el("button", {type: "button", id: "snap-refresh", onclick: refresh}, "Refresh"), list);
    void snaps;
    await refresh();
  },

  async Tags(panel, base) {
    await kvPane(panel, `${base}/tags`, "tag", false);
  },

  async Metadata(panel, base) {
    await kvPane(panel, `${base}/metadata`, "metadata", true);
  },

  async Firewall(panel, base, m) {
    const rules = await api("GET", `${base}/fwrules`);
    panel.append(el("p", {}, `Firewall: ${m.firewall_enabled ? "enabled" : "disabled"} `,
      el("button", {type: "button", id: "fw-toggle", onclick: () =>
        api("POST", `${base}?action=${m.firewall_enabled ? "disable" : "enable"}_firewall`)
          .then(() => say("firewall: asked.")).catch(failed)},
      m.firewall_enabled ? "Disable" : "Enable")));
    panel.append(el("h2", {}, "Rules that affect it"), table("Firewall rules", [{key: "rule", label: "Rule"},
      {key: "enabled", label: "Enabled"}, {key: "description", label: "Description"}], rules));
  },

  async Console(panel, base, m) {
    const box = el("div", {class: "terminal-box", id: "terminal"});
    panel.append(el("p", {}, `Console of ${m.name} (${m.brand})`), box);
    const t = await api("POST", `${base}/console`, {type: "serial"});
    await openTerminal(box, t);
  },
};

async function kvPane(panel, path, what, stringsOnly) {
  const kv = await api("GET", path);
  const key = el("input", {id: `${what}-key`, "aria-label": `${what} key`, placeholder: "key"});
  const value = stringsOnly ?
    el("textarea", {id: `${what}-value`, "aria-label": `${what} value`, placeholder: "value"}) :
    el("input", {id: `${what}-value`, "aria-label": `${what} value`, placeholder: "value"});
  panel.append(
    el("table", {"aria-label": what}, el("tbody", {}, Object.entries(kv).map(([k, v]) =>
      el("tr", {}, el("td", {}, k), el("td", {}, fmt(v)), el("td", {},
        el("button", {type: "button", "aria-label": `Remove ${k}`, onclick: () =>
          api("DELETE", `${path}/${enc(k)}`).then(() => { say(`${what} ${k}: removed.`); }).catch(failed)},
        "Remove")))))),
    el("form", {class: "toolbar", onsubmit: async (e) => {
      e.preventDefault();
      let v = value.value;
      if (!stringsOnly) {
        if (v === "true" || v === "false") v = v === "true";
        else if (v !== "" && !isNaN(Number(v))) v = Number(v);
      }
      try {
        await api("POST", path, {[key.value]: v});
        say(`${what} ${key.value}: set.`);
      } catch (err) {
        failed(err);
      }
    }}, key, value, el("button", {type: "submit", id: `${what}-set`}, "Set")));
}

// Debian's xterm.js (node-xterm: its CommonJS modules, run by cjs.js) with
// its fit addon, when the package is there; the page's own plain terminal
// (term.js) when it is not.
const XTERM = "/console/vendor/xterm-cjs";
let xterm = null;
function loadXterm() {
  if (!xterm) xterm = (async () => {
    try {
      const {Terminal} = await cjsRequire(XTERM, "lib/public/Terminal.js");
      const fit = await cjsRequire(XTERM, "lib/addons/fit/fit.js");
      Terminal.applyAddon(fit);
      document.head.append(el("link", {rel: "stylesheet", href: `${XTERM}/lib/xterm.css`}));
      return Terminal;
    } catch (err) {
      return PlainTerm;
    }
  })();
  return xterm;
}

// A terminal on the WebSocket the console ticket names ({ticket, url,
// expires, type}): the console's bytes come as binary frames, keystrokes go
// out as binary frames, a resize as a JSON text frame (docs/hull-api.md,
// CONSOLES).
async function openTerminal(box, t) {
  const Term = await loadXterm();
  let url = t.url;
  if (!url) throw new Error("the console endpoint gave no WebSocket URL");
  if (url.startsWith("/")) url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${url}`;
  const term = new Term({cols: 80, rows: 24, scrollback: 5000});
  term.open(box);
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const dec = new TextDecoder();
  const enc8 = new TextEncoder();
  const resize = () => ws.readyState === 1 &&
    ws.send(JSON.stringify({type: "resize", rows: term.rows, cols: term.cols}));
  ws.onopen = resize;
  ws.onmessage = (e) => term.write(typeof e.data === "string" ? e.data :
    dec.decode(new Uint8Array(e.data), {stream: true}));
  ws.onclose = () => term.write("\r\n[console closed]\r\n");
  const send = (d) => ws.readyState === 1 && ws.send(enc8.encode(d));
  // xterm.js 3 (Debian's) has on("data"); later ones onData.
  if (term.onData) term.onData(send);
  else term.on("data", send);
  if (term.onResize) term.onResize(resize);
  else term.on("resize", resize);
  box.dataset.open = "1";
  // The terminal, for scripts that read what it shows.
  box.hullTerm = term;
  const input = box.querySelector("textarea");
  if (input) input.dataset.termInput = "";
  term.focus();
  // The terminal fills its box: a new window size is a new pty size.
  const refit = () => term.fit && term.fit();
  refit();
  window.addEventListener("resize", refit);
  window.addEventListener("hashchange", () => {
    window.removeEventListener("resize", refit);
    ws.close();
  }, {once: true});
}
