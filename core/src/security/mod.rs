//! Who is on the other end of a connection: TLS on `SSL` listeners
//! (`tls`), the principal a client certificate maps to (`principal`) and
//! SASL on `SASL_*` listeners (`sasl`), and what a principal may do
//! (`acl`), with Kafka's config names and semantics; and the seams where
//! plugins authenticate and authorize (`plugin`).

pub mod acl;
pub mod plugin;
pub mod principal;
pub mod sasl;
pub mod tls;

/// Whether two secrets (or their digests) are equal, in time that depends
/// only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
