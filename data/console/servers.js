// servers.js - the operator's datacenter view: each compute node with
// its status and heartbeat, RAM, CPU and disk provisioned against its
// totals, instance count, reserved; reserve and unreserve.
import {api, enc} from "./api.js";
import {el, say} from "./dom.js";
import {failed, route} from "./app.js";

function gib(mib) {
  return `${(mib / 1024).toFixed(1)} GiB`;
}

export async function showServers(view) {
  const servers = await api("GET", "/console/servers");
  const cols = ["Hostname", "UUID", "Status", "Last heartbeat", "RAM", "CPU", "Disk", "Instances", "Reserved", ""];
  view.append(el("h1", {}, "Servers"), el("table", {id: "servers", "aria-label": "Servers"},
    el("thead", {}, el("tr", {}, cols.map((c) => el("th", {scope: "col"}, c)))),
    el("tbody", {}, servers.map((s) => {
      const ramTotal = s.ram || 0, ramFree = s.unreserved_ram ?? ramTotal;
      const diskTotal = s.disk_pool_size_bytes || 0;
      const diskFree = s.unreserved_disk != null ? s.unreserved_disk * 1048576 : diskTotal;
      return el("tr", {"data-server": s.uuid},
        el("td", {}, s.hostname || ""), el("td", {}, s.uuid), el("td", {}, s.status || ""),
        el("td", {}, s.last_heartbeat || ""),
        el("td", {}, `${gib(ramTotal - ramFree)} of ${gib(ramTotal)}`),
        el("td", {}, `${s.cpus || "?"} CPUs`),
        el("td", {}, `${gib((diskTotal - diskFree) / 1048576)} of ${gib(diskTotal / 1048576)}`),
        el("td", {}, String(s.instances ?? "")), el("td", {}, s.reserved ? "yes" : "no"),
        el("td", {}, el("button", {type: "button", class: "reserve", onclick: () =>
          api("POST", `/console/servers/${enc(s.uuid)}`, {reserved: !s.reserved})
            .then(() => { say(`${s.hostname}: ${s.reserved ? "unreserved" : "reserved"}.`); route(); })
            .catch(failed)}, s.reserved ? "Unreserve" : "Reserve")));
    }))));
}
