// create.js - the create form: image, package, networks, name, firewall,
// tags and metadata (user-script and cloud-config included), posted to
// CloudAPI's CreateMachine; the API's error, or the new instance's
// progress until it runs or fails.
import {api, enc} from "./api.js";
import {el, say} from "./dom.js";
import {failed} from "./app.js";

// "key=value" lines; a value may be JSON for tags (true, 3).
function pairs(text, json) {
  const out = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const i = line.indexOf("=");
    if (i < 1) throw new Error(`"${line}": wants key=value`);
    let v = line.slice(i + 1).trim();
    if (json && (v === "true" || v === "false" || (v !== "" && !isNaN(Number(v))))) v = JSON.parse(v);
    out[line.slice(0, i).trim()] = v;
  }
  return out;
}

export async function showCreate(view) {
  const [images, packages, networks] = await Promise.all([
    api("GET", "/my/images"), api("GET", "/my/packages"), api("GET", "/my/networks")]);
  const field = (id, label, input) => [el("label", {for: id}, label), input];
  const image = el("select", {id: "create-image", required: true},
    images.map((i) => el("option", {value: i.id}, `${i.name}@${i.version} (${i.os || i.type || ""})`)));
  const pkg = el("select", {id: "create-package", required: true},
    packages.map((p) => el("option", {value: p.name}, `${p.name} (${p.memory} MiB, ${p.disk} MiB disk)`)));
  const nets = el("fieldset", {id: "create-networks"}, el("legend", {}, "Networks"),
    networks.map((n, i) => el("label", {}, el("input", {type: "checkbox", value: n.id, checked: i === 0 && !!n.public}),
      ` ${n.name} ${n.subnet || ""}`)));
  const name = el("input", {id: "create-name", autocomplete: "off"});
  const fw = el("input", {id: "create-firewall", type: "checkbox"});
  const tags = el("textarea", {id: "create-tags", placeholder: "role=web"});
  const meta = el("textarea", {id: "create-metadata", placeholder: "key=value"});
  const userScript = el("textarea", {id: "create-user-script", placeholder: "#!/bin/sh"});
  const cloudConfig = el("textarea", {id: "create-cloud-config", placeholder: "#cloud-config"});
  const progress = el("p", {id: "create-progress", "aria-live": "polite"});
  const submit = el("button", {type: "submit", id: "create-submit"}, "Create");
  const form = el("form", {class: "create", "aria-label": "Create an instance", onsubmit: async (e) => {
    e.preventDefault();
    let body;
    try {
      body = {image: image.value, package: pkg.value,
        networks: [...nets.querySelectorAll("input:checked")].map((c) => c.value),
        firewall_enabled: fw.checked, tags: pairs(tags.value, true), metadata: pairs(meta.value, false)};
    } catch (err) {
      return say(err.message, true);
    }
    if (name.value) body.name = name.value;
    if (!body.networks.length) delete body.networks;
    if (userScript.value) body.metadata["user-script"] = userScript.value;
    if (cloudConfig.value) body.metadata["cloud-init:user-data"] = cloudConfig.value;
    submit.disabled = true;
    try {
      const m = await api("POST", "/my/machines", body);
      say(`Creating ${m.name} (${m.id}).`);
      watch(m, progress);
    } catch (err) {
      say(err.message, true);
      progress.textContent = "";
    } finally {
      submit.disabled = false;
    }
  }},
  field("create-name", "Name", name), field("create-image", "Image", image),
  field("create-package", "Package", pkg), nets,
  el("label", {}, fw, " Firewall enabled"),
  field("create-tags", "Tags (key=value a line)", tags),
  field("create-metadata", "Metadata (key=value a line)", meta),
  field("create-user-script", "user-script", userScript),
  field("create-cloud-config", "cloud-config (cloud-init:user-data)", cloudConfig),
  submit);
  view.append(el("h1", {}, "Create an instance"), form, progress);
}

// Progress: the event stream's states for the new instance, until it
// runs or fails (then the instance's page is a link away).
function watch(m, progress) {
  const show = (state) => {
    progress.textContent = "";
    progress.append(`${m.name}: ${state} `, el("a", {href: `#/instances/${enc(m.id)}`}, "open"));
    progress.dataset.state = state;
    if (state === "failed") say(`${m.name} failed to provision.`, true);
  };
  show(m.state || "provisioning");
  const on = (e) => {
    const s = e.detail[m.id];
    if (!s) return;
    show(s);
    if (s === "running" || s === "failed" || s === "deleted") document.removeEventListener("hull-states", on);
  };
  document.addEventListener("hull-states", on);
  api("GET", `/my/machines/${enc(m.id)}`).then((x) => x.state !== "provisioning" && show(x.state)).catch(failed);
}
