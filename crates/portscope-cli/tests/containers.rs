//! Real podman containers (Debian's podman and runc; the image imported
//! from a rootfs of Debian's busybox-static built here, no registry): two
//! named containers, one publishing 127.0.0.1:P:8080. Their inner
//! listeners are listed in their own namespaces with the container's name,
//! image and the inner process; `-N` and the `container` filter select
//! them. A slow suite: `cargo test --test containers -- --ignored`.

mod common;

use std::process::Command;

use serde_json::Value;

const FLAGS: [&str; 4] = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];

fn podman(args: &[&str]) -> std::process::Output {
    Command::new("podman")
        .args(FLAGS)
        .args(args)
        .output()
        .expect("podman is needed (Debian packages podman and runc)")
}

fn ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The containers and the image, removed on drop (even when a test fails).
struct Pod {
    names: Vec<String>,
    image: String,
    dir: std::path::PathBuf,
}

impl Drop for Pod {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = podman(&["rm", "-f", "-t", "0", n]);
        }
        let _ = podman(&["rmi", "-f", &self.image]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(tag: &str, port: u16) -> Pod {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("busybox-static is needed (Debian package busybox-static)");
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("psct-{tag}-{id}"));
    let bin = dir.join("rootfs/bin");
    std::fs::create_dir_all(&bin).expect("rootfs");
    std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
    let tar = dir.join("rootfs.tar");
    let st = Command::new("tar")
        .args(["-C"])
        .arg(dir.join("rootfs"))
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success());
    let image = format!("localhost/psct-{tag}-{id}");
    let mut pod = Pod {
        names: Vec::new(),
        image: image.clone(),
        dir,
    };
    ok(&["import", &tar.to_string_lossy(), &image]);
    let limits = [
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
    ];
    let web = format!("psct-web-{id}");
    let publish = format!("127.0.0.1:{port}:8080");
    let mut args = vec!["run", "-d", "--name", &web];
    args.extend(limits);
    args.extend([
        "-p",
        &publish,
        &image,
        "/bin/busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
    ]);
    ok(&args);
    pod.names.push(web);
    let side = format!("psct-side-{id}");
    let mut args = vec!["run", "-d", "--name", &side];
    args.extend(limits);
    args.extend([&image[..], "/bin/busybox", "httpd", "-f", "-p", "9090"]);
    ok(&args);
    pod.names.push(side);
    pod
}

fn pid_of(name: &str) -> u64 {
    ok(&["inspect", "-f", "{{.State.Pid}}", name])
        .parse()
        .expect("pid")
}

fn listener<'a>(list: &'a [Value], port: u64, container: &str) -> Option<&'a Value> {
    list.iter().find(|s| {
        s["state"] == "LISTEN"
            && s["local"]["port"].as_u64() == Some(port)
            && s["netns"]["container"]["name"] == container
    })
}

#[test]
#[ignore = "slow: podman containers"]
fn containers_listeners_are_listed_with_their_container() {
    assert!(common::is_root(), "this suite needs root");
    let port = 18_433;
    let pod = start("a", port);
    let (web, side) = (&pod.names[0], &pod.names[1]);
    let image = format!("{}:latest", pod.image);
    // busybox may take a moment to listen.
    let mut list = Vec::new();
    for _ in 0..20 {
        list = common::json(&["-tlp"]);
        if listener(&list, 8080, web).is_some() && listener(&list, 9090, side).is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    for (name, inner) in [(web, 8080), (side, 9090)] {
        let s = listener(&list, inner, name).unwrap_or_else(|| panic!("{name}:{inner} not listed"));
        let ns = &s["netns"];
        assert_eq!(ns["host"], false);
        let pid = pid_of(name);
        let want_ns = std::fs::metadata(format!("/proc/{pid}/ns/net"))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .expect("container netns");
        assert_eq!(ns["inode"].as_u64(), Some(want_ns));
        assert_eq!(ns["container"]["runtime"], "podman");
        assert_eq!(ns["container"]["image"], image.as_str());
        // The inner process holds it, and its owner entry names the container.
        assert_eq!(common::owner_pids(s), vec![pid], "{s}");
        let owner = &s["owners"][0];
        assert_eq!(owner["container"]["name"], name.as_str());
        assert_eq!(owner["container"]["image"], image.as_str());
        assert_eq!(owner["name"], "busybox");
    }
    // The published port's host end is conmon's, in the host namespace.
    let host_end = list
        .iter()
        .find(|s| s["local"]["port"].as_u64() == Some(u64::from(port)))
        .expect("published port");
    assert_eq!(host_end["netns"]["host"], true);
    // The listing says where it goes: the container, its namespace, the
    // inner port; even when a filter leaves the inner listener out.
    let web_ns = std::fs::metadata(format!("/proc/{}/ns/net", pid_of(web)))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .expect("container netns");
    let sport = format!(":{port}");
    let narrowed = common::json(&["-tlp", "sport", "=", &sport]);
    for end in [host_end, &narrowed[0]] {
        let to = &end["forwards_to"];
        assert_eq!(to["container"]["name"], web.as_str(), "{end}");
        assert_eq!(to["port"], 8080, "{end}");
        assert_eq!(to["netns"]["inode"].as_u64(), Some(web_ns), "{end}");
        assert!(to["addr"].is_string(), "{end}");
    }
    let out = common::portscope()
        .args(["-tlp", "sport", "=", &sport])
        .output()
        .expect("run the listing");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("→ {web}:8080")), "{text}");
    // An ordinary listener forwards nowhere.
    assert!(
        list.iter()
            .filter(|s| s["netns"]["host"] == false)
            .all(|s| s.get("forwards_to").is_none())
    );

    // who P names the container and the inner process, and the forwarder.
    let web_pid = pid_of(web);
    let out = common::portscope()
        .args(["who", &port.to_string()])
        .output()
        .expect("run who");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("container {web} (podman, image {image})")),
        "{text}"
    );
    assert!(first.contains(&format!("busybox[{web_pid}] ")), "{text}");
    assert!(first.contains(":8080"), "{text}");
    assert!(first.contains("forwarded by conmon["), "{text}");
    let out = common::portscope()
        .args(["who", &port.to_string(), "--json"])
        .output()
        .expect("run who --json");
    let blocks: Value = serde_json::from_slice(&out.stdout).expect("who JSON");
    let conmon = blocks
        .as_array()
        .and_then(|b| b.iter().find(|b| b["name"] == "conmon"))
        .expect("conmon's block");
    let fwd = &conmon["forwarded_to"];
    assert_eq!(fwd["container"]["name"], web.as_str());
    assert_eq!(fwd["inner"][0]["local"]["port"], 8080);
    assert_eq!(common::owner_pids(&fwd["inner"][0]), vec![web_pid]);

    // pid N shows the container the process runs in.
    let out = common::portscope()
        .args(["pid", &web_pid.to_string(), "--json", "--interval", "0"])
        .output()
        .expect("run pid --json");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reports: Value = serde_json::from_slice(&out.stdout).expect("pid JSON");
    assert_eq!(reports[0]["container"]["name"], web.as_str(), "{reports}");
    assert_eq!(reports[0]["container"]["runtime"], "podman");
    assert_eq!(reports[0]["container"]["image"], image.as_str());
    let out = common::portscope()
        .args(["pid", &web_pid.to_string(), "--interval", "0"])
        .output()
        .expect("run pid");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("container {web} (podman, ")),
        "{text}"
    );

    // -N NAME and the container filter select one container.
    for args in [
        vec!["-tl", "-N", web.as_str()],
        vec!["-tl", "container", web.as_str()],
    ] {
        let only = common::json(&args);
        assert!(!only.is_empty(), "{args:?}");
        assert!(
            only.iter()
                .all(|s| s["netns"]["container"]["name"] == web.as_str()),
            "{args:?}: {only:?}"
        );
    }
}
