// The console's router: one page per location hash; without a session, the login page.

import { session, whenSessionLost } from "./api.js";
import { containerPage } from "./container.js";
import { containersPage } from "./containers.js";
import { imagesPage } from "./images.js";
import { closeStreams } from "./live.js";
import { loginPage } from "./login.js";
import { settingsPage } from "./settings.js";
import { stacksPage } from "./stacks.js";

const PAGES = {
  "#/containers": containersPage,
  "#/images": imagesPage,
  "#/settings": settingsPage,
  "#/stacks": stacksPage,
};

const nav = document.getElementById("nav");

// A page of one thing: "#/containers/<id or name>".
const ONE = /^#\/containers\/(.+)$/;

function route(notice) {
  closeStreams(); // the page shown before leaves its live streams
  const loggedIn = Boolean(session.token);
  nav.hidden = !loggedIn;
  if (!loggedIn) {
    if (location.hash !== "#/login") history.replaceState(null, "", "#/login");
    loginPage(notice);
    return;
  }
  const one = location.hash.match(ONE);
  const page = one ? () => containerPage(decodeURIComponent(one[1])) : PAGES[location.hash];
  if (!page) {
    location.hash = "#/containers"; // routed again by hashchange
    return;
  }
  const current = one ? "#/containers" : location.hash;
  for (const link of nav.querySelectorAll("a")) {
    if (link.getAttribute("href") === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  page();
}

whenSessionLost((message) => route(message));
window.addEventListener("hashchange", () => route());
document.getElementById("logout").addEventListener("click", () => {
  session.end();
  route("You are logged out.");
});
route();
