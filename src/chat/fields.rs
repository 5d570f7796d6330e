//! Reading typed fields out of a JSON object, with an error that names the
//! field: the request bodies of the routes, the lines of the message log
//! and of the tracker's file all need it.
//!
//! One rule for every optional field: absent and `null` mean the same
//! (browsers' `JSON.stringify` writes `null` for a missing value).

use crate::json::{Object, Value};

/// The string `key`, or `None` when it is absent or `null`.
pub fn optional_str<'a>(object: &'a Object, key: &str) -> Result<Option<&'a str>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(format!("{key:?} must be a string")),
    }
}

/// The string `key`, which must be there.
pub fn required_str<'a>(object: &'a Object, key: &str) -> Result<&'a str, String> {
    optional_str(object, key)?.ok_or_else(|| missing(key))
}

/// The non-negative integer `key`, or `None` when it is absent or `null`.
pub fn optional_u64(object: &Object, key: &str) -> Result<Option<u64>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .map(Some)
            .ok_or_else(|| format!("{key:?} must be a whole number from 0 to {}", u64::MAX)),
    }
}

/// The non-negative integer `key`, which must be there.
pub fn required_u64(object: &Object, key: &str) -> Result<u64, String> {
    optional_u64(object, key)?.ok_or_else(|| missing(key))
}

/// The boolean `key`, `false` when it is absent or `null`.
pub fn optional_bool(object: &Object, key: &str) -> Result<bool, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(value) => value
            .as_bool()
            .ok_or_else(|| format!("{key:?} must be true or false")),
    }
}

/// The array of strings `key`, which must be there.
pub fn required_strs<'a>(object: &'a Object, key: &str) -> Result<Vec<&'a str>, String> {
    let wrong = || format!("{key:?} must be an array of strings");
    let items = object
        .get(key)
        .ok_or_else(|| missing(key))?
        .as_array()
        .ok_or_else(wrong)?;
    items
        .iter()
        .map(|item| item.as_str().ok_or_else(wrong))
        .collect()
}

fn missing(key: &str) -> String {
    format!("{key:?} is missing")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn object(text: &str) -> Object {
        match json::parse(text) {
            Ok(Value::Object(object)) => object,
            other => panic!("test object {text} did not parse: {other:?}"),
        }
    }

    #[test]
    fn fields_are_read_by_type_and_absent_is_null() {
        let body = object(r#"{"s":"x","n":7,"z":null,"neg":-1,"list":["a","b"],"bad":[1]}"#);
        assert_eq!(optional_str(&body, "s"), Ok(Some("x")));
        assert_eq!(optional_str(&body, "z"), Ok(None));
        assert_eq!(optional_str(&body, "absent"), Ok(None));
        assert_eq!(
            optional_str(&body, "n"),
            Err("\"n\" must be a string".into())
        );
        assert_eq!(required_str(&body, "z"), Err("\"z\" is missing".into()));
        assert_eq!(required_u64(&body, "n"), Ok(7));
        assert_eq!(optional_u64(&body, "z"), Ok(None));
        assert_eq!(
            optional_u64(&body, "neg"),
            Err("\"neg\" must be a whole number from 0 to 18446744073709551615".into()),
            "negative is refused, with the range in the message"
        );
        assert!(
            optional_u64(&body, "s").is_err(),
            "a string is not a number"
        );
        assert_eq!(required_strs(&body, "list"), Ok(vec!["a", "b"]));
        assert!(required_strs(&body, "bad").is_err());
        assert!(required_strs(&body, "absent").is_err());
        let flags = object(r#"{"yes":true,"no":false,"z":null,"s":"true"}"#);
        assert_eq!(optional_bool(&flags, "yes"), Ok(true));
        assert_eq!(optional_bool(&flags, "no"), Ok(false));
        assert_eq!(optional_bool(&flags, "z"), Ok(false));
        assert_eq!(optional_bool(&flags, "absent"), Ok(false));
        assert!(
            optional_bool(&flags, "s").is_err(),
            "a string is not a flag"
        );
    }
}
