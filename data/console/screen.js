// screen.js - a VM's screen in the page: Debian's noVNC (its core ES
// modules as /usr/share/novnc installs them, served under
// /console/vendor/novnc/) on the console WebSocket a {type: "vnc"} ticket
// names; the supervisor's VNC relay is at the other end. A VM with a VNC
// password asks for it here (noVNC's credentialsrequired).
import RFB from "/console/vendor/novnc/core/rfb.js";
import {el, say} from "./dom.js";

export function openScreen(box, t, wsUrl) {
  const rfb = new RFB(box, wsUrl(t.url), {wsProtocols: ["binary"]});
  rfb.scaleViewport = true;
  rfb.addEventListener("connect", () => {
    box.dataset.open = "1";
    rfb.focus();
  });
  rfb.addEventListener("disconnect", (e) => {
    delete box.dataset.open;
    if (!e.detail.clean) say("screen: the connection was lost.", true);
  });
  rfb.addEventListener("securityfailure", (e) =>
    say(`screen: refused: ${e.detail.reason || "wrong password"}`, true));
  rfb.addEventListener("credentialsrequired", () => {
    const pw = el("input", {type: "password", id: "vnc-password", "aria-label": "VNC password",
      autocomplete: "off"});
    const form = el("form", {class: "toolbar", id: "vnc-login", onsubmit: (e) => {
      e.preventDefault();
      rfb.sendCredentials({password: pw.value});
      form.remove();
    }}, el("label", {for: "vnc-password"}, "VNC password "), pw,
    el("button", {type: "submit"}, "Connect"));
    box.before(form);
    pw.focus();
  });
  // The screen, for scripts that read or drive it.
  box.hullRfb = rfb;
  window.addEventListener("hashchange", () => rfb.disconnect(), {once: true});
  return rfb;
}
