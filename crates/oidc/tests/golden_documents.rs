//! The discovery document and the JWKS keep the shape clients rely on; the golden file shows
//! every change to the published discovery document in review.

use authbridge_oidc::SigningKey;
use serde_json::Value;

#[test]
fn discovery_document_matches_golden_file() {
    let golden: Value = serde_json::from_str(include_str!("golden/discovery.json")).unwrap();
    let document = authbridge_oidc::discovery::document("https://tenant.example/");
    assert_eq!(document, golden);
}

#[test]
fn discovery_endpoints_have_no_double_slash() {
    let document = authbridge_oidc::discovery::document("https://tenant.example/");
    for (name, value) in document.as_object().unwrap() {
        if let Some(url) = value
            .as_str()
            .and_then(|value| value.strip_prefix("https://"))
        {
            assert!(!url.contains("//"), "{name} = {url}");
        }
    }
}

#[test]
fn jwks_lists_keys_in_auth0_field_order() {
    let keys = [
        SigningKey::generate().unwrap(),
        SigningKey::generate().unwrap(),
    ];
    let jwks = authbridge_oidc::keys::jwks(&keys);
    let entries = jwks["keys"].as_array().unwrap();

    assert_eq!(entries.len(), 2);
    assert_ne!(entries[0]["kid"], entries[1]["kid"]);
    for entry in entries {
        let fields: Vec<&str> = entry
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields, ["kty", "use", "n", "e", "kid", "alg"]);
        assert_eq!(entry["kty"], "RSA");
        assert_eq!(entry["use"], "sig");
        assert_eq!(entry["alg"], "RS256");
        assert_eq!(entry["e"], "AQAB");
        assert_eq!(entry["kid"].as_str().unwrap().len(), 21);
    }
}
