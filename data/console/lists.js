// lists.js - images, packages and networks as CloudAPI lists them for
// the caller.
import {api} from "./api.js";
import {el, table} from "./dom.js";

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

export async function showList(view, what) {
  const l = LISTS[what];
  const rows = await api("GET", l.path);
  view.append(el("h1", {}, l.title), table(l.title, l.cols, rows));
}
