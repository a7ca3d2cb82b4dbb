//! `header-stamp`: adds the headers named in config
//! (`headers = "source=weir,region=eu"`) to every record, after the
//! record's own headers; with `principal-header = "writer"`, also a header
//! of that name holding the producer's principal (`host.caller()`), so a
//! consumer knows who wrote each record.

use weir_plugin::host;
use weir_plugin::interceptor::{Batch, ProduceInterceptor, Rewrite, Verdict};

struct HeaderStamp;

impl ProduceInterceptor for HeaderStamp {
    fn intercept(batch: &Batch) -> Verdict {
        let mut stamps: Vec<(String, String)> = host::config("headers")
            .unwrap_or_default()
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        if let Some(name) = host::config("principal-header") {
            let writer = host::caller().map_or_else(String::new, |c| c.principal);
            stamps.push((name, writer));
        }
        if stamps.is_empty() {
            return Verdict::Accept;
        }
        let mut out = Rewrite::new();
        for (i, record) in batch.records().enumerate() {
            let mut headers: Vec<(&[u8], Option<&[u8]>)> =
                record.headers().map(|h| (h.name(), h.value())).collect();
            headers.extend(
                stamps
                    .iter()
                    .map(|(k, v)| (k.as_bytes(), Some(v.as_bytes()))),
            );
            out.push(i, &record, record.key(), record.value(), headers);
        }
        Verdict::Rewrite(out)
    }
}

weir_plugin::export_produce_interceptor!(HeaderStamp);
