//! Reads an object's own enumerable string-keyed properties, and JS strings' text, straight from
//! QuickJS: for the natives that walk a small record on every request (`JSON.stringify`, a
//! response's headers).
//!
//! rquickjs's property iterator and `String::to_string` copy every key and every string value
//! into a new Rust `String` and manage a reference count for each. QuickJS itself hands out an
//! ASCII string's text in place (`JS_ToCStringLen2`), so here a key or a value is read where it
//! is, and only what must change is copied.
//!
//! Both borrow the context and the object they read rather than holding counted references:
//! each rquickjs handle costs a reference count taken and given back on the context, and these
//! are made several times per property.

use rquickjs::{Ctx, Error, Object, Result, Value, qjs};

/// An object's own enumerable string keys, in the order `Object.keys` gives.
pub struct OwnKeys<'a, 'js> {
    ctx: &'a Ctx<'js>,
    object: &'a Object<'js>,
    tab: *mut qjs::JSPropertyEnum,
    len: u32,
}

impl<'a, 'js> OwnKeys<'a, 'js> {
    pub fn of(ctx: &'a Ctx<'js>, object: &'a Object<'js>) -> Result<Self> {
        let mut tab = std::ptr::null_mut();
        let mut len = 0;
        let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as i32;
        // SAFETY: the context and the object are alive for the call; QuickJS fills `tab` with
        // `len` entries that [`Drop`] frees.
        let status = unsafe {
            qjs::JS_GetOwnPropertyNames(
                ctx.as_raw().as_ptr(),
                &mut tab,
                &mut len,
                object.as_raw(),
                flags,
            )
        };
        if status < 0 {
            return Err(Error::Exception);
        }
        Ok(OwnKeys {
            ctx,
            object,
            tab,
            len,
        })
    }

    pub fn len(&self) -> usize {
        self.len as usize
    }

    fn atom(&self, i: usize) -> qjs::JSAtom {
        assert!(i < self.len());
        // SAFETY: `i` is within the `len` entries QuickJS gave.
        unsafe { (*self.tab.add(i)).atom }
    }

    /// The `i`th key's text.
    pub fn name(&self, i: usize) -> Result<Text<'a, 'js>> {
        let mut len: qjs::size_t = 0;
        // SAFETY: the atom is one of the object's keys, kept alive by `tab`.
        let ptr =
            unsafe { qjs::JS_AtomToCStringLen(self.ctx.as_raw().as_ptr(), &mut len, self.atom(i)) };
        Text::new(self.ctx, ptr, len as usize)
    }

    /// The `i`th key as a JS string (the one the key is made of: no copy).
    pub fn name_value(&self, i: usize) -> Result<Value<'js>> {
        // SAFETY: as in `value`: the returned string is ours, and `from_raw` owns it.
        let value = unsafe {
            let raw = qjs::JS_AtomToString(self.ctx.as_raw().as_ptr(), self.atom(i));
            Value::from_raw(self.ctx.clone(), raw)
        };
        if value.is_exception() {
            return Err(Error::Exception);
        }
        Ok(value)
    }

    /// The `i`th property's value (a getter runs, as for `object[key]`).
    pub fn value(&self, i: usize) -> Result<Value<'js>> {
        // SAFETY: the object and the atom are alive; the value QuickJS returns is owned by us,
        // and `from_raw` takes that ownership.
        let value = unsafe {
            let raw = qjs::JS_GetProperty(
                self.ctx.as_raw().as_ptr(),
                self.object.as_raw(),
                self.atom(i),
            );
            Value::from_raw(self.ctx.clone(), raw)
        };
        if value.is_exception() {
            return Err(Error::Exception);
        }
        Ok(value)
    }
}

impl Drop for OwnKeys<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: `tab` and `len` are what `JS_GetOwnPropertyNames` gave; freed once.
        unsafe { qjs::JS_FreePropertyEnum(self.ctx.as_raw().as_ptr(), self.tab, self.len) }
    }
}

/// A JS string's text as UTF-8, in place for an ASCII string (a copy made by QuickJS otherwise),
/// released when dropped.
pub struct Text<'a, 'js> {
    ctx: &'a Ctx<'js>,
    ptr: *const std::ffi::c_char,
    len: usize,
}

impl<'a, 'js> Text<'a, 'js> {
    fn new(ctx: &'a Ctx<'js>, ptr: *const std::ffi::c_char, len: usize) -> Result<Self> {
        if ptr.is_null() {
            return Err(Error::Exception);
        }
        Ok(Text { ctx, ptr, len })
    }

    /// The text of `string` (which must be a string: anything else is converted, and may run
    /// JS).
    pub fn of(ctx: &'a Ctx<'js>, string: &Value<'js>) -> Result<Self> {
        let mut len: qjs::size_t = 0;
        // SAFETY: the value is alive for the call; the text is released by [`Drop`].
        let ptr = unsafe {
            qjs::JS_ToCStringLen2(ctx.as_raw().as_ptr(), &mut len, string.as_raw(), false)
        };
        Text::new(ctx, ptr, len as usize)
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: QuickJS keeps `len` bytes at `ptr` until the text is freed in `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }

    /// The text as `str`; `None` for a string with a lone surrogate, which has no UTF-8 form.
    pub fn as_str(&self) -> Option<&str> {
        let bytes = self.bytes();
        if bytes.is_ascii() {
            // SAFETY: ASCII is UTF-8.
            return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).ok()
    }

    /// The text with each lone surrogate as U+FFFD, as the Encoding standard has a string's
    /// UTF-8 do (and WebIDL's `USVString`).
    pub fn to_str_lossy(&self) -> std::borrow::Cow<'_, str> {
        match self.as_str() {
            Some(text) => std::borrow::Cow::Borrowed(text),
            None => std::borrow::Cow::Owned(wtf8_lossy(self.bytes())),
        }
    }
}

/// QuickJS writes a lone surrogate as the three bytes of its code point (`ED A0..BF xx`): each
/// becomes U+FFFD. Any other byte sequence QuickJS gives is UTF-8.
fn wtf8_lossy(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0xED && bytes.get(i + 1).is_some_and(|b| (0xA0..=0xBF).contains(b)) {
            out.extend_from_slice("\u{FFFD}".as_bytes());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl Drop for Text<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `JS_ToCStringLen2` or `JS_AtomToCStringLen` and is freed once.
        unsafe { qjs::JS_FreeCString(self.ctx.as_raw().as_ptr(), self.ptr) }
    }
}
