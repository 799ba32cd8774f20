//! The end of a login: the user record, the post-login actions, and the code for the client.
//!
//! The user and the upstream tokens are written as soon as the upstream login is verified,
//! because actions see the stored user (`created_at`, identities). The actions' effects are
//! then written once, in one transaction, at the end of the flow: after success and after
//! `api.access.deny` (Auth0 keeps metadata requested before a deny), never after a thrown
//! error or a timeout.

use authbridge_actions::{ActionError, ActionScript, PostLoginOutcome};
use authbridge_core::claims::settable_custom_claims;
use authbridge_core::model::{
    AuthorizationCode, Client, Connection, FederatedLogin, LoginCompletion, LoginTransaction, User,
};
use authbridge_core::random;
use authbridge_federation::UpstreamLogin;
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::io::AsyncWriteExt as _;
use tracing::Instrument as _;

use crate::respond::ResponseTarget;
use crate::{Broker, ServerError};

/// Completes a verified upstream login and sends the client its authorization response.
pub(crate) async fn complete(
    broker: &Broker,
    transaction: LoginTransaction,
    login: UpstreamLogin,
    target: &ResponseTarget,
) -> Response {
    let span = tracing::info_span!(
        "post_login",
        client_id = %transaction.request.client_id,
        connection = %transaction.connection,
        user_id = tracing::field::Empty,
    );
    match run(broker, &transaction, login).instrument(span).await {
        Ok(Ending::Code(code)) => target.deliver(vec![("code".into(), code)]),
        Ok(Ending::Denied(reason)) => target.error("access_denied", &reason),
        Err(error) => {
            tracing::error!(%error, client_id = %transaction.request.client_id, "completing a login failed");
            target.error("server_error", "The login could not be completed.")
        }
    }
}

enum Ending {
    Code(String),
    Denied(String),
}

async fn run(
    broker: &Broker,
    transaction: &LoginTransaction,
    login: UpstreamLogin,
) -> Result<Ending, ServerError> {
    let store = broker.store();
    let now = broker.inner.clock.now();
    let federated = FederatedLogin {
        connection: transaction.connection.clone(),
        profile: login.profile,
        tokens: login.tokens,
    };
    let user = store.record_federated_login(&federated, now).await?;
    tracing::Span::current().record("user_id", user.user_id.as_str());
    if user.blocked {
        tracing::info!(target: "authbridge::security", "login of a blocked user rejected");
        return Ok(Ending::Denied("user is blocked".to_owned()));
    }

    let client = store.client(&transaction.request.client_id).await?;
    let connection = store.connection(&transaction.connection).await?;
    let scripts: Vec<ActionScript> = store
        .actions("post-login")
        .await?
        .into_iter()
        .map(|action| ActionScript {
            id: action.id,
            name: action.name,
            code: action.code,
            secrets: action.secrets,
        })
        .collect();

    let event = post_login_event(
        broker,
        transaction,
        &user,
        client.as_ref(),
        connection.as_ref(),
    );
    let outcome = match broker.inner.actions.run_post_login(scripts, event).await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::warn!(%error, "post-login actions failed; nothing of the flow is stored");
            return Ok(Ending::Denied(client_message(&error)));
        }
    };
    log_action_output(&outcome);
    write_captures(broker, &outcome.captures).await?;

    let completion = LoginCompletion {
        app_metadata: outcome.app_metadata.clone(),
        user_metadata: outcome.user_metadata.clone(),
        count_login: outcome.denied.is_none(),
        at: Some(now),
    };
    store.complete_login(&user.user_id, &completion).await?;
    if let Some(reason) = outcome.denied {
        tracing::info!(target: "authbridge::security", %reason, "an action denied the login");
        return Ok(Ending::Denied(reason));
    }

    let code = AuthorizationCode {
        code: random::token(32),
        client_id: transaction.request.client_id.clone(),
        redirect_uri: transaction.request.redirect_uri.clone(),
        code_challenge: transaction.request.code_challenge.clone(),
        user_id: user.user_id.clone(),
        scope: transaction.request.scope.clone(),
        audience: transaction.request.audience.clone(),
        nonce: transaction.request.nonce.clone(),
        session_id: random::nanoid(32),
        auth_time: now,
        id_token_claims: settable_custom_claims(&outcome.id_token_claims),
        access_token_claims: settable_custom_claims(&outcome.access_token_claims),
        created_at: now,
        expires_at: now + broker.settings().code_lifetime,
    };
    store.insert_code(&code).await?;
    tracing::info!("login completed, code issued");
    Ok(Ending::Code(code.code))
}

/// Returns the error description sent to the client when the actions failed. Action errors are already free of
/// secret values; runner failures are not the user's business.
fn client_message(error: &ActionError) -> String {
    match error {
        ActionError::Internal(_) | ActionError::InvalidConfig(_) | ActionError::InvalidEvent(_) => {
            "The login could not be completed.".to_owned()
        }
        other => other.to_string(),
    }
}

fn log_action_output(outcome: &PostLoginOutcome) {
    for line in &outcome.logs {
        tracing::info!(target: "authbridge::actions", action = %line.action, level = line.level.as_str(), message = %line.message);
    }
}

/// Appends each captured value as one JSON line to `post-login.jsonl` in the captures folder.
async fn write_captures(broker: &Broker, captures: &[Value]) -> Result<(), ServerError> {
    let Some(dir) = &broker.settings().captures_dir else {
        return Ok(());
    };
    if captures.is_empty() {
        return Ok(());
    }
    tokio::fs::create_dir_all(dir).await?;
    let mut lines = String::new();
    for capture in captures {
        lines.push_str(&capture.to_string());
        lines.push('\n');
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("post-login.jsonl"))
        .await?;
    file.write_all(lines.as_bytes()).await?;
    file.flush().await?;
    Ok(())
}

/// Builds the `event` object of Auth0's post-login trigger.
fn post_login_event(
    broker: &Broker,
    transaction: &LoginTransaction,
    user: &User,
    client: Option<&Client>,
    connection: Option<&Connection>,
) -> Value {
    let request = &transaction.request;
    // Auth0 counts the login in progress in logins_count before actions run.
    let logins_count = user.logins_count + 1;
    let identities: Vec<Value> = user
        .identities
        .iter()
        .map(|identity| {
            json!({
                "provider": identity.provider,
                "connection": identity.connection,
                "user_id": identity.user_id,
                "isSocial": identity.is_social,
            })
        })
        .collect();

    json!({
        "user": {
            "user_id": user.user_id,
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "nickname": user.nickname,
            "picture": user.picture,
            "identities": identities,
            "app_metadata": user.app_metadata,
            "user_metadata": user.user_metadata,
            "created_at": iso(user.created_at),
            "updated_at": iso(user.updated_at),
            "last_login": user.last_login.map(iso),
            "logins_count": logins_count,
        },
        "connection": {
            "id": connection.map(|connection| connection.id.clone()),
            "name": transaction.connection,
            "strategy": connection.map_or("oidc", |connection| connection.strategy.as_str()),
            "metadata": connection.map(|connection| connection.metadata.clone()).unwrap_or_default(),
        },
        "client": {
            "client_id": request.client_id,
            "name": client.map(|client| client.name.clone()),
            "metadata": client.map(|client| client.client_metadata.clone()).unwrap_or_default(),
        },
        "request": {
            "ip": request.ip,
            "hostname": request.hostname,
            "method": "GET",
            "user_agent": request.user_agent,
            "query": request.query,
            "language": request.language,
        },
        "transaction": {
            "requested_scopes": authbridge_core::claims::split_scopes(&request.scope),
            "redirect_uri": request.redirect_uri,
            "protocol": "oidc-basic-profile",
            "response_type": [request.response_type],
            "state": request.state,
            "locale": request.ui_locales.as_deref().and_then(|locales| locales.split(' ').next()).unwrap_or("en"),
        },
        "tenant": { "id": broker.settings().tenant },
        "stats": { "logins_count": logins_count },
        "authentication": {
            "methods": [{ "name": "federated", "timestamp": iso(broker.inner.clock.now()) }],
        },
        "secrets": Map::new(),
    })
}

/// Formats a time as Auth0 does: ISO 8601 in UTC with milliseconds.
pub(crate) fn iso(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
