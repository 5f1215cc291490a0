// Passkeys (WebAuthn): the server's options arrive as WebAuthn Level 3 JSON (base64url
// strings for the binary fields); the credential goes back as PublicKeyCredential.toJSON()
// gives it, written by hand where a browser lacks toJSON.

const fromB64url = (text) => {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0)).buffer;
};

const toB64url = (buffer) => {
  let raw = "";
  for (const byte of new Uint8Array(buffer)) raw += String.fromCharCode(byte);
  return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

const decodeCredentials = (list) => (list || []).map((c) => ({ ...c, id: fromB64url(c.id) }));

export function creationOptions(json) {
  return {
    ...json,
    challenge: fromB64url(json.challenge),
    user: { ...json.user, id: fromB64url(json.user.id) },
    excludeCredentials: decodeCredentials(json.excludeCredentials),
  };
}

export function requestOptions(json) {
  return {
    ...json,
    challenge: fromB64url(json.challenge),
    allowCredentials: decodeCredentials(json.allowCredentials),
  };
}

function credentialJSON(credential) {
  if (typeof credential.toJSON === "function") return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: toB64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64url(r.attestationObject);
    response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    response.authenticatorData = toB64url(r.authenticatorData);
    response.signature = toB64url(r.signature);
    if (r.userHandle) response.userHandle = toB64url(r.userHandle);
  }
  return {
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    response,
    clientExtensionResults: credential.getClientExtensionResults(),
  };
}

export const supported = () => Boolean(window.PublicKeyCredential && navigator.credentials);

/** A person-readable sentence for what the browser refused. */
export function passkeyProblem(error) {
  const host = location.hostname;
  if (/^[\d.]+$|:/.test(host)) {
    return `Passkeys do not work at an IP address (${host}): open the console by its host name.`;
  }
  if (error.name === "NotAllowedError") {
    return "No passkey was used: cancelled, timed out, or none of yours is for this site.";
  }
  if (error.name === "InvalidStateError") return "This authenticator holds a passkey of yours already.";
  if (error.name === "SecurityError") return `The browser refused a passkey for ${host}.`;
  return `Passkey failed: ${error.message}`;
}

/** Makes a passkey from creation options (JSON); returns the credential's JSON. */
export async function createPasskey(optionsJSON) {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(optionsJSON) });
  return credentialJSON(credential);
}

/** Signs in with a passkey from request options (JSON); returns the credential's JSON. */
export async function getPasskey(optionsJSON) {
  const credential = await navigator.credentials.get({ publicKey: requestOptions(optionsJSON) });
  return credentialJSON(credential);
}
