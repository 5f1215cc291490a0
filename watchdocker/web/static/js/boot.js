// Loaded before the console's modules, as a plain script: when one of them does not come, the
// modules do not run and the page stays blank, with no script error. Chromium drops the
// requests under way whenever the host's network interfaces change (ERR_NETWORK_CHANGED), and
// Docker adds or removes one for each container it starts or stops: on a Docker host, during
// an update. The page then loads again, as a person would, up to MOST_TRIES times a minute.
"use strict";
(() => {
  const KEY = "watchdocker.reloads";
  const MOST_TRIES = 3;
  const WINDOW_MS = 60000;
  let reloading = false; // several files of one load may fail: that load is one try
  window.addEventListener(
    "error",
    (event) => {
      const element = event.target;
      if (!(element instanceof HTMLScriptElement || element instanceof HTMLLinkElement)) return;
      if (reloading) return;
      const now = Date.now();
      const recent = (JSON.parse(sessionStorage.getItem(KEY) || "[]") || [])
        .filter((at) => now - at < WINDOW_MS);
      if (recent.length >= MOST_TRIES) {
        const view = document.getElementById("view");
        if (view) {
          view.textContent =
            "The console's files did not load: is serve running? Reload the page to try again.";
        }
        return;
      }
      sessionStorage.setItem(KEY, JSON.stringify([...recent, now]));
      reloading = true;
      setTimeout(() => location.reload(), 500 * (recent.length + 1));
    },
    true, // an element's load error does not bubble: caught on its way down
  );
})();
