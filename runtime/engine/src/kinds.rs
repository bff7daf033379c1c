//! What a value is, asked with one check.
//!
//! rquickjs's `as_object`, `as_promise`, `into_object` and the like first classify a value with
//! `type_of`, which for an object asks QuickJS up to six questions in turn (an array? a
//! constructor? a function? a promise? an error? a proxy?) before it answers "an object". The
//! natives that run on every request ask only the question they need.

use rquickjs::{Array, Function, Object, Promise, Value};

/// `value` as an object (any kind: array, function, promise… included).
pub fn object<'a, 'js>(value: &'a Value<'js>) -> Option<&'a Object<'js>> {
    // SAFETY: the tag says the value is an object, which is all an `Object` is.
    value.is_object().then(|| unsafe { value.ref_object() })
}

/// `value` as an object, by value.
pub fn into_object(value: Value<'_>) -> Option<Object<'_>> {
    object(&value).cloned()
}

/// `value` as a promise: a promise object of QuickJS's own (not a thenable).
pub fn promise<'a, 'js>(value: &'a Value<'js>) -> Option<&'a Promise<'js>> {
    // SAFETY: `is_promise` asks QuickJS whether this object is one of its promises.
    value.is_promise().then(|| unsafe { value.ref_promise() })
}

/// `value` as a function (anything callable).
pub fn function<'a, 'js>(value: &'a Value<'js>) -> Option<&'a Function<'js>> {
    // SAFETY: `is_function` asks QuickJS whether the value is callable.
    value.is_function().then(|| unsafe { value.ref_function() })
}

/// `value` as an array (`Array.isArray`: a proxy of an array included).
pub fn array<'a, 'js>(value: &'a Value<'js>) -> Option<&'a Array<'js>> {
    // SAFETY: `is_array` asks QuickJS whether the value is an array.
    value.is_array().then(|| unsafe { value.ref_array() })
}
