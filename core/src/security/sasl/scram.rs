//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side,
//! as Kafka runs it: credentials are salted keys kept in the metadata log
//! (`ScramCredential`, set with AlterUserScramCredentials), never passwords;
//! no channel binding; Kafka's iteration bounds (4096 to 16384).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::Step;
use crate::metadata::command::ScramCredential;
use crate::security::constant_time_eq;

/// Kafka's bounds on a credential's iteration count.
pub const MIN_ITERATIONS: i32 = 4096;
pub const MAX_ITERATIONS: i32 = 16384;
/// The server's part of the nonce: 24 random bytes, in hex.
const SERVER_NONCE_CHARS: usize = 48;

/// The hash a SCRAM mechanism is named for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    /// The mechanism's number in Describe/AlterUserScramCredentials.
    pub fn from_type(t: i8) -> Option<Hash> {
        match t {
            1 => Some(Hash::Sha256),
            2 => Some(Hash::Sha512),
            _ => None,
        }
    }

    pub fn type_id(self) -> i8 {
        match self {
            Hash::Sha256 => 1,
            Hash::Sha512 => 2,
        }
    }

    pub fn mechanism(self) -> &'static str {
        match self {
            Hash::Sha256 => "SCRAM-SHA-256",
            Hash::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => {
                let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Hash::Sha512 => {
                let mut mac = Hmac::<Sha512>::new_from_slice(key).expect("HMAC takes any key");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// The credential kept for a salted password (what a client sends in
    /// AlterUserScramCredentials): StoredKey and ServerKey, never the
    /// password or the salted password itself.
    pub fn credential(
        self,
        salt: &[u8],
        salted_password: &[u8],
        iterations: i32,
    ) -> ScramCredential {
        let client_key = self.hmac(salted_password, b"Client Key");
        ScramCredential {
            salt: BASE64.encode(salt),
            stored_key: BASE64.encode(self.digest(&client_key)),
            server_key: BASE64.encode(self.hmac(salted_password, b"Server Key")),
            iterations,
        }
    }

    /// Hi() of RFC 5802 (PBKDF2 with this HMAC): what a client computes
    /// from a password. The broker itself only uses it in tests.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: i32) -> Vec<u8> {
        let mut first = salt.to_vec();
        first.extend_from_slice(&1u32.to_be_bytes());
        let mut u = self.hmac(password, &first);
        let mut out = u.clone();
        for _ in 1..iterations {
            u = self.hmac(password, &u);
            out.iter_mut().zip(&u).for_each(|(o, x)| *o ^= x);
        }
        out
    }
}

/// One SCRAM exchange: client-first, then client-final.
pub struct Exchange {
    hash: Hash,
    state: State,
}

enum State {
    Start,
    /// The server-first message has been sent.
    Challenged {
        user: String,
        credential: ScramCredential,
        client_first_bare: String,
        server_first: String,
        nonce: String,
    },
    Over,
}

impl Exchange {
    pub fn new(hash: Hash) -> Exchange {
        Exchange {
            hash,
            state: State::Start,
        }
    }

    /// One client message. `lookup` finds a user's credential for this
    /// mechanism.
    pub fn step(&mut self, input: &[u8], lookup: &dyn Fn(&str) -> Option<ScramCredential>) -> Step {
        let result = match std::mem::replace(&mut self.state, State::Over) {
            State::Start => self.client_first(input, lookup),
            State::Challenged {
                user,
                credential,
                client_first_bare,
                server_first,
                nonce,
            } => self.client_final(
                input,
                &user,
                &credential,
                &client_first_bare,
                &server_first,
                &nonce,
            ),
            State::Over => Err("the SCRAM exchange is over".into()),
        };
        result.unwrap_or_else(Step::Failed)
    }

    fn client_first(
        &mut self,
        input: &[u8],
        lookup: &dyn Fn(&str) -> Option<ScramCredential>,
    ) -> Result<Step, String> {
        let text = std::str::from_utf8(input).map_err(|_| "client-first message is not UTF-8")?;
        let (authzid, bare) = gs2_header(text)?;
        let mut fields = bare.split(',');
        let user = match fields.next() {
            Some(f) if f.starts_with("m=") => {
                return Err("mandatory SCRAM extensions are not supported".into())
            }
            Some(f) => unescape(f.strip_prefix("n=").ok_or("client-first lacks n=")?)?,
            None => return Err("empty client-first message".into()),
        };
        let client_nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','))
            .ok_or("client-first lacks a valid nonce r=")?;
        for extension in fields {
            if extension == "tokenauth=true" {
                return Err("delegation tokens are not supported".into());
            }
        }
        if authzid.is_some_and(|a| a != user) {
            return Err("the authorization id differs from the user name".into());
        }
        let credential = lookup(&user).ok_or("Authentication failed: Invalid user credentials")?;
        let mut random = [0u8; SERVER_NONCE_CHARS / 2];
        getrandom::fill(&mut random).map_err(|e| format!("no randomness for a nonce: {e}"))?;
        // Alphanumeric, as Kafka's: librdkafka 2.0 (Debian's kcat) mangles
        // a server nonce holding base64's '+' or '/'.
        let server_nonce: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            credential.salt, credential.iterations
        );
        self.state = State::Challenged {
            user,
            credential,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
        };
        Ok(Step::Challenge(server_first.into_bytes()))
    }

    fn client_final(
        &self,
        input: &[u8],
        user: &str,
        credential: &ScramCredential,
        client_first_bare: &str,
        server_first: &str,
        nonce: &str,
    ) -> Result<Step, String> {
        let text = std::str::from_utf8(input).map_err(|_| "client-final message is not UTF-8")?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or("client-final lacks a proof p=")?;
        let mut fields = without_proof.split(',');
        let binding = fields.next().and_then(|f| f.strip_prefix("c="));
        let binding = binding.and_then(|b| BASE64.decode(b).ok());
        // Without channel binding the client repeats its GS2 header.
        if !binding.is_some_and(|b| b.starts_with(b"n,") || b.starts_with(b"y,")) {
            return Err("channel binding is not supported".into());
        }
        // librdkafka before 2.6.1 (Debian's kcat has 2.0.2) repeats its own
        // nonce in front of the agreed one (librdkafka#4895); Kafka 3.8.1 to
        // 3.9 take that, and so does Weir. The server's part must be there.
        let echoed = fields.next().and_then(|f| f.strip_prefix("r="));
        let client_nonce = &nonce[..nonce.len() - SERVER_NONCE_CHARS];
        let agreed =
            echoed.is_some_and(|r| r == nonce || r.strip_prefix(client_nonce) == Some(nonce));
        if !agreed {
            return Err("the client-final nonce is not the one agreed".into());
        }
        let proof = BASE64
            .decode(proof)
            .map_err(|_| "the proof is not base64")?;
        let stored_key = BASE64
            .decode(&credential.stored_key)
            .map_err(|e| e.to_string())?;
        let server_key = BASE64
            .decode(&credential.server_key)
            .map_err(|e| e.to_string())?;
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = self.hash.hmac(&stored_key, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return Err("Authentication failed: Invalid user credentials".into());
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        if !constant_time_eq(&self.hash.digest(&client_key), &stored_key) {
            return Err("Authentication failed: Invalid user credentials".into());
        }
        let server_signature = self.hash.hmac(&server_key, auth_message.as_bytes());
        Ok(Step::Done {
            principal: format!("User:{user}"),
            answer: format!("v={}", BASE64.encode(server_signature)).into_bytes(),
            expires_at_ms: None,
        })
    }
}

/// The GS2 header's authorization id (if any) and the rest of the message.
fn gs2_header(text: &str) -> Result<(Option<String>, &str), String> {
    let (flag, rest) = text
        .split_once(',')
        .ok_or("client-first lacks a GS2 header")?;
    if flag.starts_with("p=") {
        return Err("channel binding is not supported".into());
    }
    if flag != "n" && flag != "y" {
        return Err("client-first has an invalid GS2 header".into());
    }
    let (authzid, bare) = rest
        .split_once(',')
        .ok_or("client-first lacks a GS2 header")?;
    let authzid = match authzid {
        "" => None,
        a => Some(unescape(
            a.strip_prefix("a=").ok_or("invalid authorization id")?,
        )?),
    };
    Ok((authzid, bare))
}

/// A saslname: `=2C` is ',' and `=3D` is '='; any other '=' is an error.
fn unescape(name: &str) -> Result<String, String> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('=') {
        out.push_str(&rest[..at]);
        match rest.get(at..at + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err("invalid escape in a SCRAM user name".into()),
        }
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err("empty SCRAM user name".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client's side of the exchange, as RFC 5802 describes it.
    fn client_final(
        hash: Hash,
        password: &str,
        client_first_bare: &str,
        server_first: &str,
    ) -> String {
        let nonce = server_first
            .split(',')
            .next()
            .unwrap()
            .strip_prefix("r=")
            .unwrap();
        client_final_echoing(hash, password, client_first_bare, server_first, nonce)
    }

    /// A client-final message echoing `nonce`, signed as the client would.
    fn client_final_echoing(
        hash: Hash,
        password: &str,
        client_first_bare: &str,
        server_first: &str,
        nonce: &str,
    ) -> String {
        let fields: Vec<&str> = server_first.split(',').collect();
        let salt = BASE64
            .decode(fields[1].strip_prefix("s=").unwrap())
            .unwrap();
        let iterations: i32 = fields[2].strip_prefix("i=").unwrap().parse().unwrap();
        let salted = hash.salted_password(password.as_bytes(), &salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        let stored_key = hash.digest(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hash.hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        format!("{without_proof},p={}", BASE64.encode(proof))
    }

    fn run(hash: Hash, stored_password: &str, password: &str, user: &str) -> Step {
        let salt = b"salt of the earth";
        let salted = hash.salted_password(stored_password.as_bytes(), salt, 4096);
        let credential = hash.credential(salt, &salted, 4096);
        let lookup = move |u: &str| (u == "alice").then(|| credential.clone());
        let mut exchange = Exchange::new(hash);
        let bare = format!("n={user},r=fyko+d2lbbFgONRv9qkxdawL");
        let Step::Challenge(server_first) = exchange.step(format!("n,,{bare}").as_bytes(), &lookup)
        else {
            return Step::Failed("no challenge".into());
        };
        let server_first = String::from_utf8(server_first).unwrap();
        assert!(server_first.starts_with("r=fyko+d2lbbFgONRv9qkxdawL"));
        let last = client_final(hash, password, &bare, &server_first);
        exchange.step(last.as_bytes(), &lookup)
    }

    #[test]
    fn the_right_password_authenticates_and_the_server_proves_it_knows_the_key() {
        for hash in [Hash::Sha256, Hash::Sha512] {
            match run(hash, "secret", "secret", "alice") {
                Step::Done {
                    principal, answer, ..
                } => {
                    assert_eq!(principal, "User:alice");
                    assert!(answer.starts_with(b"v="));
                }
                _ => panic!("{hash:?} did not authenticate"),
            }
        }
    }

    #[test]
    fn old_librdkafka_repeating_its_nonce_is_taken_and_a_wrong_nonce_is_not() {
        let hash = Hash::Sha256;
        let salt = b"salt";
        let credential = hash.credential(salt, &hash.salted_password(b"pw", salt, 4096), 4096);
        let lookup = move |_: &str| Some(credential.clone());
        for (echo, accepted) in [("repeat", true), ("other", false)] {
            let mut exchange = Exchange::new(hash);
            let bare = "n=alice,r=abc";
            let Step::Challenge(first) = exchange.step(format!("n,,{bare}").as_bytes(), &lookup)
            else {
                panic!("no challenge");
            };
            let first = String::from_utf8(first).unwrap();
            let nonce = first
                .split(',')
                .next()
                .unwrap()
                .strip_prefix("r=")
                .unwrap()
                .to_string();
            let sent = if echo == "repeat" {
                format!("abc{nonce}")
            } else {
                format!("{nonce}x")
            };
            let last = client_final_echoing(hash, "pw", bare, &first, &sent);
            let step = exchange.step(last.as_bytes(), &lookup);
            assert_eq!(
                matches!(step, Step::Done { .. }),
                accepted,
                "{echo}: {step:?}"
            );
        }
    }

    #[test]
    fn a_wrong_password_or_unknown_user_fails() {
        assert!(matches!(
            run(Hash::Sha256, "secret", "guess", "alice"),
            Step::Failed(_)
        ));
        assert!(matches!(
            run(Hash::Sha512, "secret", "secret", "mallory"),
            Step::Failed(_)
        ));
    }

    #[test]
    fn rfc7677_test_vector_salted_password() {
        // RFC 7677 section 3: user "user", password "pencil".
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let salted = Hash::Sha256.salted_password(b"pencil", &salt, 4096);
        let credential = Hash::Sha256.credential(&salt, &salted, 4096);
        let bare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let without_proof = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let auth_message = format!("{bare},{server_first},{without_proof}");
        let server_key = BASE64.decode(&credential.server_key).unwrap();
        let signature = Hash::Sha256.hmac(&server_key, auth_message.as_bytes());
        assert_eq!(
            BASE64.encode(signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn malformed_messages_fail_without_panicking() {
        let lookup = |_: &str| None;
        for input in [
            &b""[..],
            b"n",
            b"n,,",
            b"p=x,,n=a,r=b",
            b"n,,n=,r=x",
            b"n,,n=a=ZZ,r=x",
            b"\xff\xfe",
        ] {
            assert!(matches!(
                Exchange::new(Hash::Sha256).step(input, &lookup),
                Step::Failed(_)
            ));
        }
    }
}
