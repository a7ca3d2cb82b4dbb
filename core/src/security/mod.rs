//! Who is on the other end of a connection: TLS on `SSL` listeners
//! (`tls`) and the principal a client certificate maps to (`principal`),
//! with Kafka's config names and semantics.

pub mod principal;
pub mod tls;
