// instance.js - one instance: properties, resource use, nics, snapshots (create, roll
// back, delete), tags and metadata (edit), firewall, and its console.
import {api, enc} from "./api.js";
import {el, clear, say, table, fmt} from "./dom.js";
import {failed} from "./app.js";
import {PlainTerm} from "./term.js";
import {cjsRequire} from "./cjs.js";

const TABS = ["Properties", "Usage", "Network", "Snapshots", "Tags", "Metadata", "Firewall", "Console"];

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
  const tabNames = VM_BRANDS.includes(m.brand) ? [...TABS, "Screen"] : TABS;
  const tabs = el("div", {class: "tabs", role: "tablist"}, tabNames.map((t) =>
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
      await (PANES[t] || PANE_SCREEN[t])(panel, base, m);
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

  // What it uses now (GET .../usage: its agent's last report, every few
  // seconds), refreshed while the tab is shown.
  async Usage(panel, base) {
    const dl = el("dl", {class: "props", id: "usage"});
    panel.append(dl);
    // The two latest distinct reports: CPU use now is between them.
    let prev = null, cur = null;
    const tick = async () => {
      if (!dl.isConnected) return;
      let u;
      try {
        u = await api("GET", `${base}/usage`);
      } catch (e) {
        failed(e);
        return;
      }
      if (!dl.isConnected) return;
      if (!cur || u.sampled !== cur.sampled) [prev, cur] = [cur, u];
      clear(dl);
      const row = (key, label, text, raw) => dl.append(el("dt", {}, label),
        el("dd", {"data-usage": key, "data-value": raw === undefined ? null : raw}, text));
      const of = (used, limit, unit) => used === undefined ? "not reported" :
        limit === undefined ? unit(used) : `${unit(used)} of ${unit(limit)} (${Math.round(100 * used / limit)}%)`;
      const mib = (b) => b < 1048576 ? `${(b / 1024).toFixed(1)} KiB` : `${(b / 1048576).toFixed(1)} MiB`;
      row("state", "State", u.state);
      row("memory", "Memory", of(u.mem_used_bytes, u.mem_limit_bytes, mib), u.mem_used_bytes);
      let cpu = u.cpu_usec === undefined ? "not reported" : `${(u.cpu_usec / 1e6).toFixed(2)} s`;
      if (prev && prev.cpu_usec !== undefined && cur.cpu_usec !== undefined) {
        const dt = (Date.parse(cur.sampled) - Date.parse(prev.sampled)) * 1000;
        if (dt > 0) cpu += `, ${(100 * (cur.cpu_usec - prev.cpu_usec) / dt).toFixed(1)}% now`;
      }
      row("cpu", "CPU time", cpu, u.cpu_usec);
      row("processes", "Processes", of(u.processes, u.processes_limit, String), u.processes);
      row("disk", "Disk", of(u.disk_used_bytes, u.disk_quota_bytes, mib), u.disk_used_bytes);
      row("net", "Network", u.net_rx_bytes === undefined ? "not reported" :
        `${mib(u.net_rx_bytes)} in, ${mib(u.net_tx_bytes)} out`, u.net_rx_bytes);
      row("sampled", "Reported", u.sampled || "");
      setTimeout(tick, 2000);
    };
    await tick();
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

// A kvm VM's screen (VNC) besides its serial console.
const VM_BRANDS = ["kvm", "bhyve"];
const PANE_SCREEN = {
  async Screen(panel, base, m) {
    const box = el("div", {class: "screen-box", id: "screen", role: "application",
      "aria-label": `Screen of ${m.name}`});
    panel.append(el("p", {}, `Screen of ${m.name} (${m.brand})`), box);
    const t = await api("POST", `${base}/console`, {type: "vnc"});
    const {openScreen} = await import("./screen.js");
    openScreen(box, t, wsUrl);
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

// The WebSocket URL a console ticket names (a path: on this host).
function wsUrl(url) {
  if (!url) throw new Error("the console endpoint gave no WebSocket URL");
  if (url.startsWith("/")) return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${url}`;
  return url;
}

// A terminal on the WebSocket the console ticket names ({ticket, url,
// expires, type}): the console's bytes come as binary frames, keystrokes go
// out as binary frames, a resize as a JSON text frame (docs/hull-api.md,
// CONSOLES).
async function openTerminal(box, t) {
  const Term = await loadXterm();
  const url = wsUrl(t.url);
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
