// cjs.js - runs a package of CommonJS modules in the browser, with no
// build step: node-xterm (Debian's xterm.js as CommonJS, under
// /usr/share/nodejs/xterm). hull-api serves each module wrapped as
// hullCjs.define(ID, function (require, module, exports) {...}) (a classic
// script, so the page's CSP needs no eval); this loader fetches a module,
// reads the require("...") calls in its source, fetches those, and once
// the whole graph is there runs the entry module as Node would (each module
// once, cached before it runs, so cycles see a partial exports object).
// Only relative requires inside the package are followed.
const factories = new Map();
const fetched = new Map();
const cache = new Map();

window.hullCjs = {define: (id, fn) => factories.set(id, fn)};

function resolve(from, spec) {
  if (!spec.startsWith(".")) throw new Error(`cjs: ${spec} (from ${from}) is outside the package`);
  const parts = from.split("/");
  parts.pop();
  for (const p of spec.split("/")) {
    if (p === "..") parts.pop();
    else if (p !== ".") parts.push(p);
  }
  const id = parts.join("/");
  return id.endsWith(".js") ? id : `${id}.js`;
}

function fetchModule(base, id) {
  if (!fetched.has(id)) fetched.set(id, new Promise((ok, fail) => {
    const s = document.createElement("script");
    s.src = `${base}/${id}`;
    s.addEventListener("load", () => factories.has(id) ? ok() : fail(new Error(`cjs: ${id} did not define itself`)));
    s.addEventListener("error", () => fail(new Error(`cjs: ${id} could not be loaded`)));
    document.head.append(s);
  }));
  return fetched.get(id);
}

function requires(id) {
  const src = factories.get(id).toString();
  return [...src.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)].map((m) => resolve(id, m[1]));
}

function run(id) {
  if (cache.has(id)) return cache.get(id).exports;
  const fn = factories.get(id);
  if (!fn) throw new Error(`cjs: ${id} is not loaded`);
  const module = {exports: {}};
  cache.set(id, module);
  fn.call(module.exports, (spec) => run(resolve(id, spec)), module, module.exports);
  return module.exports;
}

// The exports of module id (a path inside the package) served under base.
export async function cjsRequire(base, id) {
  const seen = new Set();
  const visit = async (m) => {
    if (seen.has(m)) return;
    seen.add(m);
    await fetchModule(base, m);
    await Promise.all(requires(m).map(visit));
  };
  await visit(id);
  return run(id);
}
