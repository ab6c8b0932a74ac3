//! `resolve-bench N`: reverse-resolves 10.77.0.1 … (N addresses; never
//! contacted, only looked up; not loopback, which hickory answers itself) through
//! the system's resolv.conf, once with portscope's getnameinfo pool and once
//! with hickory-resolver (32 lookups in flight, like the pool), each cold
//! (a fresh resolver) and then again warm (its own cache), and prints the
//! wall time of each and how many names came back.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use portscope::resolve::{Hosts, Resolver};

fn addrs(n: u32) -> Vec<IpAddr> {
    (0..n)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 77, (i / 250) as u8, (i % 250 + 1) as u8)))
        .collect()
}

fn pool(list: &[IpAddr]) -> (Duration, Duration, usize) {
    let r = Resolver::with(Hosts::default(), portscope::resolve::getnameinfo);
    let t = Instant::now();
    let got = r.reverse_all(list.iter().copied(), Instant::now() + Duration::from_secs(60));
    let cold = t.elapsed();
    if got.names.is_empty() {
        eprintln!(
            "pool: no names; {} pending; getnameinfo({}) = {:?}",
            got.pending.len(),
            list[0],
            portscope::resolve::getnameinfo(list[0])
        );
    }
    let t = Instant::now();
    let _ = r.reverse_all(list.iter().copied(), Instant::now() + Duration::from_secs(60));
    (cold, t.elapsed(), got.names.len())
}

fn hickory(list: &[IpAddr]) -> (Duration, Duration, usize) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let r = Arc::new(
            hickory_resolver::Resolver::builder_tokio()
                .expect("system configuration")
                .build()
                .expect("a resolver"),
        );
        let run = |r: Arc<hickory_resolver::TokioResolver>| async move {
            let sem = Arc::new(tokio::sync::Semaphore::new(32));
            let mut tasks = Vec::new();
            for &a in list {
                let r = Arc::clone(&r);
                let sem = Arc::clone(&sem);
                tasks.push(tokio::spawn(async move {
                    let _p = sem.acquire().await;
                    r.reverse_lookup(a).await.is_ok()
                }));
            }
            let mut ok = 0;
            for t in tasks {
                if t.await.unwrap_or(false) {
                    ok += 1;
                }
            }
            ok
        };
        let t = Instant::now();
        let ok = run(Arc::clone(&r)).await;
        let cold = t.elapsed();
        let t = Instant::now();
        let _ = run(Arc::clone(&r)).await;
        (cold, t.elapsed(), ok)
    })
}

fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let list = addrs(n);
    for round in 0..3 {
        let (pc, pw, pn) = pool(&list);
        let (hc, hw, hn) = hickory(&list);
        println!(
            "round {round}: n={n} getnameinfo-pool cold {:.1} ms warm {:.3} ms ({pn} names) | hickory cold {:.1} ms warm {:.3} ms ({hn} names)",
            pc.as_secs_f64() * 1e3,
            pw.as_secs_f64() * 1e3,
            hc.as_secs_f64() * 1e3,
            hw.as_secs_f64() * 1e3
        );
    }
}
