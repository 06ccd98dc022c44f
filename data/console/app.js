// app.js - the console's shell: the session (login, logout), the routes
// (#/instances, #/instances/ID, #/create, #/servers, #/images,
// #/packages, #/networks), and the live event stream every page shares.
import {api, setCsrf, ApiError} from "./api.js";
import {clear, say} from "./dom.js";
import {showInstances, onStates} from "./instances.js";
import {showInstance} from "./instance.js";
import {showCreate} from "./create.js";
import {showServers} from "./servers.js";
import {showList} from "./lists.js";

export const session = {login: null, admin: false};
let events = null;

function $(id) {
  return document.getElementById(id);
}

function showLogin(message, isError) {
  session.login = null;
  if (events) events.close();
  events = null;
  $("nav").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  clear($("view"));
  $("login").hidden = false;
  say(message || "", isError);
  $("login-name").focus();
}

function started(s) {
  session.login = s.login;
  session.admin = !!s.admin;
  setCsrf(s.csrf);
  $("login").hidden = true;
  $("nav").hidden = false;
  $("nav-servers").hidden = !session.admin;
  $("logout").hidden = false;
  $("who").textContent = `${s.login} @ ${s.datacenter}`;
  openEvents();
  route();
}

// Instance states as they change (server-sent events): the pages listen.
function openEvents() {
  if (events) events.close();
  events = new EventSource("/console/events");
  events.addEventListener("states", (e) => onStates(JSON.parse(e.data)));
  events.addEventListener("expired", () => showLogin("Your session expired: log in again.", true));
  events.onerror = async () => {
    // The stream ended: an expired session, or the server went away (the
    // browser reconnects by itself then).
    try {
      const s = await api("GET", "/console/session");
      if (!s.login) showLogin("Your session expired: log in again.", true);
    } catch (e) {
      /* the server is away; EventSource retries */
    }
  };
}

// A failed call: a lost session goes back to the login form.
export function failed(e) {
  if (e instanceof ApiError && e.status === 401 && session.login) {
    showLogin("Your session expired: log in again.", true);
    return;
  }
  say(e.message, true);
}

export function route() {
  if (!session.login) return;
  const parts = (location.hash || "#/instances").slice(2).split("/");
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === `#/${parts[0]}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const view = clear($("view"));
  say("");
  const page = parts[0];
  let p;
  if (page === "instances" && parts[1]) p = showInstance(view, decodeURIComponent(parts[1]));
  else if (page === "create") p = showCreate(view);
  else if (page === "servers") p = showServers(view);
  else if (["images", "packages", "networks", "fwrules"].includes(page)) p = showList(view, page);
  else p = showInstances(view);
  Promise.resolve(p).catch(failed);
}

async function login(ev) {
  ev.preventDefault();
  const body = {login: $("login-name").value, password: $("login-password").value};
  $("login-submit").disabled = true;
  try {
    const s = await api("POST", "/console/login", body);
    $("login-password").value = "";
    started(s);
  } catch (e) {
    if (e.status === 429) say(`Too many failed logins: try again in ${e.retryAfter} s.`, true);
    else say(e.message, true);
  } finally {
    $("login-submit").disabled = false;
  }
}

async function logout() {
  try {
    await api("POST", "/console/logout");
  } catch (e) {
    /* gone already */
  }
  showLogin("Logged out.");
}

async function start() {
  $("login").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  window.addEventListener("hashchange", route);
  try {
    const s = await api("GET", "/console/session");
    if (s.login) started(s);
    else showLogin();
  } catch (e) {
    showLogin(e.message, true);
  }
}

start();
