//! `GET /authorize`: the start of a login.
//!
//! Errors about the client itself (unknown `client_id`, `redirect_uri` not among its
//! callbacks) are shown as a page, because redirecting to an unverified URI would make the
//! broker an open redirector. Every later error goes back to the client's `redirect_uri` with
//! its `state`.

use std::collections::HashMap;
use std::net::SocketAddr;

use authbridge_core::model::{
    AuthorizationRequest, Client, CodeChallenge, Connection, LoginTransaction, ResponseMode,
};
use authbridge_core::random;
use authbridge_federation::AuthorizationParams;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

use crate::Broker;
use crate::pages::{self, ConnectionLink};
use crate::respond::{ResponseTarget, redirect};

/// Largest accepted query string. Each login in progress is stored until it ends or expires,
/// so an unauthenticated request must not be able to write much.
const MAX_QUERY_BYTES: usize = 8 * 1024;

/// Parameters whose repetition makes a request invalid (RFC 6749, section 3.1).
const SINGLE_VALUED: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "audience",
    "connection",
    "code_challenge",
    "code_challenge_method",
    "prompt",
];

pub(crate) async fn authorize(
    State(broker): State<Broker>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return pages::error_page(
            StatusCode::URI_TOO_LONG,
            "Request too large",
            "The authorization request is too large. Send a shorter state, nonce or scope.",
        );
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let mut params: HashMap<&str, &str> = HashMap::new();
    let mut repeated = None;
    for (name, value) in &pairs {
        if params.insert(name, value).is_some() && SINGLE_VALUED.contains(&name.as_str()) {
            repeated = Some(name.clone());
        }
    }

    let client = match resolve_client(&broker, &params).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let Some(redirect_uri) = params.get("redirect_uri").map(|uri| (*uri).to_owned()) else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The request has no redirect_uri.",
        );
    };
    if !client.callbacks.contains(&redirect_uri) {
        tracing::warn!(target: "authbridge::security", client_id = %client.client_id, "authorize request with unregistered redirect_uri");
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Callback URL mismatch",
            &format!(
                "The redirect_uri {redirect_uri} is not in the list of allowed callback URLs of this application."
            ),
        );
    }

    let response_mode = match params.get("response_mode").copied() {
        None | Some("query") => Some(ResponseMode::Query),
        Some("fragment") => Some(ResponseMode::Fragment),
        Some("form_post") => Some(ResponseMode::FormPost),
        Some(_) => None,
    };
    let target = ResponseTarget {
        redirect_uri: redirect_uri.clone(),
        mode: response_mode.unwrap_or(ResponseMode::Query),
        state: params.get("state").map(|state| (*state).to_owned()),
    };
    if let Some(name) = repeated {
        return target.error(
            "invalid_request",
            &format!("The parameter {name} is repeated."),
        );
    }
    let Some(response_mode) = response_mode else {
        return target.error(
            "invalid_request",
            "Unsupported response_mode; use query, fragment or form_post.",
        );
    };

    let request = match validate(&broker, &client, &params, &target).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let connection = match choose_connection(&broker, &client, &params, &pairs, &target).await {
        Ok(Choice::Connection(connection)) => connection,
        Ok(Choice::Page(page)) | Err(page) => return page,
    };

    let request = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri,
        response_mode,
        query: pairs
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect::<Map<_, _>>(),
        ip: peer.ip().to_string(),
        user_agent: header_text(&headers, header::USER_AGENT),
        hostname: header_text(&headers, header::HOST).unwrap_or_default(),
        language: header_text(&headers, header::ACCEPT_LANGUAGE).and_then(|languages| {
            languages
                .split([',', ';'])
                .next()
                .map(|first| first.trim().to_owned())
        }),
        ..request
    };
    start_upstream_login(&broker, &connection, request, &target).await
}

/// Finds the client, or the error page to show.
async fn resolve_client(broker: &Broker, params: &HashMap<&str, &str>) -> Result<Client, Response> {
    let Some(client_id) = params.get("client_id") else {
        return Err(pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The request has no client_id.",
        ));
    };
    match broker.store().client(client_id).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(pages::error_page(
            StatusCode::BAD_REQUEST,
            "Unknown client",
            &format!("No application with client_id {client_id} is registered."),
        )),
        Err(error) => {
            tracing::error!(%error, "loading a client failed");
            Err(pages::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Server error",
                "The login could not be started.",
            ))
        }
    }
}

/// Checks the protocol parameters and returns the request with them filled in.
async fn validate(
    broker: &Broker,
    client: &Client,
    params: &HashMap<&str, &str>,
    target: &ResponseTarget,
) -> Result<AuthorizationRequest, Response> {
    let response_type = params.get("response_type").copied().unwrap_or_default();
    if response_type.is_empty() {
        return Err(target.error(
            "invalid_request",
            "Missing required parameter: response_type",
        ));
    }
    if response_type != "code" {
        return Err(target.error(
            "unsupported_response_type",
            &format!("Unsupported response type: {response_type}"),
        ));
    }

    if let Some(audience) = params
        .get("audience")
        .filter(|audience| !audience.is_empty())
    {
        match broker.store().resource_server(audience).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(
                    target.error("access_denied", &format!("Service not found: {audience}"))
                );
            }
            Err(error) => {
                tracing::error!(%error, "loading an API failed");
                return Err(target.error("server_error", "The login could not be started."));
            }
        }
    }

    let code_challenge = match params.get("code_challenge") {
        Some(challenge) => {
            let method = params
                .get("code_challenge_method")
                .copied()
                .unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return Err(target.error(
                    "invalid_request",
                    "code_challenge_method must be S256 or plain.",
                ));
            }
            if !authbridge_oidc::pkce::is_well_formed(challenge) {
                return Err(target.error(
                    "invalid_request",
                    "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~].",
                ));
            }
            Some(CodeChallenge {
                challenge: (*challenge).to_owned(),
                method: method.to_owned(),
            })
        }
        None => None,
    };
    if code_challenge.is_none() && !client.is_confidential() {
        return Err(target.error(
            "invalid_request",
            "Public clients must send a code_challenge (PKCE).",
        ));
    }

    if params
        .get("prompt")
        .is_some_and(|prompt| prompt.split(' ').any(|value| value == "none"))
    {
        return Err(target.error("login_required", "Login required"));
    }

    let scope = params
        .get("scope")
        .copied()
        .filter(|scope| !scope.trim().is_empty())
        .unwrap_or("openid");
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: target.redirect_uri.clone(),
        response_type: response_type.to_owned(),
        response_mode: target.mode,
        scope: scope.to_owned(),
        state: target.state.clone(),
        nonce: params.get("nonce").map(|nonce| (*nonce).to_owned()),
        audience: params
            .get("audience")
            .filter(|audience| !audience.is_empty())
            .map(|audience| (*audience).to_owned()),
        code_challenge,
        ui_locales: params
            .get("ui_locales")
            .map(|locales| (*locales).to_owned()),
        query: Map::new(),
        ip: String::new(),
        user_agent: None,
        hostname: String::new(),
        language: None,
    })
}

enum Choice {
    Connection(Connection),
    Page(Response),
}

/// Picks the connection named by `connection`, or the client's only enabled one, or shows a
/// chooser when several are enabled.
async fn choose_connection(
    broker: &Broker,
    client: &Client,
    params: &HashMap<&str, &str>,
    pairs: &[(String, String)],
    target: &ResponseTarget,
) -> Result<Choice, Response> {
    let enabled = broker
        .store()
        .connections_for_client(&client.client_id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "loading connections failed");
            target.error("server_error", "The login could not be started.")
        })?;

    if let Some(name) = params.get("connection") {
        return enabled
            .into_iter()
            .find(|connection| connection.name == *name)
            .map(Choice::Connection)
            .ok_or_else(|| {
                target.error(
                    "invalid_request",
                    &format!("The connection {name} is not enabled for this client."),
                )
            });
    }

    match enabled.len() {
        0 => Err(target.error(
            "invalid_request",
            "No connection is enabled for this client.",
        )),
        1 => {
            Ok(Choice::Connection(enabled.into_iter().next().ok_or_else(
                || target.error("server_error", "No connection"),
            )?))
        }
        _ => {
            let links = enabled
                .iter()
                .map(|connection| {
                    let mut query = pairs.to_vec();
                    query.push(("connection".into(), connection.name.clone()));
                    ConnectionLink {
                        name: connection.name.clone(),
                        href: format!(
                            "{}authorize?{}",
                            broker.settings().issuer,
                            crate::respond::encode_pairs(&query)
                        ),
                    }
                })
                .collect::<Vec<_>>();
            Ok(Choice::Page(pages::connection_chooser(
                &client.name,
                &links,
            )))
        }
    }
}

/// Stores the login transaction and redirects the browser to the upstream provider.
async fn start_upstream_login(
    broker: &Broker,
    connection: &Connection,
    request: AuthorizationRequest,
    target: &ResponseTarget,
) -> Response {
    let federation = &broker.inner.federation;
    let metadata = match federation.metadata(&connection.options.discovery_url).await {
        Ok(metadata) => metadata,
        Err(error) => {
            tracing::warn!(connection = %connection.name, %error, "upstream discovery failed");
            return target.error(
                "temporarily_unavailable",
                "The identity provider is unavailable. Try again later.",
            );
        }
    };

    let now = broker.inner.clock.now();
    let transaction = LoginTransaction {
        state: random::token(32),
        connection: connection.name.clone(),
        upstream_nonce: random::token(32),
        upstream_code_verifier: random::token(48),
        created_at: now,
        expires_at: now + broker.settings().transaction_lifetime,
        request,
    };
    let challenge = authbridge_oidc::pkce::s256_challenge(&transaction.upstream_code_verifier);
    let callback_url = broker.settings().callback_url();
    let params = AuthorizationParams {
        redirect_uri: &callback_url,
        state: &transaction.state,
        nonce: &transaction.upstream_nonce,
        code_challenge: metadata.supports_s256().then_some(challenge.as_str()),
    };
    let url = match federation.authorization_url(&metadata, &connection.options, &params) {
        Ok(url) => url,
        Err(error) => {
            tracing::warn!(connection = %connection.name, %error, "building the upstream authorization URL failed");
            return target.error("server_error", "The identity provider is misconfigured.");
        }
    };

    if let Err(error) = broker.store().insert_transaction(&transaction).await {
        tracing::error!(%error, "storing a login transaction failed");
        return target.error("server_error", "The login could not be started.");
    }
    tracing::info!(client_id = %transaction.request.client_id, connection = %connection.name, "login sent upstream");
    redirect(url.as_str())
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}
