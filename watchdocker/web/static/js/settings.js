// The settings page: the second factor's status, TOTP enrolment, passkeys (add, remove),
// and disabling 2FA with a current code.

import { call, session } from "./api.js";
import { confirmDialog, h, messageArea, show } from "./dom.js";
import { codeForm, passkeyEnrolment, totpEnrolment } from "./twofactor.js";

export async function settingsPage() {
  const message = messageArea();
  let status;
  try {
    status = (await call("GET", "/api/v1/2fa/status")).data;
  } catch (error) {
    message.say(error.text);
    show(h("section", {}, h("h1", {}, "Settings"), message));
    return;
  }
  // A new token after an enrolment (the server's answer), then the page again.
  const renewed = (answer) => {
    if (answer.data && answer.data.token) session.start(session.user, answer.data.token);
    settingsPage();
  };
  const otp = status.method === "otp" || Boolean(status.otp);
  const passkeys = status.passkeys || [];
  const parts = [
    h("h1", { id: "page-title" }, "Settings"),
    message,
    h("dl", { class: "facts" },
      h("dt", {}, "Logged in as"), h("dd", {}, session.user),
      h("dt", {}, "Second factor at login"), h("dd", {}, status.required ? "required" : "not required"),
      h("dt", {}, "Authenticator app (TOTP)"), h("dd", {}, otp ? "set up" : "not set up"),
      h("dt", {}, "Passkeys"), h("dd", {}, passkeys.length ? `${passkeys.length}` : "none")),
  ];
  if (passkeys.length) parts.push(passkeyList(passkeys, message));
  parts.push(passkeyEnrolment(null, renewed));
  if (!otp) parts.push(totpEnrolment(null, renewed));
  if (status.isSetup) {
    const disable = (code) => call("POST", "/api/v1/2fa/disable", { body: { code } });
    parts.push(h("section", { class: "stack", "aria-labelledby": "disable-title" },
      h("h2", { id: "disable-title" }, "Disable the second factor"),
      h("p", {}, "Removes the TOTP secret (and its approvals); confirm with a current code."),
      codeForm("Current code", "Disable 2FA", disable, renewed)));
  }
  show(h("section", { class: "settings stack", "aria-labelledby": "page-title" }, ...parts));
}

function passkeyList(passkeys, message) {
  return h("section", { "aria-labelledby": "passkeys-title" },
    h("h2", { id: "passkeys-title" }, "Your passkeys"),
    h("ul", { class: "passkeys" }, ...passkeys.map((key) => {
      const remove = h("button", { type: "button", class: "danger", "aria-label": `Remove passkey ${key.name}` }, "Remove");
      remove.addEventListener("click", async () => {
        const text = `The passkey ${key.name} (${key.rpId}) will no longer let you in.`;
        if (!(await confirmDialog(`Remove passkey ${key.name}?`, text, "Remove"))) return;
        try {
          await call("DELETE", `/api/v1/2fa/webauthn/${encodeURIComponent(key.id)}`);
          settingsPage();
        } catch (error) {
          message.say(error.text);
        }
      });
      return h("li", {}, h("strong", {}, key.name), ` — for ${key.rpId}`, remove);
    })));
}
