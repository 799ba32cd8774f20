//! Merging of `app_metadata` and `user_metadata` updates.
//!
//! Auth0 merges updates one level deep: each top-level key in the update replaces the stored
//! value for that key, and a key set to `null` is removed.

use serde_json::{Map, Value};

/// Applies `update` to `stored`: top-level keys are replaced, null values delete their key.
pub fn merge_top_level(stored: &mut Map<String, Value>, update: &Map<String, Value>) {
    for (key, value) in update {
        if value.is_null() {
            stored.remove(key);
        } else {
            stored.insert(key.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn update_replaces_keys_and_null_deletes() {
        let mut stored = object(json!({"a": {"x": 1}, "b": 2, "c": 3}));
        merge_top_level(
            &mut stored,
            &object(json!({"a": {"y": 2}, "b": null, "d": 4})),
        );
        assert_eq!(
            Value::Object(stored),
            json!({"a": {"y": 2}, "c": 3, "d": 4})
        );
    }
}
