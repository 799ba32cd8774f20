use serde_json::{Value, json};

use super::*;

fn ada() -> Value {
    json!({
        "user_id": "oidc|Cencora|4a6f",
        "email": "Ada@Example.com",
        "email_verified": true,
        "name": "Ada Lovelace",
        "nickname": "ada",
        "identities": [
            {"provider": "oidc", "connection": "Cencora", "user_id": "Cencora|4a6f"},
            {"provider": "oidc", "connection": "Backup", "user_id": "Backup|9"}
        ],
        "app_metadata": {"plan": "pro", "seats": 12, "tags": ["beta", "staff"]},
        "user_metadata": {"newsletter": {"weekly": true}, "city": null},
        "created_at": "2024-03-01T10:00:00.000Z",
        "logins_count": 7
    })
}

fn query_matches(query: &str, user: &Value) -> bool {
    match parse(query) {
        Ok(query) => query.matches(user),
        Err(error) => panic!("{query:?} does not parse: {error}"),
    }
}

fn exact(field: &str, value: &str) -> Query {
    Query::Term {
        field: Some(FieldPath(field.split('.').map(str::to_owned).collect())),
        pattern: Pattern::Exact(value.to_owned()),
    }
}

#[test]
fn field_term_parses_into_exact_pattern() {
    assert_eq!(
        parse("email:ada@example.com"),
        Ok(exact("email", "ada@example.com"))
    );
}

#[test]
fn implicit_and_joins_adjacent_terms() {
    assert_eq!(
        parse("name:ada nickname:x"),
        Ok(Query::And(vec![
            exact("name", "ada"),
            exact("nickname", "x")
        ]))
    );
}

#[test]
fn and_binds_tighter_than_or() {
    assert_eq!(
        parse("a:1 OR b:2 AND c:3"),
        Ok(Query::Or(vec![
            exact("a", "1"),
            Query::And(vec![exact("b", "2"), exact("c", "3")]),
        ]))
    );
}

#[test]
fn field_term_matches_whole_value_ignoring_case() {
    let user = ada();
    assert!(query_matches("email:ada@example.com", &user));
    assert!(
        !query_matches("EMAIL:ada@example.com", &user),
        "field names are case-sensitive"
    );
    assert!(!query_matches("email:ada", &user));
}

#[test]
fn quoted_phrase_matches_whole_value() {
    let user = ada();
    assert!(query_matches(r#"name:"Ada Lovelace""#, &user));
    assert!(query_matches(r#"name:"ada lovelace""#, &user));
    assert!(!query_matches(r#"name:"Ada""#, &user));
}

#[test]
fn trailing_wildcard_matches_prefix() {
    let user = ada();
    assert!(query_matches("email:ada*", &user));
    assert!(query_matches("email:ADA@*", &user));
    assert!(!query_matches("email:grace*", &user));
    assert!(query_matches("name:*", &user));
    assert!(!query_matches("given_name:*", &user));
}

#[test]
fn boolean_operators_combine_terms() {
    let user = ada();
    assert!(query_matches(
        "nickname:ada AND app_metadata.plan:pro",
        &user
    ));
    assert!(!query_matches(
        "nickname:ada AND app_metadata.plan:free",
        &user
    ));
    assert!(query_matches(
        "nickname:grace OR app_metadata.plan:pro",
        &user
    ));
    assert!(query_matches("NOT nickname:grace", &user));
    assert!(!query_matches("NOT nickname:ada", &user));
    assert!(query_matches("nickname:ada && !nickname:grace", &user));
    assert!(query_matches("-nickname:grace +nickname:ada", &user));
    assert!(query_matches(
        "(nickname:grace || nickname:ada) AND email_verified:true",
        &user
    ));
}

#[test]
fn field_group_applies_field_to_bare_terms() {
    let user = ada();
    assert!(query_matches("nickname:(grace OR ada)", &user));
    assert!(!query_matches("nickname:(grace OR alan)", &user));
}

#[test]
fn exists_requires_non_null_value() {
    let user = ada();
    assert!(query_matches("_exists_:app_metadata.plan", &user));
    assert!(query_matches("_exists_:user_metadata.newsletter", &user));
    assert!(!query_matches("_exists_:user_metadata.city", &user));
    assert!(!query_matches("_exists_:app_metadata.missing", &user));
    assert!(query_matches("NOT _exists_:given_name", &user));
}

#[test]
fn nested_paths_reach_into_metadata() {
    let user = ada();
    assert!(query_matches("user_metadata.newsletter.weekly:true", &user));
    assert!(!query_matches(
        "user_metadata.newsletter.weekly:false",
        &user
    ));
    assert!(query_matches("app_metadata.seats:12", &user));
    assert!(query_matches("app_metadata.seats:12.0", &user));
    assert!(!query_matches("app_metadata.seats:13", &user));
}

#[test]
fn paths_through_arrays_match_any_element() {
    let user = ada();
    assert!(query_matches("identities.connection:Backup", &user));
    assert!(query_matches("app_metadata.tags:staff", &user));
    assert!(!query_matches("identities.connection:Other", &user));
}

#[test]
fn bare_term_searches_profile_fields_and_words() {
    let user = ada();
    assert!(query_matches("lovelace", &user));
    assert!(query_matches("ada@example.com", &user));
    assert!(query_matches(r#""oidc|Cencora|4a6f""#, &user));
    assert!(query_matches("love*", &user));
    assert!(
        !query_matches("pro", &user),
        "bare terms do not search metadata"
    );
}

#[test]
fn ranges_compare_numbers_and_timestamps() {
    let user = ada();
    assert!(query_matches("logins_count:[5 TO 7]", &user));
    assert!(!query_matches("logins_count:{5 TO 7}", &user));
    assert!(query_matches("logins_count:[7 TO *]", &user));
    assert!(query_matches(
        "created_at:[2024-01-01 TO 2024-12-31]",
        &user
    ));
    assert!(!query_matches("created_at:[* TO 2024-02-01}", &user));
}

#[test]
fn match_all_query_matches_every_user() {
    assert!(query_matches("*:*", &ada()));
    assert!(query_matches("*:*", &json!({})));
}

#[test]
fn escaped_characters_are_literal() {
    let user = json!({"email": "a+b@example.com", "name": "x:y*"});
    assert!(query_matches(r"email:a\+b@example.com", &user));
    assert!(query_matches(r"name:x\:y\*", &user));
    assert!(!query_matches(r"name:x\:\*", &user));
}

#[test]
fn colons_inside_values_need_no_escape() {
    let user = json!({"user_id": "x", "picture": "https://example.com/a.png"});
    assert!(query_matches("picture:https://example.com/a.png", &user));
}

#[test]
fn keyword_followed_by_colon_is_a_field_name() {
    let user = json!({"user_id": "x", "app_metadata": {"NOT": "yes"}});
    assert!(query_matches("app_metadata.NOT:yes", &user));
    assert_eq!(parse("NOT:x"), Ok(exact("NOT", "x")));
}

#[test]
fn malformed_queries_are_rejected_with_reason() {
    let cases = [
        ("", "the query is empty"),
        ("   ", "the query is empty"),
        ("name:", "expected a value after 'name:'"),
        ("(name:ada", "missing ')'"),
        ("name:ada)", "unbalanced ')'"),
        ("()", "empty parentheses"),
        ("name:\"ada", "unterminated quoted phrase"),
        ("AND name:ada", "unexpected AND"),
        ("name:ada AND", "expected a term after AND"),
        ("name:ada OR", "expected a term after OR"),
        ("NOT", "expected a term after NOT"),
        (
            "name:a*a",
            "a wildcard is supported only at the end of a term",
        ),
        (
            "name:*ada",
            "a wildcard is supported only at the end of a term",
        ),
        ("name:ad?", "the '?' wildcard is not supported"),
        (
            "name:ada~",
            "fuzzy and proximity searches ('~') are not supported",
        ),
        ("name:ada^2", "boosts ('^') are not supported"),
        (
            "[1 TO 2]",
            "a range needs a field name, as in field:[a TO b]",
        ),
        ("count:[1 2]", "expected TO between the ends of a range"),
        ("count:[1 TO 2", "expected ']' or '}' to close the range"),
        ("a..b:x", "'a..b' is not a valid field name"),
        (
            "app_metadata.*:x",
            "wildcards in field names are not supported",
        ),
        ("_exists_:", "expected a field name after '_exists_:'"),
        (
            "name:(email:x)",
            "a field name cannot appear inside a field group",
        ),
        ("name:ada\\", "the query ends with an escape character"),
    ];
    for (input, reason) in cases {
        match parse(input) {
            Ok(query) => panic!("{input:?} parsed as {query:?}"),
            Err(error) => assert_eq!(error.reason, reason, "input {input:?}"),
        }
    }
}

#[test]
fn error_position_points_at_problem() {
    let error = parse("name:ada AND (email:x").err();
    assert_eq!(
        error.map(|error| error.to_string()),
        Some("missing ')' at character 22".to_owned())
    );
}

#[test]
fn deep_nesting_is_rejected() {
    let input = format!(
        "{}a:b{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse(&input).is_err());
    let negations = format!("{}a:b", "NOT ".repeat(MAX_DEPTH + 1));
    assert!(parse(&negations).is_err());
    let allowed = format!("{}a:b{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse(&allowed).is_ok());
}

#[test]
fn garbage_input_returns_result_without_panicking() {
    let garbage = [
        "\"",
        "\\",
        ":",
        "::",
        "a:b:c:",
        "((((",
        "))))",
        "[",
        "]",
        "{}",
        "a:[",
        "a:[*",
        "a:[* TO",
        "a:{TO TO TO}",
        "-",
        "!",
        "+",
        "- - -",
        "NOT NOT",
        "AND OR NOT",
        "&& ||",
        "_exists_",
        "_exists_:_exists_:",
        "a:\"\\",
        "a:(b:(c))",
        "ü:ö*",
        "\u{0}:\u{0}",
        "emoji:😀*",
        "a:b OR (c:d AND (e:f OR -g:h)) NOT i:j",
        "*",
        "*:*",
        ".:x",
        "a.:x",
        "\"unterminated (",
        "a:[1 TO 2] extra]",
    ];
    let user = ada();
    for input in garbage {
        if let Ok(query) = parse(input) {
            let _ = query.matches(&user);
        }
    }
    for length in 0..200 {
        let input: String = "(a:\"b\\ [c TO *} NOT -)"
            .chars()
            .cycle()
            .take(length)
            .collect();
        if let Ok(query) = parse(&input) {
            let _ = query.matches(&user);
        }
    }
}
