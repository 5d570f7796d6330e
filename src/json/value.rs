//! The JSON data model: [`Value`], [`Number`] and [`Object`], and the ways to
//! build and read them.
//!
//! RFC 8259 §3 names the values: `false`, `null`, `true`, objects, arrays,
//! numbers and strings. [`Value`] has one variant for each (the two booleans
//! share one). The RFC leaves two representations open, and this module
//! chooses:
//!
//! - **numbers** (§6) are kept as the text the grammar matched. A parser
//!   that turned every number into an `f64`, as JavaScript does, would turn
//!   the id `9007199254740993` (2^53 + 1) into `9007199254740992`. Keeping
//!   the text loses nothing; [`Number::as_i64`], [`Number::as_u64`] and
//!   [`Number::as_f64`] convert when asked, and say `None` when the number
//!   does not fit.
//! - **objects** (§4) keep their keys in the order written, with each key
//!   at most once. §4 says names SHOULD be unique and that software
//!   disagrees about repeated ones (some keep the first, some the last), so
//!   a repeat is ambiguous: the parser refuses it, and [`Object::insert`]
//!   replaces the value of a key already present.
//!
//! Looking up or inserting a key is a linear scan: the objects of this kit
//! (a login form, a message) have a handful of keys, and scanning a few
//! keys is faster than hashing them. (The parser checks a whole object's
//! keys at once, by sorting, so a huge hostile object costs no more than
//! sorting it.)

/// A JSON value (RFC 8259 §3).
///
/// Build one with `From` (`Value::from("text")`, `Value::from(3)`,
/// `Value::from(vec![...])`, `Value::from(None::<i64>)` is `null`) or
/// [`object`]; read one with the `as_*` accessors and [`Value::get`]; write
/// one with `to_string()` (see `write.rs`).
///
/// Two values are equal when they are the same JSON: objects compare
/// without regard to key order (§4: an object is unordered), numbers by
/// their text (`1.0` and `1` differ; compare [`Value::as_f64`] to compare
/// magnitudes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, kept as written.
    Number(Number),
    /// A string, with its escapes decoded.
    String(String),
    /// An array: values in order.
    Array(Vec<Value>),
    /// An object: keys in order, each key once.
    Object(Object),
}

/// A JSON number, kept as the exact text the grammar of RFC 8259 §6
/// matched: an optional `-`, an integer part without leading zeros, an
/// optional fraction, an optional exponent.
///
/// The text is always valid JSON, so writing it never fails: a number made
/// from an `f64` exists only for finite values ([`Number::from_f64`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number {
    /// Matches the grammar of RFC 8259 §6; every constructor makes sure.
    text: String,
}

/// JavaScript writes numbers from this magnitude up with an exponent
/// (`1e+21`); we do too (as `1e21`), so that a browser and the kit show
/// the same figures. Below it, digits are written out
/// (`100000000000000000000.0`).
const EXPONENT_FROM: f64 = 1e21;

/// JavaScript writes numbers below this magnitude (except zero) with an
/// exponent (`1e-7`), and so do we.
const EXPONENT_BELOW: f64 = 1e-6;

impl Number {
    /// Wraps text that the parser has already matched against the grammar.
    pub(super) fn from_valid_text(text: &str) -> Number {
        Number {
            text: text.to_owned(),
        }
    }

    /// The number for a finite `f64`, written with the fewest digits that
    /// read back as the same `f64`; `None` for NaN and the infinities,
    /// which JSON cannot write (§6: "Numeric values that cannot be
    /// represented in the grammar below (such as Infinity and NaN) are not
    /// permitted").
    ///
    /// A float always keeps a `.` or an exponent (`1.0`, not `1`), so that it
    /// reads back as a float in parsers that tell the two apart.
    pub fn from_f64(value: f64) -> Option<Number> {
        if !value.is_finite() {
            return None;
        }
        let magnitude = value.abs();
        let text = if magnitude != 0.0 && !(EXPONENT_BELOW..EXPONENT_FROM).contains(&magnitude) {
            // `{:e}` writes the shortest round-trip digits with an exponent:
            // `1e21`, `1.5e-7`; both are valid JSON.
            format!("{value:e}")
        } else {
            // `{}` writes the shortest round-trip digits without an
            // exponent, but drops a zero fraction: `1` for 1.0.
            let mut text = format!("{value}");
            if !text.contains('.') {
                text.push_str(".0");
            }
            text
        };
        Some(Number { text })
    }

    /// The number as written: `-12.50e+3` stays exactly that.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number as an `i64`, when it is written as an integer (no
    /// fraction, no exponent: `3`, not `3.0` or `3e0`, as in `serde_json`)
    /// and fits.
    pub fn as_i64(&self) -> Option<i64> {
        self.integer_text()?.parse().ok()
    }

    /// The number as a `u64`, when it is written as an integer and fits
    /// (negative numbers do not, not even `-0`).
    pub fn as_u64(&self) -> Option<u64> {
        self.integer_text()?.parse().ok()
    }

    /// The `f64` nearest to the number (correctly rounded), or `None` when
    /// it is beyond the range of `f64` (`1e400`). Numbers too small for
    /// `f64` (`1e-400`) become zero.
    ///
    /// Any integer is also an `f64`, rounded beyond 2^53.
    pub fn as_f64(&self) -> Option<f64> {
        // The JSON grammar is a subset of what `f64::from_str` accepts.
        self.text
            .parse::<f64>()
            .ok()
            .filter(|value| value.is_finite())
    }

    /// The text, when the number is written as an integer: without the
    /// fraction and exponent parts of the grammar.
    fn integer_text(&self) -> Option<&str> {
        let is_integer = !self.text.contains(['.', 'e', 'E']);
        is_integer.then_some(self.text.as_str())
    }
}

/// `Number` from every integer type: the decimal digits, exactly.
macro_rules! number_from_integers {
    ($($integer:ty),*) => {$(
        impl From<$integer> for Number {
            fn from(value: $integer) -> Number {
                Number { text: value.to_string() }
            }
        }

        impl From<$integer> for Value {
            fn from(value: $integer) -> Value {
                Value::Number(Number::from(value))
            }
        }
    )*};
}

number_from_integers!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

/// A JSON object: members in the order they were written or inserted, each
/// key at most once (see the module documentation for why).
///
/// Build one with [`object`], [`Object::with`] or `collect()`:
///
/// ```
/// use weaprous::json::{Object, Value};
///
/// let user = Object::new().with("name", "alice").with("admin", false);
/// assert_eq!(Value::from(user).to_string(), r#"{"name":"alice","admin":false}"#);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Object {
    /// Keys are unique; [`Object::insert`] and the parser make sure.
    members: Vec<(String, Value)>,
}

impl Object {
    /// An empty object, `{}`.
    pub fn new() -> Object {
        Object::default()
    }

    /// Wraps members whose keys the parser has checked to be unique.
    pub(super) fn from_unique_members(members: Vec<(String, Value)>) -> Object {
        Object { members }
    }

    /// The object with `key` set to `value`, for building objects in one
    /// expression: `Object::new().with("status", "ok").with("count", 3)`.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Object {
        self.insert(key, value);
        self
    }

    /// Sets `key` to `value`. A new key goes last; a key already present
    /// keeps its place and gets the new value, and the old one is returned.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.members.iter_mut().find(|(present, _)| *present == key) {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            None => {
                self.members.push((key, value));
                None
            }
        }
    }

    /// The value of `key`, if the object has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.members
            .iter()
            .find(|(present, _)| present == key)
            .map(|(_, value)| value)
    }

    /// How many members the object has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the object is `{}`.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The members, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.members
            .iter()
            .map(|(key, value)| (key.as_str(), value))
    }
}

/// Objects are equal when they have the same keys with equal values, in
/// any order (RFC 8259 §4: "An object is an unordered collection"). Each
/// key is looked up in the other object: quick for the small objects of
/// handlers and tests, slow (n²) for huge ones.
impl PartialEq for Object {
    fn eq(&self, other: &Object) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|(key, value)| other.get(key) == Some(value))
    }
}

impl Eq for Object {}

impl IntoIterator for Object {
    type Item = (String, Value);
    type IntoIter = std::vec::IntoIter<(String, Value)>;

    /// The members, in order, by value.
    fn into_iter(self) -> Self::IntoIter {
        self.members.into_iter()
    }
}

/// Collects members into an object; a repeated key keeps its first place
/// and its last value, as [`Object::insert`] does.
impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Object {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(members: I) -> Object {
        let mut object = Object::new();
        for (key, value) in members {
            object.insert(key, value);
        }
        object
    }
}

/// An object value from `(key, value)` pairs, in order: the short way to
/// write a response body.
///
/// ```
/// use weaprous::json::{self, Value};
///
/// let reply = json::object([("status", Value::from("ok")), ("count", 3.into())]);
/// assert_eq!(reply.to_string(), r#"{"status":"ok","count":3}"#);
/// ```
///
/// The values are [`Value`]s, so `.into()` or `Value::from` picks the
/// conversion; a repeated key keeps its last value.
pub fn object<K, I>(members: I) -> Value
where
    K: Into<String>,
    I: IntoIterator<Item = (K, Value)>,
{
    Value::Object(members.into_iter().collect())
}

impl Value {
    /// The value of `key`, when this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object()?.get(key)
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The boolean, when this is `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    /// The number, when this is one, as written.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(number) => Some(number),
            _ => None,
        }
    }

    /// The number as an `i64`, when this is an integer that fits
    /// ([`Number::as_i64`]).
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number()?.as_i64()
    }

    /// The number as a `u64`, when this is a non-negative integer that fits
    /// ([`Number::as_u64`]).
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number()?.as_u64()
    }

    /// The number as the nearest `f64`, when this is a number within the
    /// range of `f64` ([`Number::as_f64`]).
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number()?.as_f64()
    }

    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// The elements, when this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The object, when this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

/// A finite float becomes a number; NaN and the infinities, which JSON
/// cannot write, become `null` (as in JavaScript's `JSON.stringify`).
impl From<f64> for Value {
    fn from(value: f64) -> Value {
        Number::from_f64(value).map_or(Value::Null, Value::Number)
    }
}

impl From<Number> for Value {
    fn from(number: Number) -> Value {
        Value::Number(number)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Value {
        Value::Object(object)
    }
}

/// A vector becomes an array: `Value::from(vec![1, 2, 3])`, or a vector of
/// values of different kinds, `vec![Value::from(1), "two".into()]`.
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}

/// `None` becomes `null`; `Some(value)` becomes the value.
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(option: Option<T>) -> Value {
        option.map_or(Value::Null, Into::into)
    }
}
