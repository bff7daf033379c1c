//! `JSON.stringify(value)` without a replacer or indentation, the call nearly every API handler
//! makes, in Rust. QuickJS's own serialiser is generic: for each property it looks the key up
//! as an atom, checks for `toJSON`, and quotes key and value one character at a time through
//! function calls, about 7,500 Wasm instructions per property of a small object. Here the
//! object's own properties are read once and the text is built in one Rust string.
//!
//! Plain objects (whatever their prototype) and arrays of strings, numbers, booleans and null
//! are handled, `toJSON` methods included (a `Date` field, say). For anything else (boxed
//! primitives, `Map`s, typed arrays, proxies, BigInts, cycles, strings with lone surrogates,
//! nesting past [`MAX_DEPTH`]) the native calls QuickJS's serialiser, which gives the
//! standard's answer or error. A getter or a `toJSON` method already run before such a value is
//! met then runs a second time: the only difference a program can observe.

use crate::props::{OwnKeys, Text};
use crate::raw_native::{self, Args, RawNative};
use rquickjs::atom::PredefinedAtom;
use rquickjs::{Array, Ctx, Object, Result, Value, qjs};
use std::cell::Cell;

/// Nesting deeper than this goes to QuickJS (whose limit is the stack).
const MAX_DEPTH: usize = 64;

// QuickJS's class ids (`enum` at the top of quickjs.c): an ordinary object, an array.
const CLASS_OBJECT: u32 = 1;
const CLASS_ARRAY: u32 = 2;

thread_local! {
    /// QuickJS's own `JSON.stringify`, which the native replaces and calls for what it leaves.
    /// One reference is held for the engine's whole life.
    static QUICKJS_STRINGIFY: Cell<qjs::JSValue> = const { Cell::new(qjs::JS_UNDEFINED) };
}

/// Makes `JSON.stringify` the native: called straight by the interpreter, with no JS wrapper
/// around it (a JS call costs more than the serialising of a small object).
pub fn install<'js>(ctx: &Ctx<'js>) -> Result<()> {
    let json: Object = ctx.globals().get("JSON")?;
    raw_native::keep(ctx, &json.get("stringify")?, &QUICKJS_STRINGIFY);
    raw_native::install::<JsonStringify>(ctx, &json)
}

/// `JSON.stringify(value, replacer, space)`: [`stringify`] when there is no replacer and no
/// space, and it can; QuickJS's serialiser otherwise.
struct JsonStringify;

impl RawNative for JsonStringify {
    const NAME: &'static std::ffi::CStr = c"stringify";
    const LENGTH: std::ffi::c_int = 3;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        if args.get(1).is_undefined()
            && args.get(2).is_undefined()
            && let Some(text) = stringify(ctx.clone(), args.get(0))?
        {
            return Ok(text);
        }
        args.forward(QUICKJS_STRINGIFY.with(Cell::get))
    }
}

/// The JSON text of `value`; `undefined` where `JSON.stringify` gives it (a function, say);
/// `None` when QuickJS's serialiser must decide.
fn stringify<'js>(ctx: Ctx<'js>, value: Value<'js>) -> Result<Option<Value<'js>>> {
    let mut writer = Writer {
        ctx: ctx.clone(),
        out: String::with_capacity(256),
        ancestors: Vec::new(),
    };
    match writer.value(value, Key::Top)? {
        Step::Written => Ok(Some(
            rquickjs::String::from_str(ctx, &writer.out)?.into_value(),
        )),
        Step::Skipped => Ok(Some(Value::new_undefined(ctx))),
        Step::Fallback => Ok(None),
    }
}

/// What serialising one value did.
enum Step {
    Written,
    /// Nothing to write: `undefined`, a function or a symbol (omitted from an object, `null` in
    /// an array).
    Skipped,
    /// Not handled here: the whole call goes to QuickJS.
    Fallback,
}

/// The key a value was found under, as `toJSON` receives it.
enum Key<'a, 'js> {
    Top,
    /// The `i`th of an object's keys.
    Name(&'a OwnKeys<'a, 'js>, usize),
    Index(usize),
}

struct Writer<'js> {
    ctx: Ctx<'js>,
    out: String,
    /// The objects being serialised, outermost first: a cycle goes to QuickJS (a TypeError).
    ancestors: Vec<Object<'js>>,
}

impl<'js> Writer<'js> {
    fn value(&mut self, mut value: Value<'js>, key: Key<'_, 'js>) -> Result<Step> {
        if let Some(object) = crate::kinds::object(&value) {
            let to_json: Value = object.get(PredefinedAtom::ToJSON)?;
            if let Some(to_json) = crate::kinds::function(&to_json) {
                let key = match key {
                    Key::Top => rquickjs::String::from_str(self.ctx.clone(), "")?.into_value(),
                    Key::Name(keys, i) => keys.name_value(i)?,
                    Key::Index(i) => {
                        rquickjs::String::from_str(self.ctx.clone(), &i.to_string())?.into_value()
                    }
                };
                value = to_json.call((rquickjs::function::This(value.clone()), key))?;
            }
        }
        if value.is_undefined() || value.is_function() || value.is_symbol() {
            return Ok(Step::Skipped);
        }
        if value.is_null() {
            self.out.push_str("null");
        } else if let Some(b) = value.as_bool() {
            self.out.push_str(if b { "true" } else { "false" });
        } else if let Some(i) = value.as_int() {
            push_int(&mut self.out, i64::from(i));
        } else if let Some(f) = value.as_float() {
            if !f.is_finite() {
                self.out.push_str("null");
            } else if f == f.trunc() && f.abs() < 9_007_199_254_740_992.0 {
                // Integral and exact, `-0` included (JSON writes it as 0): a timestamp, say.
                push_int(&mut self.out, f as i64);
            } else if f == f.trunc() && f.abs() < 1e21 {
                // Integral: Rust's digits are JS's.
                self.out.push_str(&format!("{}", f + 0.0));
            } else {
                // JS's own number-to-string for the rest (`1e-7`, `0.1`, `1e+21`).
                let text = value.get::<rquickjs::Coerced<std::string::String>>()?.0;
                self.out.push_str(&text);
            }
        } else if value.is_string() {
            // A lone surrogate has no UTF-8 form: QuickJS escapes it.
            let text = Text::of(&self.ctx, &value)?;
            let Some(text) = text.as_str() else {
                return Ok(Step::Fallback);
            };
            quote(&mut self.out, text);
        } else if let Some(object) = crate::kinds::into_object(value) {
            // SAFETY: `JS_GetClassID` only reads the class id of the object behind the value,
            // which `object` keeps alive for the call.
            let class = unsafe { qjs::JS_GetClassID(object.as_raw()) };
            if self.ancestors.len() >= MAX_DEPTH || self.ancestors.contains(&object) {
                return Ok(Step::Fallback);
            }
            self.ancestors.push(object.clone());
            let step = match class {
                CLASS_ARRAY => match object.clone().into_array() {
                    Some(array) => self.array(array)?,
                    None => Step::Fallback,
                },
                CLASS_OBJECT => self.object(&object)?,
                _ => Step::Fallback,
            };
            self.ancestors.pop();
            return Ok(step);
        } else {
            // A BigInt: QuickJS throws the standard's TypeError.
            return Ok(Step::Fallback);
        }
        Ok(Step::Written)
    }

    fn object(&mut self, object: &Object<'js>) -> Result<Step> {
        self.out.push('{');
        let mut first = true;
        let ctx = self.ctx.clone();
        let keys = OwnKeys::of(&ctx, object)?;
        for i in 0..keys.len() {
            let mark = self.out.len();
            if !first {
                self.out.push(',');
            }
            {
                let name = keys.name(i)?;
                let Some(name) = name.as_str() else {
                    return Ok(Step::Fallback);
                };
                quote(&mut self.out, name);
            }
            self.out.push(':');
            match self.value(keys.value(i)?, Key::Name(&keys, i))? {
                Step::Written => first = false,
                Step::Skipped => self.out.truncate(mark),
                Step::Fallback => return Ok(Step::Fallback),
            }
        }
        self.out.push('}');
        Ok(Step::Written)
    }

    fn array(&mut self, array: Array<'js>) -> Result<Step> {
        self.out.push('[');
        for i in 0..array.len() {
            if i > 0 {
                self.out.push(',');
            }
            match self.value(array.get(i)?, Key::Index(i))? {
                Step::Written => {}
                Step::Skipped => self.out.push_str("null"),
                Step::Fallback => return Ok(Step::Fallback),
            }
        }
        self.out.push(']');
        Ok(Step::Written)
    }
}

/// Appends `i` in decimal (`format!` costs a formatter's machinery for a handful of digits).
fn push_int(out: &mut String, i: i64) {
    // Wasm has no 64-bit multiply-high, so a 64-bit division by 10 stays a division (tens of
    // cycles): split into 32-bit parts of nine digits, whose divisions by 10 compile to
    // multiplications. A millisecond timestamp has 13 digits.
    const BILLION: u64 = 1_000_000_000;
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = i.unsigned_abs();
    loop {
        let (rest, mut part) = if n >= BILLION {
            (n / BILLION, (n % BILLION) as u32)
        } else {
            (0, n as u32)
        };
        let full = rest > 0;
        let mut written = 0;
        loop {
            at -= 1;
            digits[at] = b'0' + (part % 10) as u8;
            part /= 10;
            written += 1;
            // A part below the top one is padded to nine digits.
            if part == 0 && (!full || written == 9) {
                break;
            }
        }
        n = rest;
        if n == 0 {
            break;
        }
    }
    if i < 0 {
        out.push('-');
    }
    // SAFETY: ASCII digits.
    out.push_str(unsafe { std::str::from_utf8_unchecked(&digits[at..]) });
}

/// Appends `text` as a JSON string literal, escaped as `JSON.stringify` escapes it.
fn quote(out: &mut String, text: &str) {
    out.push('"');
    let mut rest = text;
    // Most text has nothing to escape: it is copied in one piece.
    while let Some(at) = rest
        .bytes()
        .position(|b| b < 0x20 || b == b'"' || b == b'\\')
    {
        out.push_str(&rest[..at]);
        match rest.as_bytes()[at] {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b => out.push_str(&format!("\\u{b:04x}")),
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out.push('"');
}
