// The API's WebSockets (live streams): the token goes as `Sec-WebSocket-Protocol: bearer,
// <token>` (kept out of URLs and logs). A browser cannot read the answer of a refused
// handshake, so when a socket closes the session is checked over HTTP: a refused token ends
// the session and goes back to the login page (api.js), as for any call.

import { call, session } from "./api.js";
import { h } from "./dom.js";

const FIRST_WAIT = 1000; // ms before the first reconnection, doubled up to MOST_WAIT
const MOST_WAIT = 30000;
const open = new Set(); // the streams of the page shown

/** Closes every stream of the page (the router calls it before showing another). */
export function closeStreams() {
  for (const stream of [...open]) stream.close();
}

/** Whether the session still holds (a light authenticated call; api.js handles a refusal). */
export async function sessionHolds() {
  try {
    await call("GET", "/api/v1/2fa/status");
  } catch {
    // serve away (the session may hold) or the session refused (the token is gone)
  }
  return Boolean(session.token);
}

function socketUrl(path) {
  const url = new URL(path, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/**
 * Follows a stream: onMessage(data) for each frame (text as a string, binary as an
 * ArrayBuffer), onState("connecting" | "live" | "reconnecting") as it goes. With `reconnect`,
 * a dropped socket is opened again after a growing wait while the session holds; without,
 * onEnd({code, reason, opened}) tells how it ended. Returns {send(data), close()}.
 */
export function stream(path, { onMessage, onState = () => {}, onEnd = () => {}, reconnect = true }) {
  let socket = null;
  let stopped = false;
  let wait = FIRST_WAIT;
  let timer = 0;
  let tries = 0;
  const handle = {
    send(data) {
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(data);
    },
    close() {
      stopped = true;
      clearTimeout(timer);
      open.delete(handle);
      if (socket) socket.close(1000);
    },
  };

  function connect() {
    let opened = false;
    onState(tries ? "reconnecting" : "connecting");
    tries += 1;
    socket = new WebSocket(socketUrl(path), ["bearer", session.token]);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("open", () => {
      opened = true;
      wait = FIRST_WAIT;
      onState("live");
    });
    socket.addEventListener("message", (event) => onMessage(event.data));
    socket.addEventListener("close", async (event) => {
      if (stopped) return;
      // Refused before opening (401...), closed for an expired token (1008) or dropped.
      const holds = (opened && event.code === 1000) || (await sessionHolds());
      if (stopped) return;
      if (!holds || !reconnect) {
        handle.close();
        if (holds) onEnd({ code: event.code, reason: event.reason, opened });
        return;
      }
      onState("reconnecting");
      timer = setTimeout(connect, wait);
      wait = Math.min(wait * 2, MOST_WAIT);
    });
  }

  open.add(handle);
  connect();
  return handle;
}

/** A "live" / "reconnecting" indicator for a stream's onState. */
export function liveIndicator() {
  // Said politely when it changes, but not a status region: the page's messages are those.
  const badge = h("span", { class: "live", "aria-live": "polite" }, "connecting…");
  badge.show = (state) => {
    badge.dataset.state = state;
    badge.textContent = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…" }[
      state
    ];
  };
  return badge;
}
