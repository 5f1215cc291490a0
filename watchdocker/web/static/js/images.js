// The images page: the engine's images with the containers using them; deleting one (the
// server refuses an image in use, and the page says why).

import { call } from "./api.js";
import { cell, confirmDialog, h, messageArea, shortDigest, show, when } from "./dom.js";

const size = (bytes) => {
  const units = ["B", "kB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
};

export async function imagesPage() {
  const message = messageArea();
  const body = h("tbody");
  const reload = h("button", { type: "button" }, "Reload");
  show(h("section", { "aria-labelledby": "page-title" },
    h("div", { class: "heading" }, h("h1", { id: "page-title" }, "Images"),
      h("div", { class: "toolbar" }, reload)),
    message,
    h("table", { class: "list" },
      h("caption", { class: "visually-hidden" }, "Images"),
      h("thead", {}, h("tr", {}, ...["Tags", "Id", "Size", "Created", "Used by", "Actions"].map(
        (title) => h("th", { scope: "col" }, title)))),
      body)));

  async function load() {
    try {
      const { data } = await call("GET", "/api/images");
      body.replaceChildren(...data.map((image) => row(image, remove)));
      if (!data.length) body.append(h("tr", {}, h("td", { colspan: 6 }, "No images.")));
    } catch (error) {
      message.say(error.text);
    }
  }

  async function remove(image, button) {
    const label = image.tags[0] || shortDigest(image.id);
    const text = image.inUseBy.length
      ? `${label} is used by ${image.inUseBy.join(", ")}: the server will refuse while they exist.`
      : `${label} and all its tags will be removed from the engine.`;
    if (!(await confirmDialog(`Delete ${label}?`, text, "Delete"))) {
      button.focus();
      return;
    }
    try {
      await call("DELETE", "/api/images", { body: { id: image.id } });
      message.say(`Deleted ${label}`, "ok");
    } catch (error) {
      message.say(error.text);
    }
    await load();
    reload.focus();
  }

  reload.addEventListener("click", load);
  await load();
}

const SHOWN_TAGS = 3; // more are folded away (an image may carry dozens)

function names(list, empty) {
  if (!list.length) return h("span", { class: "muted" }, empty);
  const items = (part) => h("ul", { class: "names" }, ...part.map((name) => h("li", {}, name)));
  if (list.length <= SHOWN_TAGS) return items(list);
  return h("div", {}, items(list.slice(0, SHOWN_TAGS)),
    h("details", {}, h("summary", {}, `${list.length - SHOWN_TAGS} more`),
      items(list.slice(SHOWN_TAGS))));
}

function row(image, remove) {
  const label = image.tags[0] || shortDigest(image.id);
  const del = h("button", {
    type: "button", class: "danger", "aria-label": `Delete ${label}`,
  }, "Delete");
  del.addEventListener("click", () => remove(image, del));
  return h("tr", { "data-id": image.id },
    cell("Tags", { class: "wrap" }, names(image.tags, "<none>")),
    cell("Id", {}, h("code", { title: image.id }, shortDigest(image.id))),
    cell("Size", { class: "nowrap" }, size(image.size)),
    cell("Created", {}, when(image.created)),
    cell("Used by", { class: "wrap" }, names(image.inUseBy, "unused")),
    cell("Actions", { class: "actions" }, del));
}
