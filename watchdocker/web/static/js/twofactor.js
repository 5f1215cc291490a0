// The second factor's forms, for the login page and the settings page alike: a TOTP code,
// TOTP enrolment (QR code and secret, then a code) and passkey enrolment or use.
// Each calls `done(answer)` with the API's answer once the server accepted it.

import { call } from "./api.js";
import { busy, CODE_INPUT, field, h, messageArea } from "./dom.js";
import { createPasskey, getPasskey, passkeyProblem } from "./passkeys.js";

/** A form asking for a 6-digit code; `send(code)` returns the API's answer or throws. */
export function codeForm(label, buttonLabel, send, done) {
  const code = field(label, { ...CODE_INPUT, name: "code" });
  const message = messageArea();
  const submit = h("button", { type: "submit" }, buttonLabel);
  const form = h("form", { class: "stack" }, code, submit, message);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.say();
    await busy(submit, async () => {
      try {
        done(await send(code.input.value.trim()));
      } catch (error) {
        message.say(error.text || error.message);
        code.input.select();
      }
    });
  });
  return form;
}

/** TOTP enrolment: asks the server for a secret, shows its QR code and text, then a code. */
export function totpEnrolment(token, done) {
  const message = messageArea();
  const start = h("button", { type: "button" }, "Set up an authenticator app");
  const panel = h("section", { class: "stack", "aria-labelledby": "totp-title" },
    h("h2", { id: "totp-title" }, "Authenticator app (TOTP)"), start, message);
  start.addEventListener("click", () => busy(start, async () => {
    message.say();
    let setup;
    try {
      setup = (await call("POST", "/api/v1/2fa/setup/otp/init", { token })).data;
    } catch (error) {
      message.say(error.text);
      return;
    }
    const send = async (code) =>
      call("POST", "/api/v1/2fa/setup/otp/verify", { token, body: { code } });
    panel.replaceChildren(
      h("h2", { id: "totp-title" }, "Authenticator app (TOTP)"),
      h("p", {}, "Scan this code in your authenticator app, or type the secret in it. ",
        "It is shown this once."),
      h("img", {
        class: "qr", src: setup.qrCode, alt: "QR code of the TOTP secret", width: 200, height: 200,
      }),
      h("p", {}, "Secret: ", h("code", { class: "secret", id: "totp-secret" }, setup.secret)),
      codeForm("Code from the app", "Confirm", send, done),
    );
    panel.querySelector("input").focus();
  }));
  return panel;
}

/** A button that makes a passkey (setup/webauthn/begin, the browser, setup/webauthn/finish). */
export function passkeyEnrolment(token, done) {
  const message = messageArea();
  const name = field("Passkey name (optional)", { name: "passkey-name", maxlength: 64 });
  const add = h("button", { type: "button" }, "Add a passkey");
  add.addEventListener("click", () => busy(add, async () => {
    message.say();
    try {
      const begin = await call("POST", "/api/v1/2fa/setup/webauthn/begin", { token });
      let credential;
      try {
        credential = await createPasskey(begin.data.options);
      } catch (error) {
        message.say(passkeyProblem(error));
        return;
      }
      const body = { credential };
      if (name.input.value.trim()) body.name = name.input.value.trim();
      done(await call("POST", "/api/v1/2fa/setup/webauthn/finish", { token, body }));
    } catch (error) {
      message.say(error.text || error.message);
    }
  }));
  return h("section", { class: "stack", "aria-labelledby": "passkey-title" },
    h("h2", { id: "passkey-title" }, "Passkey"), name, add, message);
}

/** A passkey's answer to a fresh challenge (verify/webauthn/begin, then the browser). */
export async function passkeyProof(token) {
  const begin = await call("POST", "/api/v1/2fa/verify/webauthn/begin", { token });
  try {
    return await getPasskey(begin.data.options);
  } catch (error) {
    throw new Error(passkeyProblem(error));
  }
}

/** A button that proves a passkey and sends it with `send(credential)` (login or disable). */
export function passkeyButton(label, token, send, done) {
  const message = messageArea();
  const use = h("button", { type: "button" }, label);
  use.addEventListener("click", () => busy(use, async () => {
    message.say();
    try {
      done(await send(await passkeyProof(token)));
    } catch (error) {
      message.say(error.text || error.message);
    }
  }));
  return h("div", { class: "stack" }, use, message);
}

/** Which factors the user holds, and the passkeys that work on this host (their RP ID). */
export function heldFactors(status) {
  const passkeys = status.passkeys || [];
  const here = passkeys.filter((key) => key.rpId === location.hostname);
  return { otp: Boolean(status.otp), passkeys, here };
}

/** Why no passkey can be used here, when the user has some elsewhere. */
export function passkeysElsewhere(held) {
  const hosts = [...new Set(held.passkeys.map((key) => key.rpId))].join(", ");
  return `Your passkeys are for ${hosts}, not for ${location.hostname}: a passkey works only ` +
    `on the host it was made on. Open the console at ${hosts}${held.otp ? ", or use a code" : ""}.`;
}
