//! Custom claim names an action may not set.
//!
//! Auth0 silently drops such claims instead of failing the login, and so does this crate. The
//! list follows Auth0's "Create Custom Claims" documentation
//! (<https://auth0.com/docs/secure/tokens/json-web-tokens/create-custom-claims>).

/// Claim names Auth0 reserves for itself or for JWT and OIDC processing.
const RESTRICTED_NAMES: &[&str] = &[
    "acr",
    "act",
    "active",
    "amr",
    "at_hash",
    "ath",
    "attest",
    "aud",
    "auth_time",
    "authorization_details",
    "azp",
    "c_hash",
    "client_id",
    "cnf",
    "cty",
    "dest",
    "entitlements",
    "events",
    "exp",
    "groups",
    "gty",
    "htm",
    "htu",
    "iat",
    "internalService",
    "iss",
    "jcard",
    "jku",
    "jti",
    "jwe",
    "jwk",
    "kid",
    "may_act",
    "mky",
    "nbf",
    "nonce",
    "object_id",
    "org_id",
    "org_name",
    "orig",
    "origid",
    "permissions",
    "roles",
    "rph",
    "s_hash",
    "sid",
    "sip_callid",
    "sip_cseq_num",
    "sip_date",
    "sip_from_tag",
    "sip_via_branch",
    "sub",
    "sub_jwk",
    "toe",
    "txn",
    "typ",
    "uuid",
    "vot",
    "vtm",
    "x5t#S256",
];

/// Domains whose URL namespaces are reserved, including every subdomain.
const RESERVED_NAMESPACE_DOMAINS: &[&str] = &["auth0.com", "webtask.io", "webtask.run"];

/// Returns true when Auth0 would drop a custom claim with this name.
pub(crate) fn is_reserved_claim(name: &str) -> bool {
    if RESTRICTED_NAMES.contains(&name) {
        return true;
    }

    let Some(host) = namespace_host(name) else {
        return false;
    };
    RESERVED_NAMESPACE_DOMAINS.iter().any(|domain| {
        host == *domain
            || host
                .strip_suffix(domain)
                .is_some_and(|prefix| prefix.ends_with('.'))
    })
}

/// Returns the lowercased host of a URL-style claim name such as `https://app.example.com/role`.
fn namespace_host(name: &str) -> Option<String> {
    let lowercase = name.to_ascii_lowercase();
    let rest = lowercase
        .strip_prefix("https://")
        .or_else(|| lowercase.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_and_port = authority.rsplit('@').next().unwrap_or_default();
    let host = host_and_port.split(':').next().unwrap_or_default();
    Some(host.trim_end_matches('.').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restricted_names_are_reserved() {
        assert!(is_reserved_claim("sub"));
        assert!(is_reserved_claim("x5t#S256"));
        assert!(!is_reserved_claim("role"));
    }

    #[test]
    fn auth0_and_webtask_namespaces_are_reserved() {
        assert!(is_reserved_claim("https://tenant.auth0.com/isNew"));
        assert!(is_reserved_claim("https://auth0.com/x"));
        assert!(is_reserved_claim("https://x.webtask.io/a"));
        assert!(is_reserved_claim("http://a.b.WEBTASK.RUN:443/a"));
    }

    #[test]
    fn lookalike_domains_are_allowed() {
        assert!(!is_reserved_claim("https://app.example.com/isNew"));
        assert!(!is_reserved_claim("https://notauth0.com/x"));
        assert!(!is_reserved_claim("https://auth0.com.example.org/x"));
    }
}
