// A real OpenID Connect provider for the browser tests: panva/oidc-provider (MIT, OpenID certified)
// with its development login form (any login, any password). Accounts and their roles below.
// Environment: PORT, REDIRECT_URI, CLIENT_SECRET.
import Provider from "oidc-provider";

const { PORT, REDIRECT_URI, CLIENT_SECRET } = process.env;
const ROLES = {
  "desk-agent": ["admission"],
  "cell-agent": ["identitovigilance"],
  "no-role": [],
};

const provider = new Provider(`http://127.0.0.1:${PORT}`, {
  clients: [{
    client_id: "identito",
    client_secret: CLIENT_SECRET,
    redirect_uris: [REDIRECT_URI],
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  pkce: { required: () => true },
  claims: { openid: ["sub"], profile: ["name", "roles"] },
  conformIdTokenClaims: false, // the profile claims (roles) in the ID token
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, name: `Agent ${id}`, roles: ROLES[id] ?? [] }),
  }),
  cookies: { keys: ["identito-e2e-provider-cookie-key"] },
  features: { devInteractions: { enabled: true } },
});

provider.listen(Number(PORT), "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${PORT}`);
});
