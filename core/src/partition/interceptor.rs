//! The interceptor seam: before a batch is appended, each produce
//! interceptor bound to the topic (`weir.interceptors.produce`, in order)
//! may accept it, rewrite its records (change or drop them), or reject it;
//! before stored batches are sent to a consumer, the fetch interceptors
//! (`weir.interceptors.fetch`) may accept or rewrite them the same way.
//! A rewritten batch keeps its codec and identity: every record keeps its
//! offset, so an idempotent producer's retries still deduplicate, and a
//! consumer moves past records (even whole batches) a fetch filter dropped.

use std::borrow::Cow;

use kafka_protocol::records::Compression;

use super::dead_letter::DeadLetter;
use super::partitioner::{decode, keep_identity_only, pack, OnError, PackedRecords, PluginFailure};
use crate::log::batch::{BatchHeader, Batches};
use crate::protocol::error::{ApiError, ResponseError};

/// An interceptor's decision for one batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Accept,
    /// New records, each with the index of the input record it replaces.
    Rewrite {
        records: PackedRecords,
        sources: Vec<u32>,
    },
    /// Refuse the batch, naming (by index in the interceptor's input) the
    /// records it refuses and why, when it says.
    Reject {
        message: String,
        records: Vec<(u32, String)>,
    },
}

/// Where the records are going (produce) or coming from (fetch).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub partition_count: u32,
    /// The reading client's `client.id` (fetch only).
    pub client_id: Option<&'a str>,
}

/// A produce or fetch interceptor (a plugin, or native code).
pub trait Interceptor: Send + Sync {
    fn name(&self) -> &str;
    fn intercept(&self, target: &Target, records: PackedRecords) -> Result<Verdict, PluginFailure>;
    /// Told when an answer fails the checks made on it here, so that a
    /// plugin counts it among its failures.
    fn answered_badly(&self, _why: &str) {}
}

/// Runs the chain over every batch of `bytes` (control batches aside);
/// batches no interceptor changed are kept byte for byte.
/// Batches an interceptor failed on go to `dead` when `on_error` says so.
pub fn intercept<'a>(
    chain: &[std::sync::Arc<dyn Interceptor>],
    on_error: OnError,
    target: &Target,
    bytes: &'a [u8],
    dead: &mut Vec<DeadLetter>,
) -> Result<Cow<'a, [u8]>, ApiError> {
    rewrite_batches(bytes, |header, raw| {
        intercept_batch(chain, on_error, target, header, raw, dead)
    })
}

/// Calls `each` on every batch of `bytes` but control batches, and keeps a
/// batch byte for byte unless `each` answers a replacement; copies nothing
/// when no batch is replaced.
pub(super) fn rewrite_batches<'a>(
    bytes: &'a [u8],
    mut each: impl FnMut(&BatchHeader, &[u8]) -> Result<Option<Vec<u8>>, ApiError>,
) -> Result<Cow<'a, [u8]>, ApiError> {
    let mut out: Option<Vec<u8>> = None;
    for item in Batches::new(bytes) {
        let (position, header) =
            item.map_err(|e| ApiError::new(ResponseError::CorruptMessage, e.to_string()))?;
        let raw = &bytes[position..position + header.size];
        let changed = if header.is_control() {
            None
        } else {
            each(&header, raw)?
        };
        match (changed, &mut out) {
            (None, None) => {}
            (None, Some(out)) => out.extend_from_slice(raw),
            (Some(batch), out) => {
                let out = out.get_or_insert_with(|| bytes[..position].to_vec());
                out.extend_from_slice(&batch);
            }
        }
    }
    Ok(out.map_or(Cow::Borrowed(bytes), Cow::Owned))
}

fn intercept_batch(
    chain: &[std::sync::Arc<dyn Interceptor>],
    on_error: OnError,
    target: &Target,
    header: &BatchHeader,
    raw: &[u8],
    dead: &mut Vec<DeadLetter>,
) -> Result<Option<Vec<u8>>, ApiError> {
    // The chain works on packed records: a rewrite replaces them (each
    // keeping its source's offset), and the batch is written from the last
    // ones, never decoded into `Record`s.
    let (mut records, mut offset_deltas) = pack(raw, header)?;
    // Each record's index in the batch as produced, through rewrites.
    let mut origins: Vec<u32> = (0..records.records.len() as u32).collect();
    let mut changed = false;
    for (i, interceptor) in chain.iter().enumerate() {
        let inputs = records.records.len();
        let last = i + 1 == chain.len();
        let input = if last && !changed {
            std::mem::take(&mut records)
        } else {
            records.clone()
        };
        let verdict = interceptor.intercept(target, input).and_then(|v| {
            check(v, inputs).inspect_err(|e| interceptor.answered_badly(&e.to_string()))
        });
        match (verdict, on_error) {
            (Ok(Verdict::Accept), _) | (Err(_), OnError::Skip) => {}
            (Ok(Verdict::Reject { message, records }), _) => {
                let error = ApiError::new(
                    ResponseError::PolicyViolation,
                    format!(
                        "plugin {} rejected the batch: {message}",
                        interceptor.name()
                    ),
                );
                return Err(error.with_record_errors(record_errors(records, &origins)));
            }
            (
                Ok(Verdict::Rewrite {
                    records: new,
                    sources,
                }),
                _,
            ) => {
                offset_deltas = sources.iter().map(|s| offset_deltas[*s as usize]).collect();
                origins = sources.iter().map(|s| origins[*s as usize]).collect();
                records = new;
                changed = true;
            }
            (Err(failure), OnError::Reject) => {
                let why = match failure {
                    PluginFailure::Refused(m) | PluginFailure::Failed(m) => m,
                };
                return Err(ApiError::new(
                    ResponseError::PolicyViolation,
                    format!("plugin {} failed: {why}", interceptor.name()),
                ));
            }
            (Err(failure), OnError::DeadLetter) => {
                dead.push(DeadLetter {
                    plugin: interceptor.name().to_string(),
                    error: failure.to_string(),
                    records: decode(raw)?,
                });
                return keep_identity_only(raw, codec(header)?).map(Some);
            }
        }
    }
    if !changed {
        return Ok(None);
    }
    let batch = crate::log::records::encode_packed(
        raw,
        &records,
        &offset_deltas,
        None,
        codec(header)?,
        None,
    )
    .map_err(|e| ApiError::new(ResponseError::CorruptMessage, e.to_string()))?;
    Ok(Some(batch))
}

/// The records an interceptor named, by their index in the batch as
/// produced, in order, once each (as KIP-467 answers them); names outside
/// its input are ignored.
fn record_errors(named: Vec<(u32, String)>, origins: &[u32]) -> Vec<(i32, String)> {
    let mut errors: std::collections::BTreeMap<i32, String> = Default::default();
    for (index, reason) in named {
        if let Some(origin) = origins.get(index as usize) {
            errors.entry(*origin as i32).or_insert(reason);
        }
    }
    errors.into_iter().collect()
}

/// A rewrite must name increasing sources within the input, one per record,
/// and its slices must lie inside its data.
fn check(verdict: Verdict, inputs: usize) -> Result<Verdict, PluginFailure> {
    if let Verdict::Rewrite { records, sources } = &verdict {
        let increasing = sources.windows(2).all(|w| w[0] < w[1]);
        let in_range = sources.iter().all(|s| (*s as usize) < inputs);
        let len = records.data.len() as u64;
        let fits = |offset: u32, l: i32| l < 0 || offset as u64 + l as u64 <= len;
        let slices_fit = records.records.iter().all(|r| {
            fits(r.key_offset, r.key_len)
                && fits(r.value_offset, r.value_len)
                && (r.headers_start as u64 + r.headers_count as u64) <= records.headers.len() as u64
        }) && records
            .headers
            .iter()
            .all(|h| fits(h.name_offset, h.name_len as i32) && fits(h.value_offset, h.value_len));
        if sources.len() != records.records.len() || !increasing || !in_range || !slices_fit {
            return Err(PluginFailure::Failed(
                "answered a rewrite whose records, sources or slices do not line up".into(),
            ));
        }
    }
    Ok(verdict)
}

/// The codec of a batch, from its attributes.
pub fn codec(header: &BatchHeader) -> Result<Compression, ApiError> {
    crate::log::batch::codec(header)
        .map_err(|e| ApiError::new(ResponseError::CorruptMessage, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::{encode_idempotent, validate};
    use crate::partition::partitioner::HeaderRef;
    use bytes::Bytes;
    use std::sync::Arc;

    /// A native interceptor: drops records whose value starts with "x",
    /// upper-cases the rest.
    struct DropX;

    impl Interceptor for DropX {
        fn name(&self) -> &str {
            "drop-x"
        }
        fn intercept(&self, _: &Target, input: PackedRecords) -> Result<Verdict, PluginFailure> {
            let mut out = PackedRecords::default();
            let mut sources = Vec::new();
            for (i, r) in input.records.iter().enumerate() {
                let value = &input.data[r.value_offset as usize..][..r.value_len as usize];
                if value.starts_with(b"x") {
                    continue;
                }
                let offset = out.data.len() as u32;
                out.data.extend(value.to_ascii_uppercase());
                out.records.push(super::super::partitioner::RecordRef {
                    key_offset: 0,
                    key_len: -1,
                    value_offset: offset,
                    value_len: value.len() as i32,
                    headers_start: 0,
                    headers_count: 0,
                    timestamp: r.timestamp,
                });
                sources.push(i as u32);
            }
            Ok(Verdict::Rewrite {
                records: out,
                sources,
            })
        }
    }

    /// The values a, xb, c from an idempotent producer, through `chain`.
    fn run_chain(chain: Vec<Arc<dyn Interceptor>>, codec: Compression) -> Vec<u8> {
        let values = ["a", "xb", "c"].map(|v| (None, Some(Bytes::from(v))));
        let raw = encode_idempotent(values, 5, codec, (3, 1, 7));
        let target = Target {
            topic: "t",
            partition: 0,
            partition_count: 1,
            client_id: None,
        };
        intercept(&chain, OnError::Reject, &target, &raw, &mut Vec::new())
            .unwrap()
            .into_owned()
    }

    #[test]
    fn a_rewrite_keeps_offsets_codec_and_identity() {
        let out = run_chain(vec![Arc::new(DropX)], Compression::Zstd);
        let header = validate(&out).unwrap();
        assert_eq!(
            (
                header.producer_id,
                header.base_sequence,
                header.last_offset_delta
            ),
            (3, 7, 2)
        );
        assert_eq!(
            (header.records_count, header.compression()),
            (2, Compression::Zstd as i16)
        );
        let records = decode(&out).unwrap();
        let got: Vec<_> = records
            .iter()
            .map(|r| (r.offset, r.value.clone().unwrap()))
            .collect();
        assert_eq!(got, vec![(0, Bytes::from("A")), (2, Bytes::from("C"))]);
    }

    /// A native interceptor: refuses the batch, naming the records whose
    /// value is "C" (twice, and one index it was never given).
    struct RefuseC;

    impl Interceptor for RefuseC {
        fn name(&self) -> &str {
            "refuse-c"
        }
        fn intercept(&self, _: &Target, input: PackedRecords) -> Result<Verdict, PluginFailure> {
            let mut records = vec![(99, "not in the batch".to_string())];
            for (i, r) in input.records.iter().enumerate() {
                let value = &input.data[r.value_offset as usize..][..r.value_len as usize];
                if value == b"C" {
                    records.push((i as u32, "C is refused".into()));
                    records.push((i as u32, "said twice".into()));
                }
            }
            Ok(Verdict::Reject {
                message: "no C".into(),
                records,
            })
        }
    }

    #[test]
    fn a_rejection_names_records_by_their_place_in_the_produced_batch() {
        let values = ["a", "xb", "c"].map(|v| (None, Some(Bytes::from(v))));
        let raw = encode_idempotent(values, 5, Compression::None, (3, 1, 7));
        let target = Target {
            topic: "t",
            partition: 0,
            partition_count: 1,
            client_id: None,
        };
        // DropX leaves A and C (input records 0 and 2); C is record 1 of
        // what RefuseC sees and record 2 of what was produced.
        let chain: Vec<Arc<dyn Interceptor>> = vec![Arc::new(DropX), Arc::new(RefuseC)];
        let error = intercept(&chain, OnError::Reject, &target, &raw, &mut Vec::new()).unwrap_err();
        assert_eq!(error.error, ResponseError::PolicyViolation);
        assert_eq!(
            error.message.as_deref(),
            Some("plugin refuse-c rejected the batch: no C")
        );
        assert_eq!(error.record_errors, vec![(2, "C is refused".to_string())]);
    }

    /// A native interceptor: gives every record two headers named `h`.
    struct TwoHeaders;

    impl Interceptor for TwoHeaders {
        fn name(&self) -> &str {
            "two-headers"
        }
        fn intercept(
            &self,
            _: &Target,
            mut input: PackedRecords,
        ) -> Result<Verdict, PluginFailure> {
            let at = input.data.len() as u32;
            input.data.extend_from_slice(b"h12");
            input.headers = vec![
                HeaderRef {
                    name_offset: at,
                    name_len: 1,
                    value_offset: at + 1,
                    value_len: 1,
                },
                HeaderRef {
                    name_offset: at,
                    name_len: 1,
                    value_offset: at + 2,
                    value_len: 1,
                },
            ];
            for r in &mut input.records {
                (r.headers_start, r.headers_count) = (0, 2);
            }
            let sources = (0..input.records.len() as u32).collect();
            Ok(Verdict::Rewrite {
                records: input,
                sources,
            })
        }
    }

    #[test]
    fn a_chain_keeps_repeated_header_names_as_kafka_does() {
        let out = run_chain(
            vec![Arc::new(DropX), Arc::new(TwoHeaders)],
            Compression::None,
        );
        let header = validate(&out).unwrap();
        let (packed, deltas) = super::super::partitioner::pack(&out, &header).unwrap();
        assert_eq!(deltas, vec![0, 2]);
        let headers: Vec<_> = packed
            .headers
            .iter()
            .map(|h| &packed.data[h.value_offset as usize..][..h.value_len as usize])
            .collect();
        assert_eq!(packed.records[1].headers_count, 2);
        assert_eq!(headers, vec![b"1", b"2", b"1", b"2"]);
    }

    #[test]
    fn rewrites_that_reorder_or_overflow_are_failures() {
        let bad = Verdict::Rewrite {
            records: PackedRecords {
                data: vec![],
                records: vec![Default::default(); 2],
                headers: vec![],
            },
            sources: vec![1, 0],
        };
        assert!(matches!(check(bad, 2), Err(PluginFailure::Failed(_))));
        let overflow = Verdict::Rewrite {
            records: PackedRecords {
                data: vec![1],
                records: vec![super::super::partitioner::RecordRef {
                    value_len: 9,
                    ..Default::default()
                }],
                headers: vec![],
            },
            sources: vec![0],
        };
        assert!(matches!(check(overflow, 1), Err(PluginFailure::Failed(_))));
    }
}
