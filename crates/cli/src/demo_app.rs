//! The demo web application: its home page starts a login at the broker, and `/callback`
//! redeems the code and shows the verified ID token claims, the access token claims and the
//! user's app_metadata.
//!
//! Each login's state, nonce and PKCE verifier stay on the server, keyed by the state. A
//! cookie binds the state to the browser that started the login.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::relying_party::DemoRelyingParty;

const STATE_COOKIE: &str = "authbridge_demo_state";

#[derive(Clone)]
struct App {
    relying_party: DemoRelyingParty,
    issuer: String,
    pending: Arc<Mutex<HashMap<String, PendingLogin>>>,
}

struct PendingLogin {
    nonce: String,
    verifier: String,
}

/// Returns the demo application's router.
pub(crate) fn router(relying_party: DemoRelyingParty, issuer: &str) -> Router {
    let app = App {
        relying_party,
        issuer: issuer.to_owned(),
        pending: Arc::default(),
    };
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .with_state(app)
}

#[derive(Template)]
#[template(path = "app_home.html")]
struct HomePage<'a> {
    issuer: &'a str,
}

#[derive(Template)]
#[template(path = "app_result.html")]
struct ResultPage {
    subject: String,
    id_token_claims: String,
    access_token_claims: String,
    app_metadata: String,
}

#[derive(Template)]
#[template(path = "app_error.html")]
struct ErrorPage<'a> {
    error: &'a str,
    description: &'a str,
}

async fn home(State(app): State<App>) -> Response {
    render(
        StatusCode::OK,
        &HomePage {
            issuer: &app.issuer,
        },
    )
}

async fn login(State(app): State<App>) -> Response {
    let state = authbridge_core::random::token(16);
    let nonce = authbridge_core::random::token(16);
    let verifier = authbridge_core::random::token(32);
    let url = match app.relying_party.authorize_url(&state, &nonce, &verifier) {
        Ok(url) => url,
        Err(error) => return failure("server_error", &error.to_string()),
    };
    app.pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(state.clone(), PendingLogin { nonce, verifier });

    let cookie = format!("{STATE_COOKIE}={state}; Path=/; HttpOnly; SameSite=Lax");
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, url.to_string()),
            (header::SET_COOKIE, cookie),
        ],
    )
        .into_response()
}

async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if let Some(error) = params.get("error") {
        return failure(
            error,
            params.get("error_description").map_or("", String::as_str),
        );
    }
    let (Some(code), Some(state)) = (params.get("code"), params.get("state")) else {
        return failure("invalid_request", "The callback has no code or no state.");
    };
    if cookie(&headers, STATE_COOKIE).as_deref() != Some(state.as_str()) {
        return failure(
            "invalid_state",
            "The state does not belong to a login started in this browser.",
        );
    }
    let Some(pending) = app
        .pending
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(state)
    else {
        return failure(
            "invalid_state",
            "This login is unknown or was already completed.",
        );
    };

    match app
        .relying_party
        .redeem(code, &pending.verifier, &pending.nonce)
        .await
    {
        Ok(result) => render(
            StatusCode::OK,
            &ResultPage {
                subject: result
                    .id_token_claims
                    .get("sub")
                    .and_then(|sub| sub.as_str())
                    .unwrap_or_default()
                    .to_owned(),
                id_token_claims: pretty(&result.id_token_claims),
                access_token_claims: pretty(&result.access_token_claims),
                app_metadata: pretty(&result.app_metadata),
            },
        ),
        Err(error) => failure("login_failed", &format!("{error:#}")),
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn pretty(value: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn failure(error: &str, description: &str) -> Response {
    render(StatusCode::BAD_REQUEST, &ErrorPage { error, description })
}

fn render(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, error.to_string()).into_response(),
    }
}
