// dom.js - building the page's elements. Every value from the API goes
// into the page as text (textContent, attribute values), never as HTML.

// el("td", {class: "x", onclick: f}, "text", child, ...)
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "class") e.className = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(e) {
  while (e.firstChild) e.removeChild(e.firstChild);
  return e;
}

// A message in the page's status line (role=alert for errors).
export function say(text, isError) {
  const s = document.getElementById("status");
  s.textContent = text || "";
  s.className = isError ? "error" : "";
  s.setAttribute("role", isError ? "alert" : "status");
}

// A table of rows [{...}] with columns [{key, label, value(row)}].
export function table(label, columns, rows) {
  return el("table", {"aria-label": label},
    el("thead", {}, el("tr", {}, columns.map((c) => el("th", {scope: "col"}, c.label)))),
    el("tbody", {}, rows.map((r) => el("tr", {},
      columns.map((c) => el("td", {}, c.value ? c.value(r) : fmt(r[c.key])))))));
}

export function fmt(v) {
  if (v === undefined || v === null) return "";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
