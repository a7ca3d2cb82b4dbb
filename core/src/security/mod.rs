//! Who is on the other end of a connection: TLS on `SSL` listeners
//! (`tls`), the principal a client certificate maps to (`principal`) and
//! SASL on `SASL_*` listeners (`sasl`), and what a principal may do
//! (`acl`), with Kafka's config names and semantics.

pub mod acl;
pub mod principal;
pub mod sasl;
pub mod tls;
