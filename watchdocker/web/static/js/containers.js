// The containers page: the latest scan with the live state, a refresh (a scan), updates of
// one or several (the run, its link in the Prefect UI, the approval it may wait for), start,
// stop and delete after a confirmation. The status stream keeps the rows up to date.

import { call, Codes, session } from "./api.js";
import {
  busy, cell, CODE_INPUT, confirmDialog, field, h, messageArea, shortDigest, show, when,
} from "./dom.js";
import { liveIndicator, stream } from "./live.js";

export const STATUS = {
  update_available: "update available",
  up_to_date: "up to date",
  skipped: "skipped",
  error: "error",
  unknown: "not scanned",
};

export async function containersPage() {
  const message = messageArea();
  const runs = h("div", { class: "runs" });
  const scanned = h("p", { class: "muted" });
  const body = h("tbody");
  const refresh = h("button", { type: "button" }, "Refresh (scan)");
  const updateSelected = h("button", { type: "button", disabled: true }, "Update selected");
  const live = liveIndicator();
  const table = h("table", { class: "list" },
    h("caption", { class: "visually-hidden" }, "Containers"),
    h("thead", {}, h("tr", {},
      ...["Name", "Image", "Status", "State", "Digest (local → remote)", "Actions"].map(
        (title) => h("th", { scope: "col" }, title)))),
    body);
  show(h("section", { "aria-labelledby": "page-title" },
    h("div", { class: "heading" }, h("h1", { id: "page-title" }, "Containers"),
      h("div", { class: "toolbar" }, live, refresh, updateSelected)),
    scanned, message, runs, table));

  const selected = () => [...body.querySelectorAll("input[type=checkbox]:checked")].map((c) => c.value);
  const onSelect = () => {
    const names = selected();
    updateSelected.disabled = names.length === 0;
    updateSelected.textContent = names.length ? `Update selected (${names.length})` : "Update selected";
  };

  const usage = new Map(); // the latest figures of the stats stream, by container id
  /** CPU and memory under each running container's state (stats come every 2 s). */
  function paint() {
    for (const tr of body.querySelectorAll("tr[data-id]")) {
      const figures = usage.get(tr.dataset.id);
      let shown = tr.querySelector(".usage");
      if (!figures) {
        if (shown) shown.remove();
        continue;
      }
      if (!shown) {
        shown = h("div", { class: "usage reason" });
        tr.querySelector('td[data-label="State"] > div').append(shown);
      }
      shown.textContent = `CPU ${figures.cpuPercent.toFixed(1)} % · mem ${bytes(figures.memoryUsage)}`;
    }
  }

  function draw(data) {
    const kept = new Set(selected()); // the selection outlives a reload
    scanned.textContent = `Last scan: ${when(data.scannedAt)}`;
    const shown = new Map([...body.querySelectorAll("tr[data-id]")].map((tr) => [tr.dataset.id, tr]));
    keepFocus(body, () => arrange(body, data.containers.map((c) => {
      const before = shown.get(c.id);
      return before && sameContainer(before.container, c) ? before : row(c, actions, kept.has(c.name));
    })));
    noneSaid(body);
    onSelect();
    paint();
  }

  async function load(query = "") {
    try {
      draw((await call("GET", `/api/containers${query}`)).data);
    } catch (error) {
      message.say(error.text);
    }
  }

  /** One message of the status stream: the whole list, or one container's change. */
  function change(text) {
    const { type, data } = JSON.parse(text);
    if (type === "containers") {
      draw(data);
      return;
    }
    const same = [...body.querySelectorAll("tr[data-id]")].filter(
      (tr) => tr.dataset.id === data.id || tr.dataset.name === data.name);
    keepFocus(body, () => {
      if (type === "destroyed") {
        same.filter((tr) => tr.dataset.id === data.id).forEach((tr) => tr.remove());
        return;
      }
      // A change may carry only what is known ({id, name} when the engine did not answer).
      const before = same.length ? same[0].container : null;
      const now = { ...before, ...data };
      if (!now.image || (same.length === 1 && sameContainer(before, now))) return;
      const checked = same.some((tr) => tr.querySelector("input[type=checkbox]").checked);
      const fresh = row(now, actions, checked);
      // Names are unique: a row of the same name is a container replaced by an update.
      if (same.length) same[0].replaceWith(fresh);
      else body.append(fresh);
      same.slice(1).forEach((tr) => tr.remove());
    });
    noneSaid(body);
    onSelect();
    paint();
  }

  const actions = {
    onSelect,
    update: (names) => updateRun(names, runs, () => load()),
    async startStop(c, button) {
      const action = c.running ? "stop" : "start";
      await busy(button, async () => {
        try {
          const answer = await call("POST", `/api/containers/${encodeURIComponent(c.id)}/${action}`);
          message.say(answer.msg, "ok");
        } catch (error) {
          message.say(error.text);
        }
      });
      await load();
      // The row was drawn anew: the focus goes back to its start/stop button.
      const again = body.querySelector(`tr[data-name="${CSS.escape(c.name)}"] .start-stop`);
      if (again) again.focus();
    },
    async remove(c, button) {
      const text = c.running
        ? `${c.name} is running: it will be stopped and removed. This cannot be undone.`
        : `${c.name} will be removed. This cannot be undone.`;
      if (!(await confirmDialog(`Delete ${c.name}?`, text, "Delete"))) {
        button.focus();
        return;
      }
      try {
        const force = c.running ? "?force=true" : "";
        const answer = await call("DELETE", `/api/containers/${encodeURIComponent(c.id)}${force}`);
        message.say(answer.msg, "ok");
      } catch (error) {
        message.say(error.text);
      }
      await load();
      refresh.focus();
    },
  };

  refresh.addEventListener("click", () => busy(refresh, async () => {
    message.say("Scanning…", "notice");
    await load("?refresh=true");
    if (message.classList.contains("notice")) message.say();
  }));
  updateSelected.addEventListener("click", () => actions.update(selected()));
  await load();
  if (!body.isConnected) return; // another page was shown meanwhile
  stream("/api/containers/ws", { onMessage: change, onState: live.show });
  stream("/api/containers/stats/ws", {
    onMessage(text) {
      const { type, data } = JSON.parse(text);
      if (type !== "stats") return;
      usage.clear();
      for (const figures of data.containers) usage.set(figures.id, figures);
      paint();
    },
  });
  await waitingRuns(runs, () => load(), message);
}

function bytes(count) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = count;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

const focusables = (tr) => [...tr.querySelectorAll("input, button, a")];

/** Runs `work` (which redraws rows), then gives the focus back to the same control of the
 * same container's new row, where it was in a row. */
function keepFocus(body, work) {
  const active = document.activeElement;
  const tr = active && body.contains(active) ? active.closest("tr") : null;
  const at = tr ? focusables(tr).indexOf(active) : -1;
  work();
  if (!tr || body.contains(active)) return;
  const again = body.querySelector(`tr[data-name="${CSS.escape(tr.dataset.name)}"]`);
  if (again && focusables(again)[at]) focusables(again)[at].focus();
}

/** `body` holding `rows` in this order, moving or removing only the rows that differ: a row
 * left in place keeps a click under way (a row taken out of the page between the press and the
 * release of the button loses it), the focus and a text selection. */
function arrange(body, rows) {
  rows.forEach((tr, at) => {
    if (body.children[at] !== tr) body.insertBefore(tr, body.children[at] || null);
  });
  while (body.children.length > rows.length) body.lastElementChild.remove();
}

const sameContainer = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** "No containers." when the list is empty, and only then. */
function noneSaid(body) {
  const none = body.querySelector("tr.none");
  const empty = !body.querySelector("tr[data-id]");
  if (empty && !none) body.append(h("tr", { class: "none" }, h("td", { colspan: 6 }, "No containers.")));
  if (!empty && none) none.remove();
}

function row(c, actions, checked) {
  const select = h("input", {
    type: "checkbox", value: c.name, checked, "aria-label": `Select ${c.name}`,
  });
  select.addEventListener("change", actions.onSelect);
  const button = (label, onclick, kind) =>
    h("button", { type: "button", class: kind, "aria-label": `${label} ${c.name}`, onclick }, label);
  const startStop = button(c.running ? "Stop" : "Start",
    () => actions.startStop(c, startStop), "start-stop");
  const remove = button("Delete", () => actions.remove(c, remove), "danger");
  const line = h("tr", { "data-name": c.name, "data-id": c.id },
    cell("Name", { class: "name" }, select,
      h("a", { href: `#/containers/${encodeURIComponent(c.name)}` }, c.name)),
    cell("Image", { class: "wrap" }, c.image),
    cell("Status", {},
      h("span", { class: `badge ${c.status}` }, STATUS[c.status] || c.status),
      c.reason ? h("div", { class: "reason" }, c.reason) : null),
    cell("State", {}, h("span", { class: `state ${c.running ? "running" : "stopped"}` },
      c.state || (c.running ? "running" : "stopped")),
      c.health ? h("span", { class: "reason" }, ` (${c.health})`) : null),
    cell("Digest", { class: "nowrap" },
      h("code", { title: c.local_digest || "" }, shortDigest(c.local_digest)), " → ",
      h("code", { title: c.remote_digest || "" }, shortDigest(c.remote_digest))),
    cell("Actions", { class: "actions" },
      button("Update", () => actions.update([c.name])), startStop, remove));
  line.container = c; // what a later change of this container is merged onto
  return line;
}

/** A panel for one update run, above the list. */
function runPanel(runs, names) {
  const message = messageArea();
  const title = `Update of ${names.join(", ")}`;
  const panel = h("section", { class: "run card stack", "aria-label": title },
    h("h2", {}, title), message);
  runs.prepend(panel);
  return { panel, message };
}

function showRun({ panel, message }, runId, url) {
  panel.dataset.run = runId;
  panel.insertBefore(h("p", {}, "Run ", h("code", {}, runId), " — ",
    h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, "open it in the Prefect UI")),
  message);
}

function askApproval(runId, { panel, message }, reload) {
  message.say("This update waits for an approver's TOTP code.", "notice");
  panel.append(approvalForm(runId, panel, message, reload));
}

/** Starts an update run and follows it in a panel: its link, the approval it waits for, results. */
async function updateRun(names, runs, reload) {
  const shown = runPanel(runs, names);
  shown.message.say("Starting the update run…", "notice");
  let started;
  try {
    started = (await call("POST", "/api/updates/run?wait=false", { body: { names } })).data;
  } catch (error) {
    shown.message.say(error.text);
    return;
  }
  showRun(shown, started.flowRunId, started.url);
  await follow(started.flowRunId, shown.panel, shown.message, reload);
}

/** A panel for each update run that waits for an approver (`GET /api/approvals`) and has none:
 * started before this page was opened, from another tab, the CLI or a schedule. */
async function waitingRuns(runs, reload, message) {
  let waiting;
  try {
    waiting = (await call("GET", "/api/approvals")).data;
  } catch (error) {
    message.say(error.text);
    return;
  }
  for (const run of waiting) {
    if (runs.querySelector(`[data-run="${CSS.escape(run.flow_run_id)}"]`)) continue;
    const shown = runPanel(runs, run.containers);
    showRun(shown, run.flow_run_id, run.url);
    askApproval(run.flow_run_id, shown, reload);
  }
}

async function follow(runId, panel, message, reload) {
  message.say("Updating… (this page shows the results when the run ends)", "notice");
  try {
    const answer = await call("GET", `/api/updates/${runId}`);
    message.say(answer.msg, "ok");
    panel.append(results(answer.data.results));
  } catch (error) {
    if (error.code === Codes.APPROVAL_NEEDED) {
      askApproval(runId, { panel, message }, reload);
      return;
    }
    message.say(error.text);
    if (error.data && error.data.results) panel.append(results(error.data.results));
  }
  await reload();
}

function results(list) {
  return h("ul", { class: "results" }, ...list.map((r) =>
    h("li", {}, h("strong", {}, r.name), `: ${r.result.replace(/_/g, " ")}`,
      r.reason ? ` — ${r.reason}` : "")));
}

function approvalForm(runId, panel, message, reload) {
  const approver = field("Approver", {
    name: "approver", value: session.user || "default", required: true,
  });
  const code = field("Approver's TOTP code", { ...CODE_INPUT, name: "approval-code" });
  const approve = h("button", { type: "submit" }, "Approve");
  const reject = h("button", { type: "button", class: "danger" }, "Reject");
  const form = h("form", { class: "stack" },
    approver, code, h("div", { class: "toolbar" }, approve, reject));
  const answer = (rejecting) => busy(rejecting ? reject : approve, async () => {
    if (!form.reportValidity()) return;
    try {
      const body = {
        approver: approver.input.value.trim(), code: code.input.value.trim(), reject: rejecting,
      };
      const verdict = await call("POST", `/api/updates/${runId}/approve`, { body });
      form.remove();
      message.say(verdict.msg, "ok");
      await follow(runId, panel, message, reload);
    } catch (error) {
      message.say(error.text);
      code.input.select();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    answer(false);
  });
  reject.addEventListener("click", () => answer(true));
  setTimeout(() => code.input.focus());
  return form;
}
