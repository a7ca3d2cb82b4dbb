//! `--schemas`: produce throughput with broker-side schema validation off
//! and on, for Avro (framing and ids only, then the standard `avro`
//! serializer), JSON Schema (`json-schema`) and Protobuf (`protobuf`);
//! then the built-in registry's lookups per second. Each case gets a fresh
//! broker (with its registry on a free port), the format's schema
//! `{id: long, body: string}` registered as `bench-value`, and
//! Confluent-framed values of about `--size` bytes. Last, a consumer reads
//! the Avro topic as stored and through its JSON view (`bench~json`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use crate::{consume_topic, create_topic, produce, Args, Broker};

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Avro,
    Json,
    Protobuf,
}

struct Case {
    name: &'static str,
    format: Format,
    configs: &'static [(&'static str, &'static str)],
}

const ON: (&str, &str) = ("weir.value.schema.validation", "true");

const CASES: &[Case] = &[
    Case {
        name: "Avro, validation off",
        format: Format::Avro,
        configs: &[],
    },
    Case {
        name: "Avro, framing and schema ids only",
        format: Format::Avro,
        configs: &[ON],
    },
    Case {
        name: "Avro, avro serializer",
        format: Format::Avro,
        configs: &[ON, ("weir.value.serializer", "avro")],
    },
    Case {
        name: "JSON, validation off",
        format: Format::Json,
        configs: &[],
    },
    Case {
        name: "JSON, json-schema serializer",
        format: Format::Json,
        configs: &[ON, ("weir.value.serializer", "json-schema")],
    },
    Case {
        name: "Protobuf, validation off",
        format: Format::Protobuf,
        configs: &[],
    },
    Case {
        name: "Protobuf, protobuf serializer",
        format: Format::Protobuf,
        configs: &[ON, ("weir.value.serializer", "protobuf")],
    },
];

/// The bench schema of each format: `{id: long, body: string}`.
fn schema(format: Format) -> String {
    match format {
        Format::Avro => format!(
            "{{\"schema\":{}}}",
            serde_quote(
                r#"{"type":"record","name":"Bench","fields":[{"name":"id","type":"long"},{"name":"body","type":"string"}]}"#
            )
        ),
        Format::Json => format!(
            "{{\"schemaType\":\"JSON\",\"schema\":{}}}",
            serde_quote(
                r#"{"type":"object","properties":{"id":{"type":"integer"},"body":{"type":"string"}},"required":["id","body"]}"#
            )
        ),
        Format::Protobuf => format!(
            "{{\"schemaType\":\"PROTOBUF\",\"schema\":{}}}",
            serde_quote("syntax = \"proto3\";\nmessage Bench { int64 id = 1; string body = 2; }")
        ),
    }
}

/// One HTTP/1.1 exchange on a kept-alive connection: (status, body).
fn http(
    conn: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String)> {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.get_mut().write_all(request.as_bytes())?;
    let mut line = String::new();
    conn.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .context("an HTTP status line")?
        .parse()?;
    let mut length = 0;
    loop {
        line.clear();
        conn.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            }
        }
    }
    let mut answer = vec![0; length];
    conn.read_exact(&mut answer)?;
    Ok((status, String::from_utf8_lossy(&answer).into_owned()))
}

/// Connects to the registry, which listens a moment after the broker.
fn connect(registry: &str) -> Result<BufReader<TcpStream>> {
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match TcpStream::connect(registry) {
            Ok(stream) => return Ok(BufReader::new(stream)),
            Err(e) if Instant::now() > deadline => return Err(e.into()),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

/// Registers the bench schema; its id.
fn register(registry: &str, format: Format) -> Result<i32> {
    let body = schema(format);
    let (status, answer) = http(
        &mut connect(registry)?,
        "POST",
        "/subjects/bench-value/versions",
        &body,
    )?;
    if status != 200 {
        bail!("registering the bench schema: {status} {answer}");
    }
    let id = answer
        .trim_matches(|c| c == '{' || c == '}')
        .split(':')
        .nth(1)
        .context("an id")?
        .trim()
        .parse()?;
    Ok(id)
}

/// `s` as a JSON string.
fn serde_quote(s: &str) -> String {
    format!(
        "\"{}\"",
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}

fn varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn zigzag(n: i64, out: &mut Vec<u8>) {
    varint(((n << 1) ^ (n >> 63)) as u64, out);
}

/// Two framed values of about `size` bytes in `format`.
fn values(format: Format, id: i32, size: usize) -> Vec<Vec<u8>> {
    (0..2)
        .map(|n| {
            let mut value = vec![0];
            value.extend_from_slice(&id.to_be_bytes());
            let body_len = size.saturating_sub(value.len() + 16).max(1);
            let body: Vec<u8> = crate::payload(body_len)
                .iter()
                .map(|b| b'a' + b % 26)
                .collect();
            match format {
                Format::Avro => {
                    zigzag(n, &mut value);
                    zigzag(body.len() as i64, &mut value);
                    value.extend_from_slice(&body);
                }
                Format::Json => {
                    value.extend_from_slice(format!("{{\"id\":{n},\"body\":\"").as_bytes());
                    value.extend_from_slice(&body);
                    value.extend_from_slice(b"\"}");
                }
                Format::Protobuf => {
                    value.push(0); // message indexes: the first message
                    value.push(0x08); // field 1, varint
                    varint(n as u64, &mut value);
                    value.push(0x12); // field 2, length-delimited
                    varint(body.len() as u64, &mut value);
                    value.extend_from_slice(&body);
                }
            }
            value
        })
        .collect()
}

/// A fresh broker with its registry on a free port, and that registry's
/// address.
fn spawn(weir: &PathBuf, args: &Args, config: &Path) -> Result<(Broker, String)> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let registry = format!("127.0.0.1:{port}");
    let broker = Broker::spawn_with(
        weir,
        "disk",
        args.data_dir.as_ref(),
        args.pin,
        &[format!("schema.registry.listener={registry}")],
        Some(config),
    )?;
    Ok((broker, registry))
}

fn run_case(weir: &PathBuf, args: &Args, config: &Path, case: &Case) -> Result<f64> {
    let (broker, registry) = spawn(weir, args, config)?;
    let id = register(&registry, case.format)?;
    create_topic(&broker.bootstrap, args, case.configs)?;
    let values = values(case.format, id, args.size);
    let produced = produce(&broker.bootstrap, args, &values, &[])?;
    let bytes = (args.records * values[0].len()) as f64;
    Ok(bytes / produced.seconds / 1e6)
}

/// Reading the Avro topic as stored, then through its JSON view: records
/// per second and MB/s delivered, each.
fn views(weir: &PathBuf, args: &Args, config: &Path) -> Result<[(f64, f64); 2]> {
    let (broker, registry) = spawn(weir, args, config)?;
    let id = register(&registry, Format::Avro)?;
    create_topic(
        &broker.bootstrap,
        args,
        &[("weir.value.serializer", "avro")],
    )?;
    let values = values(Format::Avro, id, args.size);
    produce(&broker.bootstrap, args, &values, &[])?;
    let mut rates = [(0.0, 0.0); 2];
    for (rate, topic) in rates.iter_mut().zip(["bench", "bench~json"]) {
        let read = consume_topic(&broker.bootstrap, topic, args.partitions, args.records)?;
        if read.records < args.records {
            bail!("{topic}: read {} of {} records", read.records, args.records);
        }
        *rate = (
            read.records as f64 / read.seconds,
            read.bytes as f64 / read.seconds / 1e6,
        );
    }
    Ok(rates)
}

/// Lookups per second on one kept-alive connection.
fn lookups(weir: &PathBuf, args: &Args, config: &Path) -> Result<(f64, f64)> {
    let (_broker, registry) = spawn(weir, args, config)?;
    let id = register(&registry, Format::Avro)?;
    let mut conn = connect(&registry)?;
    let mut rate = |path: &str| -> Result<f64> {
        let n = 20_000;
        let started = Instant::now();
        for _ in 0..n {
            let (status, _) = http(&mut conn, "GET", path, "")?;
            if status != 200 {
                bail!("GET {path}: {status}");
            }
        }
        Ok(n as f64 / started.elapsed().as_secs_f64())
    };
    Ok((
        rate(&format!("/schemas/ids/{id}"))?,
        rate("/subjects/bench-value/versions/latest")?,
    ))
}

pub fn run(weir: &PathBuf, args: &Args) -> Result<()> {
    let plugin_dir = args
        .plugin_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("target/wasm32-wasip2/release"));
    let plugin_dir = plugin_dir
        .canonicalize()
        .with_context(|| format!("{} (build the plugins first)", plugin_dir.display()))?;
    let config = tempfile::NamedTempFile::new()?;
    std::fs::write(
        config.path(),
        [
            ("avro", "avro.wasm"),
            ("json-schema", "json_schema.wasm"),
            ("protobuf", "protobuf.wasm"),
        ]
        .iter()
        .map(|(name, file)| {
            format!(
                "[[plugins]]\nname = \"{name}\"\npath = \"{}\"\nkind = \"serializer\"\n\n",
                plugin_dir.join(file).display()
            )
        })
        .collect::<String>(),
    )?;
    let mut results: Vec<Vec<f64>> = CASES.iter().map(|_| Vec::new()).collect();
    for round in 0..args.repeat {
        for (case, out) in CASES.iter().zip(&mut results) {
            let mb_s = run_case(weir, args, config.path(), case)?;
            println!(
                "round {}: {:<42} produce {mb_s:>6.1} MB/s",
                round + 1,
                case.name
            );
            out.push(mb_s);
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "\n-- medians over {} round(s), {}-byte values",
        args.repeat, args.size
    );
    println!("| case | produce MB/s | of the format's off |");
    println!("|---|---|---|");
    let mut base = 0.0;
    for (case, r) in CASES.iter().zip(&results) {
        let m = median(r);
        if case.configs.is_empty() {
            base = m;
        }
        println!("| {} | {m:.1} | {:.0}% |", case.name, m / base * 100.0);
    }
    let mut reads: Vec<[(f64, f64); 2]> = Vec::new();
    for round in 0..args.repeat {
        let r = views(weir, args, config.path())?;
        println!(
            "round {}: fetch as stored {:.0} records/s {:.1} MB/s; through bench~json {:.0} records/s {:.1} MB/s",
            round + 1,
            r[0].0,
            r[0].1,
            r[1].0,
            r[1].1
        );
        reads.push(r);
    }
    println!("\n| fetch (one consumer) | records/s | MB/s delivered |");
    println!("|---|---|---|");
    for (i, name) in ["Avro as stored", "through the JSON view"]
        .iter()
        .enumerate()
    {
        let records: Vec<f64> = reads.iter().map(|r| r[i].0).collect();
        let mb: Vec<f64> = reads.iter().map(|r| r[i].1).collect();
        println!("| {name} | {:.0} | {:.1} |", median(&records), median(&mb));
    }
    let (by_id, latest) = lookups(weir, args, config.path())?;
    println!("\nregistry lookups, one connection: GET /schemas/ids/ID {by_id:.0}/s, GET /subjects/S/versions/latest {latest:.0}/s");
    Ok(())
}
