// lists.js - images, packages and networks as CloudAPI lists them for
// the caller.
import {api, enc} from "./api.js";
import {el, table, say} from "./dom.js";
import {failed, route} from "./app.js";

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

export async function showList(view, what) {
  if (what === "fwrules") return showRules(view);
  const l = LISTS[what];
  const rows = await api("GET", l.path);
  view.append(el("h1", {}, l.title), table(l.title, l.cols, rows));
}
