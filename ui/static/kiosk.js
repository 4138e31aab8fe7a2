// govkiosk touch UI: help, the idle countdown, the code keypad, the busy
// overlay and redraws pushed by the kiosk. Everything works without it too.
(function () {
  "use strict";
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
  if (window.EventSource) {
    const es = new EventSource("/events?step=" + encodeURIComponent(step));
    es.addEventListener("refresh", () => { if (!submitting) window.location.replace("/"); });
  }

  // Busy overlay while a slow action (scanning, submitting) runs.
  document.querySelectorAll("form.busy").forEach((f) =>
    f.addEventListener("submit", () => {
      const busy = document.getElementById("busy");
      if (f.dataset.busy) busy.firstElementChild.textContent = f.dataset.busy;
      busy.hidden = false;
    }));

  // Keypad for the confirmation code.
  const code = document.getElementById("code");
  document.querySelectorAll(".key").forEach((k) => k.addEventListener("click", () => {
    const v = k.dataset.key;
    if (v === "clear") code.value = "";
    else if (v === "back") code.value = code.value.slice(0, -1);
    else if (code.value.length < 6) code.value += v;
  }));

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
})();
