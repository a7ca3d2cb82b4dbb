//! Starting the real `weir` binary: a bad config stops it with a message that
//! names the key; SIGTERM shuts it down cleanly.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn serve_with(config: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weir.toml");
    std::fs::write(&path, config).unwrap();
    Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(["serve", "--config", path.to_str().unwrap()])
        .output()
        .unwrap()
}

#[test]
fn unknown_keys_and_bad_values_stop_the_start_naming_the_key() {
    for (config, key) in [
        ("log.segmnt.bytes = 100\n", "log.segmnt.bytes"),
        ("num.partitions = -3\n", "num.partitions"),
        (
            "listeners = \"PLAINTEXT://127.0.0.1:notaport\"\n",
            "listeners",
        ),
        (
            "auto.create.topics.enable = \"perhaps\"\n",
            "auto.create.topics.enable",
        ),
        ("log.dirs = \n", "weir.toml"),
    ] {
        let out = serve_with(config);
        assert!(!out.status.success(), "{config} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "{config}: {stderr}");
    }
}

#[test]
fn sigterm_shuts_down_cleanly_and_leaves_the_marker() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args([
            "serve",
            "--set",
            &format!("listeners=PLAINTEXT://127.0.0.1:{port}"),
        ])
        .args(["--set", &format!("log.dirs={}", data.display())])
        .args(["--set", "weir.admin.listener=127.0.0.1:0"])
        .args(["--set", "schema.registry.listener=127.0.0.1:0"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "weir did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !data.join(".kafka_cleanshutdown").exists(),
        "the marker is removed while running"
    );
    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(data.join(".kafka_cleanshutdown").exists());
    assert!(data.join("recovery-point-offset-checkpoint").exists());
    assert!(data
        .join("__cluster_metadata")
        .join("commands.log")
        .exists());
}
