//! `weir-bench --connections N`: what an idle connection costs the broker.
//! Spawns a broker, opens N connections that each complete one ApiVersions
//! request (so the connection is fully set up) and then stay idle, and
//! reports the broker's resident memory before, with them open, and after
//! they close: the difference over N is the per-connection footprint.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{Args, Broker};

/// ApiVersions v0, correlation id 1, no client id.
const API_VERSIONS: [u8; 14] = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff];

fn api_versions(stream: &mut TcpStream) -> Result<()> {
    stream.write_all(&API_VERSIONS)?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size)?;
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    stream.read_exact(&mut body)?;
    Ok(())
}

pub fn run(weir: &PathBuf, args: &Args) -> Result<()> {
    let count = args.connections;
    let broker = Broker::spawn(weir, "disk", None, false, &[])?;
    std::thread::sleep(Duration::from_millis(500));
    let (base, _) = broker.rss_mib();
    let mut open = Vec::with_capacity(count);
    for n in 0..count {
        let mut stream = TcpStream::connect(&broker.bootstrap)
            .with_context(|| format!("connection {n} (raise the open files limit?)"))?;
        api_versions(&mut stream)?;
        open.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let (loaded, _) = broker.rss_mib();
    drop(open);
    std::thread::sleep(Duration::from_secs(10));
    let (after, _) = broker.rss_mib();
    println!(
        "{count} idle connections: broker RSS {base:.1} MiB before, {loaded:.1} MiB with them open ({:.1} KiB each), {after:.1} MiB 10 s after they closed",
        (loaded - base) * 1024.0 / count as f64
    );
    Ok(())
}
