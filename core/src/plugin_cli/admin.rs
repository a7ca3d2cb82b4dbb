//! `weir plugin list|deploy|remove`: the admin endpoint's plugin API from
//! the command line.

use anyhow::Context;

/// A call to the admin endpoint.
pub enum Call {
    List,
    Deploy {
        name: String,
        bytes: Vec<u8>,
        kind: Option<String>,
    },
    Remove {
        name: String,
        force: bool,
    },
}

/// Makes the call and prints the endpoint's JSON answer.
pub fn run(admin: &str, call: Call) -> anyhow::Result<()> {
    let base = admin.trim_end_matches('/');
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let (url, response) = match call {
        Call::List => {
            let url = format!("{base}/v1/plugins");
            (url.clone(), agent.get(&url).call())
        }
        Call::Deploy { name, bytes, kind } => {
            let mut url = format!("{base}/v1/plugins/{name}");
            if let Some(kind) = kind {
                url.push_str(&format!("?kind={kind}"));
            }
            (url.clone(), agent.put(&url).send(&bytes[..]))
        }
        Call::Remove { name, force } => {
            let url = format!("{base}/v1/plugins/{name}?force={force}");
            (url.clone(), agent.delete(&url).call())
        }
    };
    let mut response = response.with_context(|| format!("cannot reach {url} (--admin)"))?;
    let status = response.status();
    let body = response.body_mut().read_to_string()?;
    if !status.is_success() {
        anyhow::bail!("{status}: {body}");
    }
    match serde_json::from_str::<serde_json::Value>(&body) {
        Ok(json) => println!("{}", serde_json::to_string_pretty(&json)?),
        Err(_) => println!("{body}"),
    }
    Ok(())
}
