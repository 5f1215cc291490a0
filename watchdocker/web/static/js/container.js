// A container's page: its details (kept up to date by the status stream), its logs following
// live, and a line-mode terminal in it where the shell is enabled. Everything from the
// container goes in as text nodes.

import { call } from "./api.js";
import { append, field, h, messageArea, shortDigest, show } from "./dom.js";
import { STATUS } from "./containers.js";
import { liveIndicator, stream } from "./live.js";

const TAIL = 200; // log lines asked for when the page opens
const MOST_LINES = 2000; // log lines kept in the page
const MOST_CHUNKS = 2000; // pieces of terminal output kept in the page
// ANSI escape sequences (colours, cursor moves, titles): a line-mode terminal shows the text.
const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[@-Z\\-_]/g;

export async function containerPage(given) {
  const message = messageArea();
  const facts = h("dl", { class: "facts" });
  const live = liveIndicator();
  const page = h("section", { class: "container-page", "aria-labelledby": "page-title" },
    h("p", {}, h("a", { href: "#/containers" }, "← Containers")),
    h("div", { class: "heading" }, h("h1", { id: "page-title" }, given), live),
    message, facts);
  show(page);
  let container;
  try {
    const { data } = await call("GET", "/api/containers");
    container = data.containers.find((c) => c.name === given || c.id === given)
      || data.containers.find((c) => c.id.startsWith(given));
  } catch (error) {
    message.say(error.text);
    return;
  }
  if (!page.isConnected) return; // another page was shown meanwhile
  if (!container) {
    message.say(`There is no container ${given} (it may have been removed).`);
    return;
  }
  const logs = logsPart(container);
  const shell = shellPart(container);
  page.append(logs.part, shell.part);
  describe(facts, container);

  // A change of this container (an update replaces it by one of the same name).
  const mine = (c) => c.id === container.id || c.name === container.name;
  stream("/api/containers/ws", {
    onState: live.show,
    onMessage(text) {
      const { type, data } = JSON.parse(text);
      const changed = type === "containers" ? data.containers.find(mine) : mine(data) && data;
      if (type === "destroyed" && data.id === container.id) {
        message.say(`${container.name} was removed.`, "notice");
        return;
      }
      if (!changed) return;
      const wasRunning = container.running;
      container = { ...container, ...changed };
      describe(facts, container);
      if (container.running !== wasRunning) shell.check(container);
      if (container.running && !wasRunning) logs.follow(container, 0); // its new output
    },
  });
  logs.follow(container, TAIL);
  shell.check(container);
}

function describe(facts, c) {
  const fact = (term, ...value) => [h("dt", {}, term), h("dd", {}, ...value)];
  facts.replaceChildren(
    ...fact("ID", h("code", { title: c.id }, c.id.slice(0, 12))),
    ...fact("Image", c.image),
    ...fact("State", h("span", { class: `state ${c.running ? "running" : "stopped"}` },
      c.state || (c.running ? "running" : "stopped")), c.health ? ` (${c.health})` : ""),
    ...fact("Status", h("span", { class: `badge ${c.status}` }, STATUS[c.status] || c.status),
      c.reason ? h("div", { class: "reason" }, c.reason) : null),
    ...fact("Digest (local → remote)",
      h("code", { title: c.local_digest || "" }, shortDigest(c.local_digest)), " → ",
      h("code", { title: c.remote_digest || "" }, shortDigest(c.remote_digest))),
  );
}

function logsPart(container) {
  const out = h("div", {
    class: "console-out", role: "log", tabindex: 0, "aria-label": `Logs of ${container.name}`,
  });
  const said = h("p", { class: "muted", role: "status" });
  const again = h("button", { type: "button", hidden: true }, "Follow again");
  const part = h("section", { "aria-labelledby": "logs-title" },
    h("div", { class: "heading" }, h("h2", { id: "logs-title" }, "Logs"), again), said, out);
  let following = null;

  function follow(c, tail) {
    if (following) return;
    again.hidden = true;
    following = stream(`/api/containers/${encodeURIComponent(c.id)}/logs/ws?tail=${tail}`, {
      reconnect: false,
      onState: (state) => {
        said.textContent = state === "live" ? "Following the output." : "Connecting…";
      },
      onMessage(text) {
        const { type, data } = JSON.parse(text);
        if (type !== "log") return;
        append(out, MOST_LINES, ...data.lines.map(({ stream: from, line }) =>
          h("div", { class: from === "stderr" ? "stderr" : null }, line || " ")));
      },
      onEnd({ opened, reason }) {
        following = null;
        // The server's reason, e.g. "the container's output ended (it stopped or was removed)"
        const why = reason || "the container's output ended";
        said.textContent = opened
          ? `${why[0].toUpperCase()}${why.slice(1)}.`
          : "The logs cannot be followed: the container may be gone.";
        again.hidden = false;
      },
    });
  }
  again.addEventListener("click", () => {
    out.replaceChildren();
    follow(container, TAIL);
  });
  return { part, follow };
}

function shellPart(container) {
  const note = messageArea();
  const open = h("button", { type: "button", hidden: true }, "Open a shell (sh)");
  const part = h("section", { "aria-labelledby": "shell-title", class: "stack" },
    h("h2", { id: "shell-title" }, "Shell"), note, open);
  let session = null;
  let current = container; // as the last check saw it (an update replaces it)

  /** Whether a shell may be opened here: a browser cannot read a refused handshake's answer,
   * so the page asks over HTTP first (shell turned off, container not running). */
  async function check(c) {
    current = c;
    if (session) return;
    try {
      await call("GET", `/api/containers/${encodeURIComponent(c.id)}/shell?shell=sh`);
      note.say();
      open.hidden = false;
    } catch (error) {
      note.say(error.text, error.status === 403 || error.status === 400 ? "notice" : "error");
      open.hidden = true;
    }
  }
  open.addEventListener("click", () => {
    open.hidden = true;
    session = terminal(current, part, () => {
      session = null;
      check(current);
    });
  });
  return { part, check };
}

/** A line-mode terminal: the shell's output, and a line sent with "\n" on Enter. */
function terminal(container, part, ended) {
  const out = h("pre", {
    class: "console-out", role: "log", tabindex: 0, "aria-label": `Shell in ${container.name}`,
  });
  const line = field("Command", {
    name: "command", autocomplete: "off", autocapitalize: "off", spellcheck: "false",
  });
  const ctrlC = h("button", { type: "button", "aria-label": "Send Ctrl-C" }, "Ctrl-C");
  const quit = h("button", { type: "button", class: "danger" }, "Close the shell");
  const form = h("form", { class: "terminal-input" }, line, h("button", { type: "submit" }, "Send"),
    ctrlC, quit);
  const said = h("p", { class: "muted", role: "status" }, "Connecting…");
  const controls = [...form.querySelectorAll("input, button")].filter((c) => c !== quit);
  const enable = (on) => controls.forEach((control) => { control.disabled = !on; });
  enable(false); // until the shell is there: nothing typed is lost
  const box = h("div", { class: "stack terminal" }, said, out, form);
  const before = part.querySelector(".terminal");
  if (before) before.replaceWith(box);
  else part.append(box);
  const decoder = new TextDecoder("utf-8");
  const write = (text) => {
    const plain = text.replace(ESCAPES, "").replace(/\r\n/g, "\n").replace(/[\r\x07]/g, "");
    if (plain) append(out, MOST_CHUNKS, document.createTextNode(plain));
  };
  const shell = stream(`/api/containers/${encodeURIComponent(container.id)}/shell/ws?shell=sh`, {
    reconnect: false,
    onState(state) {
      if (state !== "live") return;
      said.textContent = `A shell (sh) in ${container.name}.`;
      enable(true);
      const cols = Math.max(20, Math.floor((out.clientWidth - 20) / 8.5));
      shell.send(JSON.stringify({ type: "resize", cols, rows: 24 }));
      line.input.focus();
    },
    onMessage: (data) =>
      write(typeof data === "string" ? data : decoder.decode(data, { stream: true })),
    onEnd({ opened }) {
      form.remove();
      said.textContent = opened ? "The shell ended." : "The shell could not be opened.";
      ended();
    },
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    shell.send(`${line.input.value}\n`);
    line.input.value = "";
  });
  ctrlC.addEventListener("click", () => shell.send("\x03"));
  quit.addEventListener("click", () => {
    shell.close();
    form.remove();
    said.textContent = "The shell is closed.";
    ended();
  });
  return shell;
}
