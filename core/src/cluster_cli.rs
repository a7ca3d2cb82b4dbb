//! `weir cluster status`: the admin endpoint's `/v1/cluster`, as a table
//! (or the JSON itself with `--json`).

use anyhow::Context;
use serde_json::Value;

pub fn status(admin: &str, as_json: bool) -> anyhow::Result<()> {
    let url = format!("{}/v1/cluster", admin.trim_end_matches('/'));
    let mut response = crate::plugin_cli::agent()?
        .get(&url)
        .call()
        .with_context(|| format!("cannot reach {url} (--admin)"))?;
    if !response.status().is_success() {
        let body = response.body_mut().read_to_string().unwrap_or_default();
        anyhow::bail!("{}: {body}", response.status());
    }
    let body = response.body_mut().read_to_string()?;
    let status: Value = serde_json::from_str(&body).context("the endpoint's answer is not JSON")?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    print!("{}", render(&status));
    Ok(())
}

fn render(status: &Value) -> String {
    let text = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let controller = &status["controller"];
    let mut out = format!(
        "cluster {}\nactive controller: {} (term {}){}\n\nbrokers:\n  {:<6}{:<24}{:<12}state\n",
        text(&status["cluster_id"]),
        text(&controller["id"]),
        text(&controller["term"]),
        if controller["reachable"] == Value::Bool(true) {
            ""
        } else {
            "  [not reachable from this node]"
        },
        "id",
        "address",
        "rack",
    );
    for b in status["brokers"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<6}{:<24}{:<12}{}\n",
            text(&b["id"]),
            format!("{}:{}", text(&b["host"]), text(&b["port"])),
            text(&b["rack"]),
            text(&b["state"]),
        ));
    }
    out.push_str(&format!("\nvoters:\n  {:<6}{:<12}lag\n", "id", "log end"));
    for v in status["voters"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<6}{:<12}{}\n",
            text(&v["id"]),
            text(&v["log_end"]),
            text(&v["lag"]),
        ));
    }
    for (title, key) in [
        ("under-replicated partitions", "under_replicated_partitions"),
        ("offline partitions", "offline_partitions"),
    ] {
        let partitions = status[key].as_array().cloned().unwrap_or_default();
        out.push_str(&format!("\n{title}: {}\n", partitions.len()));
        for p in &partitions {
            out.push_str(&format!(
                "  {}-{}  leader {}  replicas {}  isr {}\n",
                text(&p["topic"]),
                text(&p["partition"]),
                text(&p["leader"]),
                text(&p["replicas"]),
                text(&p["isr"]),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_brokers_and_voters() {
        let status = serde_json::json!({
            "cluster_id": "abc",
            "controller": {"id": 2, "term": 7, "reachable": true},
            "brokers": [{"id": 1, "host": "127.0.0.1", "port": 19092, "rack": "r1", "state": "running"}],
            "voters": [{"id": 1, "log_end": 40, "lag": 2}],
            "under_replicated_partitions": [
                {"topic": "t", "partition": 0, "leader": 1, "replicas": [1, 2], "isr": [1]}
            ],
            "offline_partitions": [],
        });
        let out = render(&status);
        assert!(out.contains("active controller: 2 (term 7)"), "{out}");
        assert!(out.contains("127.0.0.1:19092"), "{out}");
        assert!(out.contains("running"), "{out}");
        assert!(out.contains("40"), "{out}");
        assert!(out.contains("under-replicated partitions: 1"), "{out}");
        assert!(
            out.contains("t-0  leader 1  replicas [1,2]  isr [1]"),
            "{out}"
        );
        assert!(out.contains("offline partitions: 0"), "{out}");
    }
}
