// lists.js - images, packages and networks as CloudAPI lists them for
// the caller; for the operator, forms that create and delete them (the
// operator endpoints of docs/hull-api.md: POST/DELETE /my/packages,
// /my/networks, /my/images).
import {api, enc} from "./api.js";
import {el, table, say} from "./dom.js";
import {failed, route, session} from "./app.js";

const LISTS = {
  images: {title: "Images", path: "/my/images", cols: [
    {key: "name", label: "Name"}, {key: "version", label: "Version"}, {key: "os", label: "OS"},
    {key: "type", label: "Type"}, {key: "id", label: "UUID"}, {key: "state", label: "State"},
    {key: "public", label: "Public"}, {key: "published_at", label: "Published"}]},
  packages: {title: "Packages", path: "/my/packages", cols: [
    {key: "name", label: "Name"}, {key: "memory", label: "Memory (MiB)"}, {key: "disk", label: "Disk (MiB)"},
    {key: "swap", label: "Swap (MiB)"}, {key: "vcpus", label: "vCPUs"}, {key: "id", label: "UUID"}]},
  networks: {title: "Networks", path: "/my/networks", cols: [
    {key: "name", label: "Name"}, {key: "subnet", label: "Subnet"}, {key: "gateway", label: "Gateway"},
    {key: "provision_start_ip", label: "First"}, {key: "provision_end_ip", label: "Last"},
    {key: "public", label: "Public"}, {key: "id", label: "UUID"}]},
};

// The caller's firewall rules (CloudAPI's fwrules): list, add, enable or
// disable, delete.
async function showRules(view) {
  const rules = await api("GET", "/my/fwrules");
  const text = el("input", {id: "rule-text", size: 60, "aria-label": "New rule",
    placeholder: "FROM any TO all vms ALLOW tcp PORT 22"});
  const desc = el("input", {id: "rule-description", "aria-label": "Description", placeholder: "description"});
  const act = (path, method, what) => api(method, path).then(() => { say(what); route(); }).catch(failed);
  view.append(el("h1", {}, "Firewall rules"),
    el("form", {class: "toolbar", onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", "/my/fwrules", {rule: text.value, enabled: true,
          ...(desc.value ? {description: desc.value} : {})});
        say("rule added.");
        route();
      } catch (err) {
        failed(err);
      }
    }}, text, desc, el("button", {type: "submit", id: "rule-add"}, "Add rule")),
    el("table", {id: "fwrules", "aria-label": "Firewall rules"},
      el("thead", {}, el("tr", {}, ["Rule", "Enabled", "Description", "ID", ""].map((h) => el("th", {scope: "col"}, h)))),
      el("tbody", {}, rules.map((r) => el("tr", {"data-rule": r.id},
        el("td", {}, r.rule), el("td", {}, r.enabled ? "yes" : "no"), el("td", {}, r.description || ""),
        el("td", {}, r.id), el("td", {},
          el("button", {type: "button", class: "rule-toggle", onclick: () =>
            act(`/my/fwrules/${enc(r.id)}/${r.enabled ? "disable" : "enable"}`, "POST",
              `rule ${r.enabled ? "disabled" : "enabled"}.`)}, r.enabled ? "Disable" : "Enable"),
          el("button", {type: "button", class: "rule-delete", onclick: () =>
            act(`/my/fwrules/${enc(r.id)}`, "DELETE", "rule deleted.")}, "Delete")))))));
}

// The operator's forms: each field a labelled input; numbers as numbers,
// lists split on commas, empty fields left out.
const CREATE = {
  packages: {what: "package", submit: "Add package", fields: [
    ["name", "Name"], ["memory", "Memory (MiB)", "n"], ["disk", "Disk (MiB)", "n"],
    ["vcpus", "vCPUs", "n"], ["swap", "Swap (MiB)", "n"], ["cpu_cap", "CPU cap", "n"],
    ["brand", "Brand"]]},
  networks: {what: "network", submit: "Add network", fields: [
    ["name", "Name"], ["subnet", "Subnet (CIDR)"], ["gateway", "Gateway"],
    ["provision_start_ip", "First address"], ["provision_end_ip", "Last address"],
    ["nic_tag", "NIC tag"], ["vlan_id", "VLAN", "n"], ["resolvers", "Resolvers", "list"],
    ["description", "Description"], ["public", "Public", "bool"]]},
  images: {what: "image", submit: "Import image", action: "?action=import-from-url", fields: [
    ["url", "IMGAPI URL"], ["uuid", "Image UUID"]]},
};

function createForm(what) {
  const c = CREATE[what];
  const inputs = c.fields.map(([key, label, kind]) => {
    const id = `new-${c.what}-${key}`;
    const input = el("input", {id, name: key, type: kind === "bool" ? "checkbox" : kind === "n" ? "number" : "text"});
    return [key, kind, input, el("label", {for: id}, label), input];
  });
  return el("form", {class: "admin-create", id: `create-${c.what}`, "aria-label": c.submit, onsubmit: async (e) => {
    e.preventDefault();
    const body = {};
    for (const [key, kind, input] of inputs) {
      if (kind === "bool") {
        if (input.checked) body[key] = true;
      } else if (input.value !== "") {
        body[key] = kind === "n" ? Number(input.value) :
          kind === "list" ? input.value.split(",").map((v) => v.trim()).filter(Boolean) : input.value;
      }
    }
    try {
      say(`${c.what}: working...`);
      await api("POST", `${LISTS[what].path}${c.action || ""}`, body);
      say(`${c.what} ${body.name || body.uuid}: created.`);
      route();
    } catch (err) {
      failed(err);
    }
  }}, inputs.map((i) => i.slice(3)), el("button", {type: "submit", id: `create-${c.what}-submit`}, c.submit));
}

export async function showList(view, what) {
  if (what === "fwrules") return showRules(view);
  const l = LISTS[what];
  const rows = await api("GET", l.path);
  const cols = [...l.cols];
  if (session.admin) {
    const idKey = "id";
    cols.push({key: "", label: "", value: (r) => el("button", {type: "button", class: "row-delete",
      "data-id": r[idKey], "aria-label": `Delete ${r.name || r[idKey]}`, onclick: async () => {
        if (!confirm(`Delete ${r.name || r[idKey]}?`)) return;
        try {
          await api("DELETE", `${l.path}/${enc(r[idKey])}`);
          say(`${CREATE[what].what} ${r.name || r[idKey]}: deleted.`);
          route();
        } catch (err) {
          failed(err);
        }
      }}, "Delete")});
  }
  view.append(el("h1", {}, l.title), session.admin ? createForm(what) : null,
    table(l.title, cols, rows));
}
