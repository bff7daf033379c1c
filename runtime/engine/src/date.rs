//! `Date.prototype.toISOString` in Rust. QuickJS writes the string with four `snprintf` calls
//! through wasi-libc's formatter, about 8,000 Wasm instructions; an API handler's timestamp
//! (`new Date().toISOString()`, or any `Date` that `JSON.stringify` meets) costs that each time.

use crate::raw_native::{self, Args, RawNative};
use rquickjs::{Ctx, Exception, Object, Result, Value, qjs};
use std::cell::Cell;

thread_local! {
    /// QuickJS's `Date.prototype.getTime`, which reads a date's time value; one reference held
    /// for the engine's whole life.
    static GET_TIME: Cell<qjs::JSValue> = const { Cell::new(qjs::JS_UNDEFINED) };
}

pub fn install<'js>(ctx: &Ctx<'js>) -> Result<()> {
    let prototype: Object = ctx.globals().get::<_, Object>("Date")?.get("prototype")?;
    raw_native::keep(ctx, &prototype.get("getTime")?, &GET_TIME);
    raw_native::install::<ToIsoString>(ctx, &prototype)
}

struct ToIsoString;

impl RawNative for ToIsoString {
    const NAME: &'static std::ffi::CStr = c"toISOString";
    const LENGTH: std::ffi::c_int = 0;
    fn call<'js>(ctx: &Ctx<'js>, args: Args<'_, 'js>) -> Result<Value<'js>> {
        // SAFETY: `this` is alive for the call; `JS_IsDate` only reads its class.
        if !unsafe { qjs::JS_IsDate(args.this()) } {
            return Err(Exception::throw_type(ctx, "not a Date object"));
        }
        let time = args.forward(GET_TIME.with(Cell::get))?;
        let Some(ms) = time.as_number().filter(|t| t.is_finite()) else {
            return Err(Exception::throw_range(ctx, "Date value is NaN"));
        };
        let text = iso_string(ms as i64);
        Ok(rquickjs::String::from_str(ctx.clone(), &text)?.into_value())
    }
}

/// `YYYY-MM-DDTHH:mm:ss.sssZ` for a time value in milliseconds since the epoch (a year outside
/// 0–9999 as `±YYYYYY`, as the standard writes it).
fn iso_string(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(27);
    if (0..=9999).contains(&year) {
        push_digits(&mut out, year as u64, 4);
    } else {
        out.push(if year < 0 { '-' } else { '+' });
        push_digits(&mut out, year.unsigned_abs(), 6);
    }
    for (separator, value, width) in [
        ('-', month, 2),
        ('-', day, 2),
        ('T', in_day / 3_600_000, 2),
        (':', in_day / 60_000 % 60, 2),
        (':', in_day / 1000 % 60, 2),
        ('.', in_day % 1000, 3),
    ] {
        out.push(separator);
        push_digits(&mut out, value as u64, width);
    }
    out.push('Z');
    out
}

fn push_digits(out: &mut String, value: u64, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (value / 10u64.pow(place) % 10) as u8));
    }
}

/// The proleptic Gregorian `(year, month, day)` of a day count from 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}
