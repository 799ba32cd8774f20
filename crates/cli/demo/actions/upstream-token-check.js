/**
 * Records whether the broker has stored an upstream access token for the user's Cencora
 * identity.
 *
 * Reads the user through the Management API with the demo machine-to-machine client, as an
 * Auth0 action does with the `auth0` package. Upstream tokens appear only with the scope
 * `read:user_idp_tokens`. The Management API returns the user as stored before this login's
 * metadata changes are written, but with this login's upstream tokens. Only a boolean goes
 * into app_metadata, never the token.
 */
const { ManagementClient } = require('auth0');

exports.onExecutePostLogin = async (event, api) => {
  const management = new ManagementClient({
    // The tenant's own host, as the login request reached it; a secret can override it.
    domain: event.secrets.AUTH0_DOMAIN || event.request.hostname,
    clientId: event.secrets.AUTH0_CLIENT_ID,
    clientSecret: event.secrets.AUTH0_CLIENT_SECRET,
    scope: 'read:users read:user_idp_tokens',
  });

  const user = await management.getUser({ id: event.user.user_id });
  const identity = (user.identities || []).find(
    (candidate) => candidate.connection === 'Cencora',
  );
  const tokenPresent = Boolean(identity && identity.access_token);
  api.user.setAppMetadata('upstream_token_present', tokenPresent);
};
