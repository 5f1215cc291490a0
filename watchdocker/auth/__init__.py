"""Who may do what: TOTP codes and the lockout of wrong ones, shared by approvals and the HTTP
API's login; the API's user, tokens, attempt limits and host rule (next, passkeys)."""
