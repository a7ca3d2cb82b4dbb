//! What a view does to what it reads: each batch's keys and values to JSON
//! (`partition::typed::to_json`), run as one more fetch interceptor after
//! the topic's own, so batches keep their offsets and the consumer's
//! positions mean the same in the view as in the topic.

use std::sync::Arc;

use crate::log::records::PackedRecords;
use crate::partition::interceptor::{Interceptor, Target, Verdict};
use crate::partition::partitioner::PluginFailure;
use crate::partition::typed::{to_json, Codecs, Source};
use crate::partition::validation::Field;

pub struct ToJson {
    codecs: Arc<Codecs>,
}

impl ToJson {
    pub fn new(codecs: Arc<Codecs>) -> ToJson {
        ToJson { codecs }
    }
}

impl Interceptor for ToJson {
    fn name(&self) -> &str {
        "json view"
    }

    fn intercept(&self, _: &Target, records: PackedRecords) -> Result<Verdict, PluginFailure> {
        let keys = to_json(&self.codecs, &records, Field::Key);
        let values = to_json(&self.codecs, &records, Field::Value);
        if keys.iter().chain(&values).all(Option::is_none) {
            return Ok(Verdict::Accept);
        }
        let mut out = PackedRecords::default();
        out.data.reserve(records.data.len());
        for (i, r) in records.records.iter().enumerate() {
            let key = keys[i]
                .as_deref()
                .or_else(|| records.payload(i, Field::Key));
            let value = values[i]
                .as_deref()
                .or_else(|| records.payload(i, Field::Value));
            let start = r.headers_start as usize;
            let headers = records.headers[start..start + r.headers_count as usize]
                .iter()
                .map(|h| {
                    let name = &records.data[h.name_offset as usize..][..h.name_len as usize];
                    let value = usize::try_from(h.value_len)
                        .ok()
                        .map(|len| &records.data[h.value_offset as usize..][..len]);
                    (name, value)
                });
            out.push_record(key, value, headers, r.timestamp);
        }
        Ok(Verdict::Rewrite {
            sources: (0..records.records.len() as u32).collect(),
            records: out,
        })
    }
}
