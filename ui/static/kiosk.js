// govkiosk touch UI: help, the idle countdown, the code keypad, the busy
// overlay, the on-screen keyboard and redraws pushed by the kiosk.
// Everything works without it too.

// What a key does to a field's value: the same rules as ui/keyboard.Press
// (Vietnamese tone placement, Thai clusters), so typing reads the same with
// and without script.
const govkioskKeyboard = (function () {
  "use strict";
  const TONES = "\u0301\u0300\u0309\u0303\u0323";
  const isTone = (c) => c.length === 1 && TONES.includes(c);
  const isVowel = (c) => "aăâeêioôơuưy".includes(c.toLowerCase());
  const isMod = (c) => "ăâêôơư".includes(c.toLowerCase());
  const letterOrMark = /^[\p{L}\p{M}]$/u;
  const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
  const cp = (c) => (c === undefined ? -1 : c.codePointAt(0));
  const thCons = (c) => cp(c) >= 0xe01 && cp(c) <= 0xe2e;
  const thAB = (c) => { const n = cp(c); return n === 0xe31 || (n >= 0xe34 && n <= 0xe3a) || n === 0xe47 || n === 0xe4d; };
  const thTone = (c) => cp(c) >= 0xe48 && cp(c) <= 0xe4c;

  function lastWord(s) {
    const cs = Array.from(s);
    let i = cs.length;
    while (i > 0 && letterOrMark.test(cs[i - 1])) i--;
    return [cs.slice(0, i).join(""), cs.slice(i).join("")];
  }
  function splitTone(word) {
    let mark = "", out = "";
    for (const c of word.normalize("NFD")) {
      if (isTone(c)) mark = c; else out += c;
    }
    return [out.normalize("NFC"), mark];
  }
  function placeTone(word, mark) {
    const rs = Array.from(word);
    const lo = rs.map((c) => c.toLowerCase());
    let start = 0;
    if (lo.length > 2 && ((lo[0] === "q" && lo[1] === "u") || (lo[0] === "g" && lo[1] === "i")) && isVowel(lo[2])) start = 2;
    while (start < rs.length && !isVowel(rs[start])) start++;
    if (start === rs.length) return null;
    let end = start;
    while (end < rs.length && isVowel(rs[end])) end++;
    let at = -1;
    for (let i = start; i < end && at < 0; i++) if (lo[i] === "ơ") at = i;
    for (let i = start; i < end && at < 0; i++) if (isMod(rs[i])) at = i;
    if (at < 0) at = end < rs.length ? end - 1 : (end - start >= 3 ? start + 1 : start);
    if (!mark) return word;
    rs[at] += mark;
    return rs.join("").normalize("NFC");
  }
  function tone(s, mark) {
    const [head, word] = lastWord(s);
    const [bare, had] = splitTone(word);
    const p = placeTone(bare, had === mark ? "" : mark);
    return p === null ? s : head + p;
  }
  function retone(s) {
    const [head, word] = lastWord(s);
    const [bare, mark] = splitTone(word);
    if (!mark) return s;
    const p = placeTone(bare, mark);
    return p === null ? s : head + p;
  }
  function thai(s, r) {
    const cs = Array.from(s);
    const prev = cs[cs.length - 1], pprev = cs[cs.length - 2];
    if (prev === undefined) return s;
    const before = cs.slice(0, -1).join("");
    if (thAB(r)) {
      if (thCons(prev)) return s + r;
      if (thAB(prev) && thCons(pprev)) return before + r;
      if (thTone(prev) && thCons(pprev)) return before + r + prev;
    } else if (thTone(r)) {
      if (thTone(prev) && (thCons(pprev) || thAB(pprev))) return before + r;
      if (thCons(prev) || (thAB(prev) && cp(prev) !== 0xe47 && cp(prev) !== 0xe3a)) return s + r;
    }
    return s;
  }
  function press(v, key, max) {
    switch (key) {
      case "@back": return v === "" ? v : retone(Array.from(v).slice(0, -1).join(""));
      case "@clear": return "";
      case "@space": key = " "; break;
      case "@shift": return v;
    }
    if (Array.from(key).length !== 1) return v;
    let out;
    if (isTone(key)) out = tone(v, key);
    else if (thAB(key) || thTone(key)) out = thai(v, key);
    else if (printable.test(key)) out = retone(v + key);
    else return v;
    return max > 0 && Array.from(out).length > max ? v : out;
  }
  return { press };
})();

(function () {
  "use strict";
  // A kiosk page inside the login screen's frame is the provider sending
  // the citizen back: the screen around it redraws itself (the frame may
  // not navigate it).
  if (window.top !== window.self) {
    window.parent.postMessage("govkiosk:redraw", window.location.origin);
    return;
  }
  window.addEventListener("message", (e) => {
    if (e.origin === window.location.origin && e.data === "govkiosk:redraw") window.location.replace("/");
  });
  const body = document.body;
  const step = body.dataset.step;

  // Help.
  const help = document.getElementById("help");
  document.getElementById("help-open").addEventListener("click", () => help.showModal());
  document.getElementById("help-close").addEventListener("click", () => help.close());

  // Redraw when the kiosk changes the screen (QR scan, idle wipe, a long
  // action ending), unless a touch is on its way: its answer redraws.
  let submitting = false;
  document.querySelectorAll("form").forEach((f) => f.addEventListener("submit", () => { submitting = true; }));
  // What the keyboard typed in the page is only in the page: before the
  // form screen is redrawn or left by another button (a language, larger
  // text), it is kept in the session as a key press without script would.
  const appform = document.getElementById("appform");
  // Only what changed in the page is sent: a value the kiosk filled in
  // meanwhile (an ID card's QR) is not overwritten by the page's old one.
  function keepDraft() {
    if (!appform) return Promise.resolve();
    const changed = new URLSearchParams();
    appform.querySelectorAll("input[name]").forEach((i) => {
      if (i.name.startsWith("kb.") || i.readOnly) return;
      if (i.type === "radio") { if (i.checked && !i.defaultChecked) changed.set(i.name, i.value); }
      else if (i.value !== i.defaultValue) changed.set(i.name, i.value);
    });
    if ([...changed.keys()].length === 0) return Promise.resolve();
    return fetch("/form/draft", { method: "POST", body: changed }).catch(() => {});
  }
  if (appform) document.querySelectorAll("header form, footer form").forEach((f) => f.addEventListener("submit", (e) => {
    e.preventDefault();
    submitting = true;
    keepDraft().finally(() => f.submit());
  }));
  if (window.EventSource) {
    const es = new EventSource("/events?step=" + encodeURIComponent(step));
    es.addEventListener("refresh", () => { if (!submitting) keepDraft().finally(() => window.location.replace("/")); });
  }

  // Busy overlay while a slow action (scanning, submitting) runs.
  document.querySelectorAll("form.busy").forEach((f) =>
    f.addEventListener("submit", () => {
      const busy = document.getElementById("busy");
      if (f.dataset.busy) busy.firstElementChild.textContent = f.dataset.busy;
      busy.hidden = false;
    }));

  // Keypad for the confirmation code: the button sends only 6 digits.
  const code = document.getElementById("code");
  const send = document.getElementById("submit-code");
  const complete = () => { if (send) send.disabled = !/^[0-9]{6}$/.test(code.value); };
  if (code) complete();
  document.querySelectorAll(".key").forEach((k) => k.addEventListener("click", () => {
    const v = k.dataset.key;
    if (v === "clear") code.value = "";
    else if (v === "back") code.value = code.value.slice(0, -1);
    else if (code.value.length < 6) code.value += v;
    complete();
  }));

  // The form's answers are kept as a draft as they are typed, too.
  let draftTimer = 0;
  if (appform) ["input", "change"].forEach((e) => appform.addEventListener(e, () => {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(keepDraft, 400);
  }));

  // Listen: plays the screen's instruction from the start, without reloading.
  const listen = document.getElementById("listen");
  const audio = document.getElementById("voice");
  if (listen && audio) listen.addEventListener("click", (e) => {
    e.preventDefault();
    audio.currentTime = 0;
    audio.play().catch(() => { window.location.assign("/?listen=1"); });
  });

  // On-screen keyboard: types in the page, as the server does for a
  // browser without script (ui/keyboard), without a round trip.
  const kb = document.getElementById("kb");
  if (kb) keyboard(kb);

  // Idle: after the timeout show a countdown; at zero the session is wiped.
  if (step === "attract" || step === "outOfService") return;
  const timeout = Number(body.dataset.idleTimeout) * 1000;
  const countdown = Number(body.dataset.idleCountdown);
  let last = Date.now() - Number(body.dataset.idleSeconds) * 1000;
  let lastPing = 0;
  const idle = document.getElementById("idle");
  const text = document.getElementById("idle-text");
  function post(path) { return fetch(path, { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" } }); }
  function activity() {
    last = Date.now();
    if (idle.open) idle.close();
    if (last - lastPing > 10000) { lastPing = last; post("/touch"); }
  }
  ["pointerdown", "keydown", "input"].forEach((e) => document.addEventListener(e, activity, true));
  document.getElementById("idle-continue").addEventListener("click", activity);
  setInterval(() => {
    const idleFor = Date.now() - last;
    if (idleFor < timeout) return;
    const left = Math.max(0, Math.ceil(countdown - (idleFor - timeout) / 1000));
    const template = left === 1 ? text.dataset.templateOne : text.dataset.template;
    text.textContent = template.replace("%s", String(left));
    if (!idle.open) idle.showModal();
    if (left === 0) post("/cancel").then(() => window.location.replace("/"));
  }, 500);

  // The thank-you screen goes back to the start by itself.
  if (step === "thanks") setTimeout(() => document.getElementById("finish").submit(), 8000);

  // keyboard drives the on-screen keyboard kb: its keys type into the
  // field it is under; touching another field (or its "type here" button)
  // moves it there, in the layout that field takes.
  function keyboard(kb) {
    const form = kb.closest("form");
    const hidden = (n) => kb.querySelector('input[name="' + n + '"]');
    const pads = ["number", "phone", "date"];
    let field = form.elements[kb.dataset.field];
    let layout = kb.dataset.layout;
    let textLayout = pads.includes(layout) ? (document.documentElement.lang || "en") : layout;
    let shift = kb.dataset.shift === "1";
    function draw() {
      const isText = !pads.includes(layout);
      const current = kb.querySelector('.kb-layout[data-layout="' + layout + '"]');
      const hasShift = current.querySelector('[data-layer="1"]') !== null;
      if (!hasShift) shift = false;
      kb.querySelectorAll(".kb-layout").forEach((l) => { l.hidden = l !== current; });
      current.querySelectorAll(".kb-layer").forEach((l) => { l.hidden = (l.dataset.layer === "1") !== shift; });
      const sh = kb.querySelector(".kb-shift");
      sh.hidden = !hasShift;
      sh.classList.toggle("on", shift);
      sh.setAttribute("aria-pressed", String(shift));
      kb.querySelector(".kb-switches").hidden = !isText;
      kb.querySelectorAll(".kb-switch").forEach((b) => b.classList.toggle("on", b.value === layout));
      hidden("kb.field").value = field.name;
      hidden("kb.layout").value = layout;
      hidden("kb.shift").value = shift ? "1" : "";
      document.querySelectorAll(".kb-open").forEach((b) => { b.hidden = !kb.hidden && b.value === field.name; });
      document.querySelectorAll(".field.typing").forEach((f) => f.classList.remove("typing"));
      if (!kb.hidden) field.closest(".field").classList.add("typing");
    }
    function attach(input) {
      field = input;
      const type = input.dataset.kb;
      layout = pads.includes(type) ? type : textLayout;
      shift = false;
      const open = form.querySelector('.kb-open[value="' + input.name + '"]');
      (open || input.closest(".field")).after(kb);
      kb.hidden = false;
      draw();
    }
    function done() {
      const inputs = Array.from(form.querySelectorAll("input[data-kb]:not([readonly])"));
      const next = inputs.slice(inputs.indexOf(field) + 1).find((i) => i.value === "");
      if (next) { attach(next); return; }
      kb.hidden = true;
      draw();
    }
    kb.addEventListener("click", (e) => {
      const b = e.target.closest("button");
      if (!b) return;
      e.preventDefault();
      if (b.name === "kb.to") {
        layout = textLayout = b.value;
        shift = false;
      } else if (b.value === "@shift") {
        shift = !shift;
      } else if (b.value === "@done") {
        done();
        return;
      } else {
        const max = Number(field.dataset.max) || 1000;
        field.value = govkioskKeyboard.press(field.value, b.value, max);
        field.dispatchEvent(new Event("input", { bubbles: true }));
        if (!b.value.startsWith("@")) shift = false;
      }
      draw();
    });
    document.querySelectorAll(".kb-open").forEach((b) => b.addEventListener("click", (e) => {
      e.preventDefault();
      attach(form.elements[b.value]);
    }));
    form.querySelectorAll("input[data-kb]:not([readonly])").forEach((i) => i.addEventListener("focus", () => {
      if (i !== field || kb.hidden) attach(i);
    }));
    draw();
  }
})();
