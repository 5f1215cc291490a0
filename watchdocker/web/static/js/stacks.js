// The stacks page: the compose projects (status, folder, whether watch-docker made it, services
// with their containers), up/start/stop/restart/down/delete (runs of the `compose` flow: the
// answer links to the run in the Prefect UI), a form creating one from a compose file, and a
// panel following a project's `compose logs -f` over the WebSocket.

import { call } from "./api.js";
import { append, busy, cell, confirmDialog, h, messageArea, show } from "./dom.js";
import { stream } from "./live.js";

const KEPT_LINES = 2000; // a followed log keeps its last lines only
const TAIL = 200; // lines of each container's past shown when following starts
const KEPT_OUTCOMES = 5; // the answers of the last actions stay above the list
const BAD_NAME = 40030;
const EXISTS = 40930;

// Which actions a project's row offers, by its status (delete and up always).
const ACTIONS = {
  "not created": ["up", "delete"],
  stopped: ["up", "start", "down", "delete", "logs"],
  partial: ["up", "start", "stop", "restart", "down", "delete", "logs"],
  running: ["up", "stop", "restart", "down", "delete", "logs"],
};
const LABELS = {
  up: "Up", start: "Start", stop: "Stop", restart: "Restart", down: "Down", delete: "Delete",
  logs: "Logs",
};

export async function stacksPage() {
  const message = messageArea();
  const outcomes = h("div", { class: "outcomes", "aria-live": "polite" });
  const body = h("tbody");
  const refresh = h("button", { type: "button" }, "Refresh");
  const newStack = h("button", {
    type: "button", "aria-expanded": "false", "aria-controls": "create-stack",
  }, "New stack");
  const logs = h("div", { class: "logs-slot" });
  const table = h("table", { class: "list stacks" },
    h("caption", { class: "visually-hidden" }, "Compose stacks"),
    h("thead", {}, h("tr", {},
      ...["Name", "Status", "Folder", "Services", "Actions"].map(
        (title) => h("th", { scope: "col" }, title)))),
    body);

  async function load() {
    try {
      const { data } = await call("GET", "/api/compose");
      message.say();
      body.replaceChildren(...data.map((stack) => row(stack, act)));
      if (!data.length) body.append(h("tr", {}, h("td", { colspan: 5 }, "No compose stacks.")));
    } catch (error) {
      message.say(error.text);
    }
  }

  /** Runs `action` on the project, its answer (or error) with the run's link above the list. */
  async function run(stack, action, button, removeVolumes = false) {
    const outcome = report(outcomes, `compose ${action} ${stack.name}…`, "notice");
    await busy(button, async () => {
      try {
        const method = action === "delete" ? "DELETE" : "POST";
        const answer = await call(method, `/api/compose/${action}`, {
          body: { name: stack.name, removeVolumes },
        });
        const removed = answer.data.folderRemoved ? " (its folder removed)" : "";
        outcome.tell(`${answer.msg}${removed}`, "ok", answer.data.url);
      } catch (error) {
        outcome.tell(error.text, "error", error.data && error.data.url);
      }
    });
    await load();
    focusAction(stack.name, action);
  }

  /** The focus back on the action's button of the project's row (drawn anew), else Refresh. */
  function focusAction(name, action) {
    const again = body.querySelector(
      `tr[data-name="${CSS.escape(name)}"] button[data-action="${action}"]`);
    (again || refresh).focus();
  }

  const act = async (stack, action, button) => {
    if (action === "logs") {
      if (logs.firstElementChild) logs.firstElementChild.stop(); // one followed at a time
      logs.replaceChildren(followLogs(stack.name, () => focusAction(stack.name, "logs")));
      return;
    }
    if (action === "down" || action === "delete") {
      const volumes = volumesChoice(stack.name);
      if (!(await confirmDialog(...confirmation(stack, action), volumes))) {
        button.focus();
        return;
      }
      await run(stack, action, button, volumes.input.checked);
      return;
    }
    await run(stack, action, button);
  };

  const form = createForm(async (name) => {
    report(outcomes, `created ${name}: start it with Up`, "ok");
    await load();
    focusAction(name, "up");
  });
  const toggleForm = (open) => {
    form.hidden = !open;
    newStack.setAttribute("aria-expanded", String(open));
    if (open) form.querySelector("input").focus();
  };
  newStack.addEventListener("click", () => toggleForm(form.hidden));
  form.addEventListener("reset", () => {
    toggleForm(false);
    newStack.focus();
  });
  refresh.addEventListener("click", () => busy(refresh, load));

  show(h("section", { "aria-labelledby": "page-title" },
    h("div", { class: "heading" }, h("h1", { id: "page-title" }, "Stacks"),
      h("div", { class: "toolbar" }, newStack, refresh)),
    message, form, outcomes, logs, table));
  await load();
}

function row(stack, act) {
  const buttons = (ACTIONS[stack.status] || ACTIONS.partial).map((action) => {
    const kind = action === "down" || action === "delete" ? "danger" : undefined;
    const button = h("button", {
      type: "button", class: kind, "data-action": action,
      "aria-label": `${LABELS[action]} ${stack.name}`,
    }, LABELS[action]);
    button.addEventListener("click", () => act(stack, action, button));
    return button;
  });
  const status = stack.status.replace(" ", "-");
  return h("tr", { "data-name": stack.name },
    cell("Name", { class: "wrap name" }, h("strong", {}, stack.name)),
    cell("Status", {}, h("span", { class: `badge ${status}` }, stack.status)),
    cell("Folder", { class: "wrap" },
      stack.folder ? h("code", {}, stack.folder) : h("span", { class: "muted" }, "unknown"),
      h("div", { class: "reason managed" }, stack.managed
        ? "created by watch-docker"
        : "not created by watch-docker: its files stay")),
    cell("Services", { class: "wrap" }, services(stack.services)),
    cell("Actions", { class: "actions" }, ...buttons));
}

function services(list) {
  if (!list.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "services" }, ...list.map((service) =>
    h("li", {}, h("strong", {}, service.name),
      service.containers.length
        ? h("ul", { class: "names" }, ...service.containers.map((c) =>
          h("li", {}, c.name, " ",
            h("span", { class: `state ${c.state === "running" ? "running" : "stopped"}` }, c.state))))
        : h("span", { class: "muted" }, " no container"))));
}

function volumesChoice(name) {
  const id = "remove-volumes";
  const input = h("input", { type: "checkbox", id });
  const choice = h("p", { class: "choice" }, input,
    h("label", { for: id }, `Remove the volumes of ${name} too`));
  choice.input = input;
  return choice;
}

function confirmation(stack, action) {
  if (action === "down") {
    return [`Down ${stack.name}?`,
      `Its containers and networks are removed; its folder and files stay.`, "Down"];
  }
  const folder = stack.managed
    ? `its folder ${stack.folder}, which watch-docker created, is removed too.`
    : `its folder${stack.folder ? ` ${stack.folder}` : ""} stays: watch-docker did not create it.`;
  return [`Delete ${stack.name}?`,
    `Its containers and networks are removed, and ${folder} This cannot be undone.`, "Delete"];
}

/** An answer in the outcomes area, newest first: tell(text, kind, url) says how it ended. */
function report(outcomes, text, kind) {
  const entry = h("div", { class: "outcome" });
  entry.tell = (said, saidKind, url) => {
    entry.className = `outcome message ${saidKind}`;
    entry.setAttribute("role", saidKind === "error" ? "alert" : "status");
    entry.replaceChildren(said, url ? " — " : "", url
      ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" },
        "open the run in the Prefect UI")
      : "");
  };
  entry.tell(text, kind);
  outcomes.prepend(entry);
  while (outcomes.children.length > KEPT_OUTCOMES) outcomes.lastElementChild.remove();
  return entry;
}

/** The form creating a project: its name and compose file (Ctrl+Enter sends it too). */
function createForm(created) {
  const message = messageArea();
  const name = h("input", {
    id: "stack-name", name: "name", required: true, autocomplete: "off", spellcheck: "false",
    autocapitalize: "off", "aria-describedby": "stack-name-hint",
  });
  const content = h("textarea", {
    id: "stack-file", name: "content", rows: 14, required: true, spellcheck: "false",
    autocapitalize: "off", "aria-describedby": "stack-file-hint",
    placeholder: "services:\n  web:\n    image: nginx:1.27\n",
  });
  const submit = h("button", { type: "submit" }, "Create");
  const form = h("form", {
    id: "create-stack", class: "card stack create-stack", "aria-labelledby": "create-title",
  },
  h("h2", { id: "create-title" }, "New stack"), message,
  h("div", { class: "field" }, h("label", { for: "stack-name" }, "Name"), name,
    h("span", { id: "stack-name-hint", class: "reason" },
      "Lowercase letters, digits, - and _; its folder is made under the compose folder.")),
  h("div", { class: "field" }, h("label", { for: "stack-file" }, "Compose file (YAML)"), content,
    h("span", { id: "stack-file-hint", class: "reason" },
      "Checked by compose before anything is written. Ctrl+Enter creates.")),
  h("div", { class: "toolbar" }, submit, h("button", { type: "reset", class: "danger" }, "Cancel")));
  form.hidden = true;

  const invalid = (input) => {
    for (const each of [name, content]) each.removeAttribute("aria-invalid");
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, async () => {
      message.say();
      invalid(null);
      try {
        await call("POST", "/api/compose/create", {
          body: { name: name.value.trim(), content: content.value },
        });
        const made = name.value.trim();
        form.reset(); // empties and closes the form (the page's reset handler)
        await created(made);
      } catch (error) {
        message.say(error.text);
        // A refused name (40030) or one taken (40930): the name; else the file.
        invalid([BAD_NAME, EXISTS].includes(error.code) ? name : content);
      }
    });
  });
  content.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("reset", () => {
    message.say();
    invalid(null);
  });
  return form;
}

/** A panel following the project's `compose logs -f` (live.js: the router closes it when the
 * page goes): lines as text, the last KEPT_LINES, scrolled to the newest unless the reader
 * scrolled up; Stop closes the socket (ending the `compose logs` process), Close the panel too. */
function followLogs(project, closed) {
  const state = h("p", { class: "muted", role: "status" }, `Following ${project}…`);
  const lines = h("pre", {
    class: "log", tabindex: "0", "aria-label": `Log lines of ${project}`,
  });
  const stop = h("button", { type: "button" }, "Stop following");
  const close = h("button", { type: "button", class: "danger" }, "Close");
  const panel = h("section", { class: "card logs", "aria-labelledby": "logs-title" },
    h("div", { class: "heading" }, h("h2", { id: "logs-title" }, `Logs of ${project}`),
      h("div", { class: "toolbar" }, stop, close)),
    state, lines);

  let pending = [];
  let frame = 0;
  const flush = () => {
    frame = 0;
    append(lines, KEPT_LINES, ...pending.map((line) => document.createTextNode(`${line}\n`)));
    pending = [];
  };
  const said = (text, kind) => {
    stop.disabled = true;
    state.textContent = text;
    state.className = kind ? `message ${kind}` : "muted";
  };
  const query = new URLSearchParams({ project, tail: String(TAIL) });
  const followed = stream(`/api/compose/logs/ws?${query}`, {
    reconnect: false,
    onMessage(line) {
      pending.push(String(line));
      if (pending.length > KEPT_LINES) pending = pending.slice(-KEPT_LINES);
      if (!frame) frame = requestAnimationFrame(flush); // a burst is drawn once per frame
    },
    onEnd({ code, reason, opened }) {
      if (!opened) said(`The server refused to stream the logs of ${project}.`, "error");
      else said(`The log stream ended: ${reason || `code ${code}`}`, "notice");
    },
  });
  panel.stop = () => followed.close();
  stop.addEventListener("click", () => {
    followed.close();
    said(`Stopped following ${project}.`);
  });
  close.addEventListener("click", () => {
    followed.close();
    panel.remove();
    closed();
  });
  setTimeout(() => lines.focus());
  return panel;
}
