//! Checking what JavaScript passes in: numbers that must be byte counts or addresses, and
//! the options object of `new Heap(...)`. Every bad value becomes an `Error` with a message
//! that names the call, the argument and the value; nothing here can panic.

use heaptale::heap::MAX_HEAP;
use heaptale::policy::{Config, Order, PolicyKind};
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsError, JsValue};

/// The largest value a wasm32 size or address can have.
const MAX_USIZE: f64 = u32::MAX as f64;

/// A byte count or an address: a whole number from 0 to 2^32 - 1 (wasm32's range).
pub fn whole(v: f64, call: &str, what: &str) -> Result<usize, JsError> {
    if v.is_nan() {
        return Err(JsError::new(&format!("{call}: {what} must be a number, got NaN (a missing argument or a value that is not a number)")));
    }
    if v.is_infinite() || v.fract() != 0.0 {
        return Err(JsError::new(&format!(
            "{call}: {what} must be a whole number, got {v}"
        )));
    }
    if v < 0.0 {
        return Err(JsError::new(&format!(
            "{call}: {what} must not be negative, got {v}"
        )));
    }
    if v > MAX_USIZE {
        return Err(JsError::new(&format!(
            "{call}: {what} {v} is too large: wasm32 sizes and addresses are below 4 GiB"
        )));
    }
    // In range and whole: the cast is exact.
    Ok(v as u32 as usize)
}

/// The options of `new Heap(options)`.
pub fn config(options: &JsValue) -> Result<Config, JsError> {
    let mut c = Config::default();
    if options.is_undefined() || options.is_null() {
        return Ok(c);
    }
    if !options.is_object() || options.is_function() || js_sys::Array::is_array(options) {
        return Err(JsError::new(&format!(
            "new Heap: the options must be an object such as {{ policy: 'first' }}, got {}",
            describe(options)
        )));
    }
    let obj: &Object = options.unchecked_ref();
    let keys = Reflect::own_keys(obj).map_err(|e| {
        JsError::new(&format!(
            "new Heap: reading the options threw: {}",
            describe(&e)
        ))
    })?;
    for key in keys.iter() {
        let name = key.as_string().unwrap_or_else(|| describe(&key));
        if !KNOWN.contains(&name.as_str()) {
            return Err(JsError::new(&format!(
                "new Heap: unknown option '{name}': the options are {}",
                KNOWN.join(", ")
            )));
        }
    }
    let get = |name: &str| -> Result<Option<JsValue>, JsError> {
        let v = Reflect::get(obj, &JsValue::from_str(name)).map_err(|e| {
            JsError::new(&format!(
                "new Heap: reading option '{name}' threw: {}",
                describe(&e)
            ))
        })?;
        Ok(if v.is_undefined() || v.is_null() {
            None
        } else {
            Some(v)
        })
    };

    if let Some(v) = get("policy")? {
        let s = v
            .as_string()
            .ok_or_else(|| bad("policy", "a policy name such as 'first'", &v))?;
        c.policy = s
            .parse::<PolicyKind>()
            .map_err(|e| JsError::new(&format!("new Heap: {e}")))?;
    }
    if let Some(v) = get("order")? {
        let s = v.as_string().ok_or_else(|| {
            bad(
                "order",
                "'addr', 'size-asc', 'size-desc', 'front' or 'back'",
                &v,
            )
        })?;
        c.order = s
            .parse::<Order>()
            .map_err(|e| JsError::new(&format!("new Heap: {e}")))?;
    }
    if let Some(v) = get("coalesce")? {
        c.coalesce = match (v.as_bool(), v.as_string().as_deref()) {
            (Some(b), _) => b,
            (_, Some("on")) => true,
            (_, Some("off")) => false,
            _ => return Err(bad("coalesce", "true or false ('on' or 'off' also do)", &v)),
        };
    }
    if let Some(v) = get("header")? {
        c.header = small_number("header", &v)?;
    }
    if let Some(v) = get("align")? {
        c.align = small_number("align", &v)?;
    }
    if let Some(v) = get("heapSize")? {
        let n = small_number("heapSize", &v)?;
        if n == 0 || n > MAX_HEAP {
            return Err(JsError::new(&format!(
                "new Heap: bad configuration: the heap size must be between 1 byte and 1 GiB, got {n}"
            )));
        }
        c.heap_size = Some(n);
    }
    if let Some(v) = get("base")? {
        c.base = Some(base(&v)?);
    }
    Ok(c)
}

const KNOWN: [&str; 7] = [
    "policy", "order", "coalesce", "header", "align", "heapSize", "base",
];

/// The largest base: the heap (up to `MAX_HEAP` bytes) must fit below 4 GiB in reports.
pub const MAX_BASE: usize = u32::MAX as usize - MAX_HEAP as usize;

/// Option `base`: the address reports give the heap's start, a number or a string of one
/// (decimal or `0x` hex, as the CLI's `--base`).
fn base(v: &JsValue) -> Result<usize, JsError> {
    const WANT: &str = "an address: a number such as 4096, or a string such as '0x1000'";
    let n = match (v.as_f64(), v.as_string()) {
        (Some(n), _) => whole(n, "new Heap", "option 'base'")?,
        (_, Some(s)) => {
            let t = s.trim().replace('_', "");
            let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    u64::from_str_radix(h, 16).ok()
                }
                None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
                    t.parse::<u64>().ok()
                }
                _ => return Err(bad("base", WANT, v)),
            };
            match parsed.and_then(|n| usize::try_from(n).ok()) {
                Some(n) if n <= u32::MAX as usize => n,
                _ => return Err(too_large_base(&t)),
            }
        }
        _ => return Err(bad("base", WANT, v)),
    };
    if n > MAX_BASE {
        return Err(too_large_base(&format!("{n:#x}")));
    }
    Ok(n)
}

fn too_large_base(shown: &str) -> JsError {
    JsError::new(&format!(
        "new Heap: option 'base' {shown} is too large: the heap (up to 1 GiB) must fit below 4 GiB, so the base is at most {MAX_BASE:#x}"
    ))
}

fn small_number(name: &str, v: &JsValue) -> Result<u32, JsError> {
    let n = v
        .as_f64()
        .ok_or_else(|| bad(name, "a number of bytes", v))?;
    let n = whole(n, "new Heap", &format!("option '{name}'"))?;
    Ok(n as u32)
}

fn bad(name: &str, expected: &str, v: &JsValue) -> JsError {
    JsError::new(&format!(
        "new Heap: option '{name}' must be {expected}, got {}",
        describe(v)
    ))
}

/// A short description of a JS value for error messages.
pub fn describe(v: &JsValue) -> String {
    if let Some(s) = v.as_string() {
        let mut short: String = s.chars().take(40).collect();
        if short.len() < s.len() {
            short.push('…');
        }
        return format!("the string '{short}'");
    }
    if let Some(n) = v.as_f64() {
        return format!("the number {n}");
    }
    if let Some(b) = v.as_bool() {
        return format!("{b}");
    }
    if v.is_null() {
        return "null".into();
    }
    if v.is_undefined() {
        return "undefined".into();
    }
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    if js_sys::Array::is_array(v) {
        return "an array".into();
    }
    if v.is_function() {
        return "a function".into();
    }
    if v.is_bigint() {
        return "a BigInt".into();
    }
    if v.is_symbol() {
        return "a symbol".into();
    }
    "an object".into()
}
