// term.js - a plain terminal for the Console tab when Debian's xterm.js
// (node-xterm, run through cjs.js) is not installed. This one keeps a
// scrollback of text lines, handles what a
// shell on a serial line or a zone console sends (CR, LF, backspace, tab,
// and ANSI/VT100 escape sequences: erase-in-line and clear-screen acted
// on, colours and cursor moves dropped), and turns keys into the bytes a
// terminal sends. Its own code; the API is the part of xterm.js the page
// uses (open, write, onData, onResize, focus, rows, cols).
const ESC = "\x1b";

export class PlainTerm {
  constructor({rows = 24, cols = 80, scrollback = 5000} = {}) {
    this.rows = rows;
    this.cols = cols;
    this.scrollback = scrollback;
    this.lines = [""];
    this.col = 0;
    this.esc = ""; // an escape sequence being read
    this.dataFns = [];
    this.pending = 0;
  }

  open(box) {
    this.pre = document.createElement("pre");
    this.pre.className = "term";
    this.pre.tabIndex = 0;
    this.pre.setAttribute("role", "log");
    this.pre.setAttribute("aria-label", "Console (type here)");
    this.pre.dataset.termInput = "";
    this.pre.addEventListener("keydown", (e) => this.key(e));
    this.pre.addEventListener("paste", (e) => {
      e.preventDefault();
      this.emit(e.clipboardData.getData("text").replace(/\r?\n/g, "\r"));
    });
    box.append(this.pre);
  }

  onData(fn) {
    this.dataFns.push(fn);
  }

  onResize() {
    /* a fixed size */
  }

  focus() {
    this.pre.focus();
  }

  text() {
    return this.lines.join("\n");
  }

  emit(d) {
    for (const fn of this.dataFns) fn(d);
  }

  key(e) {
    const seq = {
      Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: ESC, ArrowUp: `${ESC}[A`,
      ArrowDown: `${ESC}[B`, ArrowRight: `${ESC}[C`, ArrowLeft: `${ESC}[D`, Home: `${ESC}[H`,
      End: `${ESC}[F`, Delete: `${ESC}[3~`, PageUp: `${ESC}[5~`, PageDown: `${ESC}[6~`,
    }[e.key];
    let d = null;
    if (seq) d = seq;
    else if (e.ctrlKey && !e.altKey && e.key.length === 1) {
      const c = e.key.toUpperCase().charCodeAt(0);
      if (c >= 64 && c <= 95) d = String.fromCharCode(c - 64);
    } else if (!e.ctrlKey && !e.metaKey && e.key.length === 1) d = e.altKey ? ESC + e.key : e.key;
    if (d === null) return;
    e.preventDefault();
    this.emit(d);
  }

  put(ch) {
    let line = this.lines[this.lines.length - 1];
    if (this.col > line.length) line = line.padEnd(this.col);
    this.lines[this.lines.length - 1] = line.slice(0, this.col) + ch + line.slice(this.col + 1);
    this.col++;
  }

  newline() {
    this.lines.push("");
    if (this.lines.length > this.scrollback) this.lines.splice(0, this.lines.length - this.scrollback);
  }

  // A whole escape sequence: what the screen can show as text.
  sequence(s) {
    const m = /^\x1b\[([0-9;?]*)([A-Za-z@`])$/.exec(s);
    if (!m) return;
    const last = this.lines.length - 1;
    if (m[2] === "K") this.lines[last] = this.lines[last].slice(0, this.col);
    else if (m[2] === "J" && (m[1] === "2" || m[1] === "3")) {
      this.lines = [""];
      this.col = 0;
    } else if (m[2] === "D") this.col = Math.max(0, this.col - (parseInt(m[1], 10) || 1));
    else if (m[2] === "C") this.col += parseInt(m[1], 10) || 1;
  }

  write(data) {
    for (const ch of data) {
      if (this.esc) {
        this.esc += ch;
        // CSI ends with a letter; other ESC sequences are two characters
        // (or an OSC ended by BEL).
        const csi = this.esc[1] === "[";
        const osc = this.esc[1] === "]";
        if ((csi && this.esc.length > 2 && /[A-Za-z@`~]/.test(ch)) ||
            (osc && ch === "\x07") || (!csi && !osc && this.esc.length === 2) ||
            this.esc.length > 64) {
          this.sequence(this.esc);
          this.esc = "";
        }
        continue;
      }
      if (ch === ESC) this.esc = ESC;
      else if (ch === "\r") this.col = 0;
      else if (ch === "\n") {
        this.newline();
        this.col = 0;
      } else if (ch === "\b") this.col = Math.max(0, this.col - 1);
      else if (ch === "\t") this.col = (Math.floor(this.col / 8) + 1) * 8;
      else if (ch >= " " || ch > "\x7f") this.put(ch);
    }
    if (!this.pending) this.pending = requestAnimationFrame(() => this.render());
  }

  render() {
    this.pending = 0;
    const atEnd = this.pre.scrollTop + this.pre.clientHeight >= this.pre.scrollHeight - 4;
    this.pre.textContent = this.text();
    if (atEnd) this.pre.scrollTop = this.pre.scrollHeight;
  }
}
