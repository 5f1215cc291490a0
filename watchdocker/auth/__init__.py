"""Who may do what: TOTP codes and the lockout of wrong ones, shared by approvals and (next) the
HTTP API's login, its tokens and passkeys."""
