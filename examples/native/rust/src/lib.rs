//! A native produce interceptor in Rust: adds the header `stamped-by` (the
//! config value `stamp`, default "native") to every record. Loaded with
//! dlopen through the C ABI of sdk/c/weir_native.h (the broker needs
//! weir.plugin.native.enabled=true):
//!   cargo build --release --manifest-path examples/native/rust/Cargo.toml
//! Calls may come from several threads at once; nothing here is shared but
//! the config, set once at load.

use std::ffi::{c_char, CStr};
use std::sync::OnceLock;

const ABI: u32 = 1;
const REWRITE: i32 = 1;
const NULL: u32 = u32::MAX;

#[repr(C)]
pub struct Records {
    data: *const u8,
    data_len: usize,
    records: *const u32,
    records_len: usize,
    timestamps: *const i64,
    count: usize,
    headers: *const u32,
    headers_len: usize,
}

#[repr(C)]
pub struct Batch {
    topic: *const u8,
    topic_len: usize,
    partition: i32,
    partition_count: u32,
    client_id: *const u8,
    client_id_len: usize,
    records: Records,
}

#[repr(C)]
pub struct Rewrite {
    data: *mut u8,
    data_len: usize,
    records: *mut u32,
    records_len: usize,
    timestamps: *mut i64,
    count: usize,
    headers: *mut u32,
    headers_len: usize,
    sources: *mut u32,
}

static STAMP: OnceLock<String> = OnceLock::new();

#[no_mangle]
pub extern "C" fn weir_native_abi() -> u32 {
    ABI
}

#[no_mangle]
pub extern "C" fn weir_native_kind() -> *const c_char {
    c"produce-interceptor".as_ptr()
}

/// # Safety
/// `keys` and `values` hold `count` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn weir_native_configure(
    keys: *const *const c_char,
    values: *const *const c_char,
    count: usize,
) {
    for i in 0..count {
        let key = CStr::from_ptr(*keys.add(i));
        if key.to_bytes() == b"stamp" {
            let _ = STAMP.set(
                CStr::from_ptr(*values.add(i))
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
}

/// A Vec handed to the broker: leaked here, taken back in weir_native_free_rewrite.
fn leak<T>(v: Vec<T>) -> (*mut T, usize) {
    let mut v = v.into_boxed_slice();
    let out = (v.as_mut_ptr(), v.len());
    std::mem::forget(v);
    out
}

unsafe fn take<T>(ptr: *mut T, len: usize) {
    if !ptr.is_null() {
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)));
    }
}

/// # Safety
/// The broker passes a valid batch and a rewrite to fill.
#[no_mangle]
pub unsafe extern "C" fn weir_native_intercept(
    batch: *const Batch,
    out: *mut Rewrite,
    _error: *mut c_char,
    _cap: usize,
) -> i32 {
    let r = &(*batch).records;
    let slice = |ptr: *const u8, len: usize| {
        if len == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(ptr, len)
        }
    };
    let data = slice(r.data, r.data_len);
    let records = std::slice::from_raw_parts(r.records, r.records_len);
    let headers = if r.headers_len == 0 {
        &[][..]
    } else {
        std::slice::from_raw_parts(r.headers, r.headers_len)
    };
    let stamp = STAMP.get().map_or("native", String::as_str);
    let (mut new_data, mut new_records, mut new_headers) = (Vec::new(), Vec::new(), Vec::new());
    let put = |d: &mut Vec<u8>, offset: u32, len: u32| -> [u32; 2] {
        if len == NULL {
            return [d.len() as u32, NULL];
        }
        let at = d.len() as u32;
        d.extend_from_slice(&data[offset as usize..][..len as usize]);
        [at, len]
    };
    for w in records.chunks_exact(6) {
        let key = put(&mut new_data, w[0], w[1]);
        let value = put(&mut new_data, w[2], w[3]);
        let first = (new_headers.len() / 4) as u32;
        for h in headers[w[4] as usize * 4..(w[4] + w[5]) as usize * 4].chunks_exact(4) {
            let name = put(&mut new_data, h[0], h[1]);
            let value = put(&mut new_data, h[2], h[3]);
            new_headers.extend_from_slice(&[name[0], name[1], value[0], value[1]]);
        }
        let at = new_data.len() as u32;
        new_data.extend_from_slice(b"stamped-by");
        new_data.extend_from_slice(stamp.as_bytes());
        new_headers.extend_from_slice(&[at, 10, at + 10, stamp.len() as u32]);
        new_records.extend_from_slice(&[key[0], key[1], value[0], value[1], first, w[5] + 1]);
    }
    let timestamps = std::slice::from_raw_parts(r.timestamps, r.count).to_vec();
    let sources: Vec<u32> = (0..r.count as u32).collect();
    let out = &mut *out;
    (out.data, out.data_len) = leak(new_data);
    (out.records, out.records_len) = leak(new_records);
    (out.timestamps, out.count) = leak(timestamps);
    (out.headers, out.headers_len) = leak(new_headers);
    out.sources = leak(sources).0;
    REWRITE
}

/// # Safety
/// `out` was filled by weir_native_intercept.
#[no_mangle]
pub unsafe extern "C" fn weir_native_free_rewrite(out: *mut Rewrite) {
    let out = &mut *out;
    take(out.data, out.data_len);
    take(out.records, out.records_len);
    take(out.timestamps, out.count);
    take(out.headers, out.headers_len);
    take(out.sources, out.count);
}
