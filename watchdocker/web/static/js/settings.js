// The settings page: the second factor's status, TOTP enrolment, passkeys (add, remove),
// and disabling 2FA with a current code or a passkey.

import { call, session } from "./api.js";
import { confirmDialog, h, messageArea, show, when } from "./dom.js";
import {
  codeForm, heldFactors, passkeyButton, passkeyEnrolment, passkeysElsewhere, totpEnrolment,
} from "./twofactor.js";

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
  // After a change: a new token when the server gave one, then the page again.
  const renewed = (answer) => {
    if (answer.data && answer.data.token) session.start(session.user, answer.data.token);
    settingsPage();
  };
  const held = heldFactors(status);
  const parts = [
    h("h1", { id: "page-title" }, "Settings"),
    message,
    h("dl", { class: "facts" },
      h("dt", {}, "Logged in as"), h("dd", {}, session.user),
      h("dt", {}, "Second factor at login"), h("dd", {}, status.required ? "required" : "not required"),
      h("dt", {}, "Authenticator app (TOTP)"), h("dd", {}, held.otp ? "set up" : "not set up"),
      h("dt", {}, "Passkeys"), h("dd", {}, held.passkeys.length ? `${held.passkeys.length}` : "none")),
  ];
  if (held.passkeys.length) parts.push(passkeyList(held.passkeys, message));
  parts.push(passkeyEnrolment(session.token, renewed));
  if (!held.otp) parts.push(totpEnrolment(session.token, renewed));
  if (status.isSetup) parts.push(disableSection(held, renewed));
  show(h("section", { class: "settings stack", "aria-labelledby": "page-title" }, ...parts));
}

function passkeyList(passkeys, message) {
  return h("section", { "aria-labelledby": "passkeys-title" },
    h("h2", { id: "passkeys-title" }, "Your passkeys"),
    h("ul", { class: "passkeys" }, ...passkeys.map((key) => {
      const remove = h("button", {
        type: "button", class: "danger", "aria-label": `Remove passkey ${key.name}`,
      }, "Remove");
      remove.addEventListener("click", async () => {
        const text = `The passkey ${key.name} (for ${key.rpId}) will no longer let you in.`;
        if (!(await confirmDialog(`Remove passkey ${key.name}?`, text, "Remove"))) {
          remove.focus();
          return;
        }
        try {
          await call("DELETE", `/api/v1/2fa/webauthn/${encodeURIComponent(key.id)}`);
          settingsPage();
        } catch (error) {
          message.say(error.text);
        }
      });
      return h("li", {}, h("strong", {}, key.name),
        ` — for ${key.rpId}, added ${when(key.createdAt)}`, remove);
    })));
}

function disableSection(held, renewed) {
  const disable = (body) => call("POST", "/api/v1/2fa/disable", { body });
  const proofs = [held.otp && "a current code", held.here.length && "a passkey of this host"]
    .filter(Boolean);
  const parts = [
    h("h2", { id: "disable-title" }, "Disable the second factor"),
    h("p", {}, "Removes your TOTP secret (which is also your approver's) and every passkey. ",
      proofs.length ? `Confirm with ${proofs.join(" or ")}.` : ""),
  ];
  if (!proofs.length) parts.push(h("p", { class: "message notice" }, passkeysElsewhere(held)));
  if (held.otp) {
    parts.push(codeForm("Current code", "Disable 2FA", (code) => disable({ code }), renewed));
  }
  if (held.here.length) {
    const send = (credential) => disable({ credential });
    parts.push(passkeyButton("Disable 2FA with a passkey", session.token, send, renewed));
  }
  return h("section", { class: "stack", "aria-labelledby": "disable-title" }, ...parts);
}
