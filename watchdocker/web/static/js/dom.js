// Small DOM helpers. Text from the server always goes in as text (never as HTML).

/** h("button", {class: "x", onclick: f}, "text", child...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces the page's content and moves the focus to its heading (for keyboards and readers). */
export function show(...children) {
  const view = document.getElementById("view");
  view.replaceChildren(...children);
  const heading = view.querySelector("h1");
  document.title = heading ? `${heading.textContent} — watch-docker` : "watch-docker";
  if (heading) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

/** A message area: say(text) shows an error, say(text, "ok") a notice, say() clears it. */
export function messageArea() {
  const box = h("p", { class: "message", role: "status", "aria-live": "polite" });
  box.hidden = true;
  box.say = (text, kind = "error") => {
    box.hidden = !text;
    box.className = `message ${kind}`;
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.textContent = text || "";
  };
  return box;
}

let fields = 0; // numbers the inputs' ids: a page may hold several forms alike

/** A labelled input: [label, input]; the input is returned as `field.input`. */
export function field(label, attrs) {
  fields += 1;
  const id = attrs.id || `field-${fields}`;
  const input = h("input", { ...attrs, id });
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input);
  wrap.input = input;
  return wrap;
}

/** The attributes of a 6-digit TOTP code's input. */
export const CODE_INPUT = {
  inputmode: "numeric",
  autocomplete: "one-time-code",
  pattern: "[0-9]{6}",
  maxlength: 6,
  required: true,
};

/** Runs `work` with `button` disabled and marked busy, whatever it throws. */
export async function busy(button, work) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}

/** A modal confirmation (Escape or Cancel: false). */
export function confirmDialog(title, text, okLabel) {
  const dialog = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = okLabel;
  return new Promise((resolve) => {
    const buttons = dialog.querySelectorAll("button");
    const close = (event) => dialog.close(event.currentTarget.value);
    buttons.forEach((b) => b.addEventListener("click", close));
    dialog.addEventListener(
      "close",
      () => {
        buttons.forEach((b) => b.removeEventListener("click", close));
        resolve(dialog.returnValue === "ok");
      },
      { once: true },
    );
    dialog.returnValue = "cancel";
    dialog.showModal();
  });
}

/** Appends to an output area, following its end unless it was scrolled up; keeps `most`. */
export function append(out, most, ...nodes) {
  const atEnd = out.scrollHeight - out.scrollTop - out.clientHeight < 8;
  out.append(...nodes);
  while (out.childNodes.length > most) out.firstChild.remove();
  if (atEnd) out.scrollTop = out.scrollHeight;
}

/** A table cell: its content in one block, labelled for the narrow layout (rows as cards). */
export function cell(label, attrs, ...children) {
  return h("td", { ...attrs, "data-label": label }, h("div", {}, ...children));
}

export const shortDigest = (digest) =>
  digest ? digest.replace(/^sha256:/, "").slice(0, 12) : "—";

export function when(iso) {
  if (!iso) return "never";
  return new Date(iso).toLocaleString();
}
