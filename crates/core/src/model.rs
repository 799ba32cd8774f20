//! The records a tenant is made of, in the shape the Management API v2 shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Method a client uses to prove its identity at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthMethod {
    /// Public client: no secret, PKCE required.
    None,
    /// Secret in the form body.
    ClientSecretPost,
    /// Secret in an HTTP Basic `Authorization` header.
    ClientSecretBasic,
}

/// An application registered with the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// `None` for public clients.
    pub client_secret: Option<String>,
    /// Auth0's `app_type`: `regular_web`, `spa`, `native` or `non_interactive`.
    pub app_type: String,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// Allowed `redirect_uri` values, matched exactly.
    pub callbacks: Vec<String>,
    #[serde(default)]
    pub client_metadata: Map<String, Value>,
}

impl Client {
    /// Tells whether the client may hold a secret.
    pub fn is_confidential(&self) -> bool {
        self.token_endpoint_auth_method != TokenEndpointAuthMethod::None
    }
}

/// An API the tenant issues access tokens for, named by its audience.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceServer {
    pub identifier: String,
    pub name: String,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Access token lifetime in seconds.
    pub token_lifetime: i64,
}

/// Settings of a connection with strategy `oidc`: an upstream OpenID provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OidcConnectionOptions {
    pub discovery_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// Space-separated scopes sent upstream; `openid` is always included.
    pub scope: String,
}

/// A source of users: for now, an upstream OpenID provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub name: String,
    pub strategy: String,
    pub options: OidcConnectionOptions,
    /// Client ids allowed to log in through this connection.
    pub enabled_clients: Vec<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// Tokens an upstream provider issued for a user, kept with the identity.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpstreamTokens {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    /// When the upstream access token expires.
    pub expires_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for UpstreamTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTokens")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A link between a user and the account at one connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub provider: String,
    pub connection: String,
    /// The account id at the connection, `{connection}|{sub}` for enterprise connections.
    pub user_id: String,
    #[serde(rename = "isSocial")]
    pub is_social: bool,
    #[serde(skip)]
    pub tokens: UpstreamTokens,
}

/// A user of the tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub user_id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub identities: Vec<Identity>,
    pub app_metadata: Map<String, Value>,
    pub user_metadata: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
    pub logins_count: i64,
    pub blocked: bool,
}

/// The profile an upstream provider reported for a login.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpstreamProfile {
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
}

/// Everything the store needs to create or refresh a user after an upstream login.
#[derive(Debug, Clone)]
pub struct FederatedLogin {
    pub connection: String,
    pub profile: UpstreamProfile,
    pub tokens: UpstreamTokens,
}

impl FederatedLogin {
    /// Returns the tenant user id for this login, `oidc|{connection}|{sub}`.
    pub fn user_id(&self) -> String {
        format!("oidc|{}|{}", self.connection, self.profile.sub)
    }

    /// Returns the identity's own user id, `{connection}|{sub}`.
    pub fn identity_user_id(&self) -> String {
        format!("{}|{}", self.connection, self.profile.sub)
    }
}

/// The effects of the post-login actions to persist in one write at the end of a login.
#[derive(Debug, Clone, Default)]
pub struct LoginCompletion {
    /// Top-level `app_metadata` keys to set; a null value deletes the key.
    pub app_metadata: Map<String, Value>,
    /// Top-level `user_metadata` keys to set; a null value deletes the key.
    pub user_metadata: Map<String, Value>,
    /// Whether the login succeeded and counts in `logins_count` and `last_login`.
    pub count_login: bool,
    pub at: Option<DateTime<Utc>>,
}

/// A post-login action as deployed: its code and its secrets.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub id: String,
    pub name: String,
    /// The trigger it runs on, `post-login` for now.
    pub trigger: String,
    pub code: String,
    /// Execution order among the trigger's bound actions, lowest first.
    pub position: i64,
    /// Secret values by name, skipped when the action is serialized or debug-printed.
    #[serde(default, skip_serializing)]
    pub secrets: std::collections::BTreeMap<String, String>,
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Action")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("trigger", &self.trigger)
            .field("position", &self.position)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Delivery mode of an authorization response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// The code challenge a client sent to `/authorize` (RFC 7636).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeChallenge {
    pub challenge: String,
    /// `S256` or `plain`.
    pub method: String,
}

/// A client's authorization request, kept while the user logs in upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_type: String,
    pub response_mode: ResponseMode,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub audience: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub ui_locales: Option<String>,
    /// The query string of the original request, for `event.request.query`.
    pub query: Map<String, Value>,
    pub ip: String,
    pub user_agent: Option<String>,
    pub hostname: String,
    pub language: Option<String>,
}

/// A login in progress at an upstream provider, keyed by the state the broker sent upstream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginTransaction {
    pub state: String,
    pub connection: String,
    pub request: AuthorizationRequest,
    pub upstream_nonce: String,
    pub upstream_code_verifier: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An authorization code issued to a client, with all it grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub code: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: Option<CodeChallenge>,
    pub user_id: String,
    pub scope: String,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub session_id: String,
    pub auth_time: DateTime<Utc>,
    pub id_token_claims: Map<String, Value>,
    pub access_token_claims: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The claims `/userinfo` releases for one access token: the granted scopes and the claims actions
/// added to the ID token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserinfoGrant {
    /// SHA-256 of the access token, base64url; the token itself is never stored.
    pub token_hash: String,
    pub user_id: String,
    pub scope: String,
    pub custom_claims: Map<String, Value>,
    pub expires_at: DateTime<Utc>,
}

/// Permission for a client to obtain client-credentials tokens for an API, with the scopes
/// it may hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientGrant {
    pub id: String,
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
}
