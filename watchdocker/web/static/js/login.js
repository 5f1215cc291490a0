// The login page: user and password, then the second factor the user has (a TOTP code or a
// passkey), or its first enrolment when 2FA is required and none is set up.

import { call, session } from "./api.js";
import { busy, field, h, messageArea, show } from "./dom.js";
import {
  codeForm, heldFactors, passkeyButton, passkeyEnrolment, passkeysElsewhere, totpEnrolment,
} from "./twofactor.js";

export function loginPage(notice) {
  const user = field("User name", { name: "username", autocomplete: "username", required: true });
  const password = field("Password", {
    name: "password", type: "password", autocomplete: "current-password", required: true,
  });
  const message = messageArea();
  const submit = h("button", { type: "submit" }, "Log in");
  const form = h("form", { class: "card stack", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in"), message, user, password, submit);
  if (notice) message.say(notice, "notice");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.say();
    await busy(submit, async () => {
      const username = user.input.value.trim();
      try {
        const answer = await call("POST", "/api/v1/auth/login", {
          token: null,
          body: { username, password: password.input.value },
        });
        password.input.value = "";
        if (answer.data.token) enter(username)(answer);
        else secondFactorPage(username, answer.data);
      } catch (error) {
        message.say(error.text);
        password.input.select();
      }
    });
  });
  show(form);
  user.input.focus();
}

/** Once the server gave a full token: the session starts, on the containers page. */
const enter = (username) => (answer) => {
  session.start(username, answer.data.token);
  location.hash = "#/containers";
};

async function secondFactorPage(username, login) {
  const token = login.tempToken; // kept in memory only, for this page
  const done = enter(username);
  const back = h("button", { type: "button", class: "link" }, "Log in as someone else");
  back.addEventListener("click", () => loginPage());
  if (!login.isSetup) {
    show(h("div", { class: "card stack" },
      h("h1", {}, "Set up a second factor"),
      h("p", {}, "This server asks for a second factor at each login. Choose one to set up now."),
      totpEnrolment(token, done),
      passkeyEnrolment(token, done),
      back));
    return;
  }
  const held = heldFactors(await enrolmentStatus(token, login));
  const parts = [h("h1", {}, "Second factor")];
  if (held.otp) {
    const send = (code) => call("POST", "/api/v1/2fa/verify/otp", { token, body: { code } });
    parts.push(codeForm("Code from your authenticator app", "Verify", send, done));
  }
  if (held.here.length) {
    const send = (credential) =>
      call("POST", "/api/v1/2fa/verify/webauthn/finish", { token, body: { credential } });
    parts.push(passkeyButton("Use a passkey", token, send, done));
  } else if (held.passkeys.length) {
    parts.push(h("p", { class: "message notice", role: "status" }, passkeysElsewhere(held)));
  }
  parts.push(back);
  show(h("div", { class: "card stack" }, ...parts));
  const first = document.querySelector("#view input, #view button");
  if (first) first.focus();
}

/** What the user holds (`GET /api/v1/2fa/status`: TOTP, passkeys with their hosts). */
async function enrolmentStatus(token, login) {
  try {
    return (await call("GET", "/api/v1/2fa/status", { token })).data;
  } catch {
    // The login's answer says which methods; without the passkeys' hosts, offer the code.
    return { otp: (login.methods || []).includes("otp") };
  }
}
