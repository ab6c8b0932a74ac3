//! A 5k-socket population (bench/population.py): the listing is complete,
//! every socket the population made appears once, with its owner. Not timed.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

struct Population {
    info: Value,
}

impl Drop for Population {
    fn drop(&mut self) {
        if let Some(pgid) = self.info["pgid"].as_i64() {
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{pgid}")])
                .status();
        }
    }
}

fn start(connections: u32) -> Population {
    let ready = std::env::temp_dir().join(format!("portscope-scale-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&ready);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/population.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(["--connections", &connections.to_string(), "--idle", "20"])
        .arg("--ready-file")
        .arg(&ready)
        .args(["--max-lifetime", "300"])
        .stdout(Stdio::null())
        .spawn()
        .expect("python3");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready)
            && let Ok(info) = serde_json::from_str::<Value>(&text)
        {
            let _ = std::fs::remove_file(&ready);
            // The population runs on in its own process group.
            std::thread::spawn(move || child.wait());
            return Population { info };
        }
        assert!(Instant::now() < deadline, "population did not come up");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("population exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn five_thousand_sockets_all_listed_with_owners() {
    // The whole table is checked below (no row padded wide): alone in a
    // namespace, its rows are the population's, whatever else the host runs.
    // The population, spawned from this thread, lives in the namespace too.
    let _ns = netns();
    let pop = start(2500);
    let ports: HashSet<u64> = pop.info["listener_ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    let workers: HashSet<u64> = pop.info["worker_pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    let expected = pop.info["tcp_established_sockets"].as_u64().unwrap();
    assert_eq!(expected, 5000);

    for source in ["netlink", "procfs"] {
        let list = json(&["-tanp", "--source", source]);
        let ours: Vec<&Value> = list
            .iter()
            .filter(|s| {
                s["state"] == "ESTABLISHED"
                    && (ports.contains(&s["local"]["port"].as_u64().unwrap())
                        || ports.contains(&s["remote"]["port"].as_u64().unwrap()))
            })
            .collect();
        assert_eq!(ours.len() as u64, expected, "{source}: established sockets");
        let mut seen = HashMap::new();
        for s in &ours {
            let inode = s["inode"].as_u64().unwrap();
            assert!(
                seen.insert(inode, ()).is_none(),
                "{source}: inode {inode} listed twice"
            );
            let pids = owner_pids(s);
            assert_eq!(pids.len(), 1, "{source}: {s}");
            assert!(
                workers.contains(&pids[0]),
                "{source}: owner {pids:?} is not a worker"
            );
        }
        // The shared listeners: held by the main process and every worker.
        for port in &ports {
            let l = list
                .iter()
                .find(|s| s["state"] == "LISTEN" && s["local"]["port"] == *port)
                .unwrap_or_else(|| panic!("{source}: listener {port} missing"));
            let pids = owner_pids(l);
            assert!(
                workers.iter().all(|w| pids.contains(w)),
                "{source}: {pids:?}"
            );
        }
    }
    // And the table is complete too, one line per socket, none padded wide.
    let out = portscope().args(["-tanp"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = text
        .lines()
        .filter(|l| {
            ports.iter().any(|p| l.contains(&format!("127.0.0.1:{p} ")))
                && l.contains("ESTABLISHED")
        })
        .count();
    assert_eq!(rows as u64, expected);
    assert!(text.lines().all(|l| l.len() < 200));
}
