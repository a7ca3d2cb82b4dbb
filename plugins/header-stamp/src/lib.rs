//! `header-stamp`: adds the headers named in config
//! (`headers = "source=weir,region=eu"`) to every record, after the
//! record's own headers.

use weir_plugin::host;
use weir_plugin::interceptor::{Batch, ProduceInterceptor, Rewrite, Verdict};

struct HeaderStamp;

impl ProduceInterceptor for HeaderStamp {
    fn intercept(batch: &Batch) -> Verdict {
        let stamps: Vec<(String, String)> = host::config("headers")
            .unwrap_or_default()
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
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
