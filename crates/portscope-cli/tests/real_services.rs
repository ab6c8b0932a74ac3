//! `scan` against real daemons from Debian: each started by hand with a
//! throwaway configuration under a temporary directory, on 127.0.0.1 of a
//! network namespace this test makes (so their standard ports never meet
//! the host's), scanned from inside it by the real binary, and stopped by
//! pid when the test ends, passes or fails.
//!
//! For every daemon: the port is open, the protocol is the daemon's, and
//! product and version are what the installed package says (the Debian
//! package version is the oracle, not a string typed here), wherever the
//! daemon gives them away. No open port may be named wrong or left unnamed.
//!
//! Slow (a minute or two: PostgreSQL's initdb, MariaDB's start); run it
//! alone with
//! `cargo test -p portscope-cli --test real_services -- --ignored`.
//! The packages are in `.ci/packages/scanid.txt`.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A daemon this test started; stopped by pid on drop.
struct Daemon {
    name: &'static str,
    child: Child,
    /// A pid file the daemon writes for a process other than the one
    /// spawned (Postfix's master).
    pid_file: Option<PathBuf>,
}

fn pid_of(file: &Path) -> Option<i32> {
    fs::read_to_string(file).ok()?.trim().parse().ok()
}

fn signal(pid: i32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        use rustix::process::Signal;
        let extra = self.pid_file.as_deref().and_then(pid_of);
        let own = i32::try_from(self.child.id()).unwrap_or(0);
        // TERM first, so a master stops its workers; KILL what lingers.
        for pid in extra.into_iter().chain([own]) {
            signal(pid, Signal::TERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(pid) = extra {
            let gone = !Path::new(&format!("/proc/{pid}")).exists();
            if !gone {
                std::thread::sleep(Duration::from_millis(500));
                signal(pid, Signal::KILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The program, or a failure naming the Debian package that has it.
fn need(program: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(program);
        if p.exists() {
            return p;
        }
    }
    panic!("{program} is missing: apt-get install {package} (listed in .ci/packages/scanid.txt)");
}

/// The upstream version of an installed Debian package: `1:9.2p1-2+deb12u3`
/// gives `9.2p1`.
fn upstream(package: &str) -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", package])
        .output()
        .expect("dpkg-query");
    assert!(out.status.success(), "package {package} is not installed");
    let v = String::from_utf8(out.stdout).unwrap();
    let v = v.split_once(':').map_or(v.as_str(), |(_, r)| r);
    let v = v.rsplit_once('-').map_or(v, |(u, _)| u);
    v.split('+').next().unwrap().to_string()
}

fn spawn(name: &'static str, dir: &Path, cmd: &mut Command) -> Daemon {
    use std::os::unix::process::CommandExt;
    let log = fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    // Its own process group: smbd, stopping, signals its whole group, which
    // must not be this test's.
    let child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    Daemon {
        name,
        child,
        pid_file: None,
    }
}

/// Waits until something listens on `port` (`t` TCP, `u` UDP) in this
/// namespace, by `ss`.
fn wait_listening(d: &mut Daemon, dir: &Path, kind: char, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = Command::new("ss")
            .arg(format!("-Hln{kind}"))
            .arg(format!("sport = :{port}"))
            .output()
            .expect("ss (iproute2)");
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return;
        }
        if let Ok(Some(st)) = d.child.try_wait()
            && d.pid_file.is_none()
        {
            let log = fs::read_to_string(dir.join(format!("{}.log", d.name))).unwrap_or_default();
            panic!("{} exited ({st}) before listening on {port}: {log}", d.name);
        }
        assert!(
            Instant::now() < deadline,
            "{} not listening on {kind} {port} after 90 s: {}",
            d.name,
            fs::read_to_string(dir.join(format!("{}.log", d.name))).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
}

fn chown(path: &Path, user: &str) {
    let st = Command::new("chown")
        .args(["-R", user])
        .arg(path)
        .status()
        .unwrap();
    assert!(st.success());
}

/// What the scan must say about one port.
struct Expect {
    protocol: &'static str,
    product: Option<&'static str>,
    version: Option<String>,
}

fn ex(protocol: &'static str, product: Option<&'static str>, version: Option<String>) -> Expect {
    Expect {
        protocol,
        product,
        version,
    }
}

fn scan(args: &[&str]) -> Value {
    let out = common::portscope()
        .args(["scan", "127.0.0.1", "--json"])
        .args(args)
        .output()
        .expect("run portscope");
    assert!(
        out.status.success(),
        "scan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn check(doc: &Value, expect: &BTreeMap<u16, Expect>, state: &str) {
    let ports = doc["hosts"][0]["ports"].as_array().unwrap();
    let mut wrong = Vec::new();
    for (&port, e) in expect {
        let Some(p) = ports.iter().find(|p| p["port"] == port) else {
            wrong.push(format!("{port}: missing"));
            continue;
        };
        let got = (
            p["state"].as_str(),
            p["protocol"].as_str(),
            p["product"].as_str(),
            p["version"].as_str().map(str::to_string),
        );
        let want = (Some(state), Some(e.protocol), e.product, e.version.clone());
        if got != want {
            wrong.push(format!("{port}: got {got:?}, want {want:?}: {p}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
#[ignore = "slow: real daemons"]
fn real_daemons_are_named_with_product_and_version() {
    // Every program first, so a missing package fails before anything starts.
    let vsftpd = need("vsftpd", "vsftpd");
    let sshd = need("sshd", "openssh-server");
    let postfix = need("postfix", "postfix");
    let dnsmasq = need("dnsmasq", "dnsmasq");
    let nginx = need("nginx", "nginx-light");
    let dovecot = need("dovecot", "dovecot-imapd and dovecot-pop3d");
    let chronyd = need("chronyd", "chrony");
    let slapd = need("slapd", "slapd");
    let mariadbd = need("mariadbd", "mariadb-server");
    let redis = need("redis-server", "redis-server");
    let memcached = need("memcached", "memcached");
    let snmpd = need("snmpd", "snmpd");
    let rsync = need("rsync", "rsync");
    let mosquitto = need("mosquitto", "mosquitto");
    let nats = need("nats-server", "nats-server");
    let smbd = need("smbd", "samba");
    let setpriv = need("setpriv", "util-linux");
    let pg_bin = fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|d| {
            d.flatten()
                .map(|e| e.path().join("bin"))
                .find(|p| p.join("postgres").exists())
        })
        .unwrap_or_else(|| panic!("postgres is missing: apt-get install postgresql"));

    let _ns = common::netns();
    let tmp = TempDir::new();
    let tmp = &tmp.0;
    // Daemons that drop privileges must reach their files.
    Command::new("chmod").arg("755").arg(tmp).status().unwrap();
    let d = tmp.as_path();
    let p = |s: &str| d.join(s).display().to_string();

    // One certificate for every TLS port.
    let key =
        rcgen::generate_simple_self_signed(vec!["scan.test".into(), "127.0.0.1".into()]).unwrap();
    write(&d.join("cert.pem"), &key.cert.pem());
    write(&d.join("key.pem"), &key.signing_key.serialize_pem());
    Command::new("chmod")
        .arg("644")
        .arg(d.join("key.pem"))
        .status()
        .unwrap();

    let mut up: Vec<Daemon> = Vec::new();

    // vsftpd: anonymous FTP of an empty directory.
    fs::create_dir_all(d.join("ftp-empty")).unwrap();
    write(
        &d.join("vsftpd.conf"),
        &format!(
            "listen=YES\nlisten_address=127.0.0.1\nlisten_port=21\nbackground=NO\n\
             anonymous_enable=YES\nno_anon_password=YES\nanon_root={0}\nlocal_enable=NO\n\
             secure_chroot_dir={0}\nrun_as_launching_user=YES\n",
            p("ftp-empty")
        ),
    );
    up.push(spawn(
        "vsftpd",
        d,
        Command::new(&vsftpd).arg(d.join("vsftpd.conf")),
    ));

    // OpenSSH with a host key made here.
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(d.join("ssh_host_key"))
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(st.success());
    fs::create_dir_all("/run/sshd").unwrap();
    write(
        &d.join("sshd_config"),
        &format!(
            "Port 22\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\n",
            p("ssh_host_key"),
            p("sshd.pid")
        ),
    );
    up.push(spawn(
        "sshd",
        d,
        Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config")),
    ));

    // Postfix: its own configuration and queue directories.
    for sub in ["postfix", "postfix-queue", "postfix-data"] {
        fs::create_dir_all(d.join(sub)).unwrap();
    }
    chown(&d.join("postfix-data"), "postfix");
    let master_cf = fs::read_to_string("/usr/share/postfix/master.cf.dist")
        .expect("/usr/share/postfix/master.cf.dist (postfix)");
    // smtpd outside a chroot: the queue here holds no chroot files.
    let master_cf: String = master_cf
        .lines()
        .map(|l| {
            if l.starts_with("smtp      inet") {
                "smtp      inet  n       -       n       -       -       smtpd".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    // And SMTP inside TLS from the first byte (submissions, 465).
    let master_cf = format!(
        "{master_cf}\n465       inet  n       -       n       -       -       smtpd\n  \
         -o smtpd_tls_wrappermode=yes\n  -o smtpd_tls_security_level=encrypt\n  \
         -o smtpd_tls_cert_file={}\n  -o smtpd_tls_key_file={}\n",
        p("cert.pem"),
        p("key.pem")
    );
    write(&d.join("postfix/master.cf"), &master_cf);
    write(
        &d.join("postfix/main.cf"),
        &format!(
            "compatibility_level = 3.6\nqueue_directory = {}\ndata_directory = {}\n\
             inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\nmyhostname = scan.test\n\
             mydestination =\nmaillog_file = /dev/stdout\n",
            p("postfix-queue"),
            p("postfix-data")
        ),
    );
    let mut pf = spawn(
        "postfix",
        d,
        Command::new(&postfix)
            .arg("-c")
            .arg(d.join("postfix"))
            .arg("start-fg"),
    );
    pf.pid_file = Some(d.join("postfix-queue/pid/master.pid"));
    up.push(pf);

    // dnsmasq: DNS on 53 (TCP and UDP), DHCP on 67 (silent to us).
    up.push(spawn(
        "dnsmasq",
        d,
        Command::new(&dnsmasq).args([
            "-k",
            "--conf-file=/dev/null",
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--port=53",
            "--no-resolv",
            "--no-hosts",
            "--user=root",
            "--dhcp-range=127.0.0.50,127.0.0.60",
            &format!("--pid-file={}", p("dnsmasq.pid")),
        ]),
    ));

    // nginx: HTTP and HTTPS.
    fs::create_dir_all(d.join("nginx")).unwrap();
    let n = p("nginx");
    write(
        &d.join("nginx.conf"),
        &format!(
            "daemon off;\npid {n}/pid;\nerror_log {n}/error.log;\nevents {{}}\nhttp {{\n\
             access_log off;\nclient_body_temp_path {n}/body;\nproxy_temp_path {n}/proxy;\n\
             fastcgi_temp_path {n}/fcgi;\nuwsgi_temp_path {n}/uwsgi;\nscgi_temp_path {n}/scgi;\n\
             server {{ listen 127.0.0.1:80; location / {{ return 200 \"ok\"; }} }}\n\
             server {{ listen 127.0.0.1:443 ssl; ssl_certificate {c}; ssl_certificate_key {k};\n\
             location / {{ return 200 \"ok\"; }} }}\n}}\n",
            c = p("cert.pem"),
            k = p("key.pem")
        ),
    );
    up.push(spawn(
        "nginx",
        d,
        Command::new(&nginx)
            .arg("-c")
            .arg(d.join("nginx.conf"))
            .arg("-p")
            .arg(d.join("nginx")),
    ));

    // Dovecot: POP3, IMAP and their TLS ports.
    for sub in ["dovecot/run", "dovecot/state", "dovecot/home"] {
        fs::create_dir_all(d.join(sub)).unwrap();
    }
    let listener = |name: &str, port: u16, ssl: bool| {
        format!(
            "  inet_listener {name} {{\n    address = 127.0.0.1\n    port = {port}\n{}  }}\n",
            if ssl { "    ssl = yes\n" } else { "" }
        )
    };
    write(
        &d.join("dovecot.conf"),
        &format!(
            "protocols = imap pop3\nlisten = 127.0.0.1\nbase_dir = {}\nstate_dir = {}\n\
             log_path = /dev/stderr\nssl = yes\nssl_cert = <{}\nssl_key = <{}\n\
             default_internal_user = dovenull\ndefault_login_user = dovenull\n\
             passdb {{\n  driver = static\n  args = nopassword=n\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={}\n}}\n\
             service imap-login {{\n{}{}}}\nservice pop3-login {{\n{}{}}}\n",
            p("dovecot/run"),
            p("dovecot/state"),
            p("cert.pem"),
            p("key.pem"),
            p("dovecot/home"),
            listener("imap", 143, false),
            listener("imaps", 993, true),
            listener("pop3", 110, false),
            listener("pop3s", 995, true),
        ),
    );
    up.push(spawn(
        "dovecot",
        d,
        Command::new(&dovecot)
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot.conf")),
    ));

    // chrony: an NTP server of local stratum 8 that never sets the clock.
    write(
        &d.join("chrony.conf"),
        &format!(
            "port 123\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\ncmdport 0\n\
             pidfile {}\ndriftfile {}\n",
            p("chronyd.pid"),
            p("chrony.drift")
        ),
    );
    up.push(spawn(
        "chronyd",
        d,
        Command::new(&chronyd)
            .args(["-d", "-x", "-u", "root", "-f"])
            .arg(d.join("chrony.conf")),
    ));

    // slapd: LDAP and LDAPS, no database (the rootDSE is enough).
    fs::create_dir_all(d.join("slapd")).unwrap();
    write(
        &d.join("slapd.conf"),
        &format!(
            "include /etc/ldap/schema/core.schema\npidfile {}\nargsfile {}\n\
             TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
            p("slapd/pid"),
            p("slapd/args"),
            p("cert.pem"),
            p("key.pem")
        ),
    );
    up.push(spawn(
        "slapd",
        d,
        Command::new(&slapd)
            .args(["-d", "0", "-f"])
            .arg(d.join("slapd.conf"))
            .args(["-h", "ldap://127.0.0.1:389/ ldaps://127.0.0.1:636/"]),
    ));

    // PostgreSQL: a cluster made here that refuses every login.
    fs::create_dir_all(d.join("pg")).unwrap();
    chown(&d.join("pg"), "postgres");
    let as_postgres = |prog: &Path| {
        let mut c = Command::new(&setpriv);
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--clear-groups",
            "--",
        ])
        .arg(prog);
        c
    };
    let st = as_postgres(&pg_bin.join("initdb"))
        .args(["-A", "reject", "-U", "postgres", "-D"])
        .arg(d.join("pg/data"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("initdb");
    assert!(st.success(), "initdb failed");
    up.push(spawn(
        "postgres",
        d,
        as_postgres(&pg_bin.join("postgres"))
            .arg("-D")
            .arg(d.join("pg/data"))
            .arg("-k")
            .arg(d.join("pg"))
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "port=5432"]),
    ));

    // MariaDB on an empty data directory: the greeting comes before login.
    fs::create_dir_all(d.join("mariadb")).unwrap();
    up.push(spawn(
        "mariadbd",
        d,
        Command::new(&mariadbd).args([
            "--no-defaults",
            &format!("--datadir={}", p("mariadb")),
            &format!("--socket={}", p("mariadb.sock")),
            &format!("--pid-file={}", p("mariadb.pid")),
            "--port=3306",
            "--bind-address=127.0.0.1",
            "--user=root",
            "--skip-grant-tables",
        ]),
    ));

    up.push(spawn(
        "redis",
        d,
        Command::new(&redis)
            .args([
                "--port",
                "6379",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--dir"])
            .arg(d),
    ));
    up.push(spawn(
        "memcached",
        d,
        Command::new(&memcached).args([
            "-u",
            "root",
            "-l",
            "127.0.0.1",
            "-p",
            "11211",
            "-U",
            "11211",
        ]),
    ));

    // Net-SNMP: SNMP on 161/udp, the SMUX master on 199/tcp.
    write(
        &d.join("snmpd.conf"),
        "rocommunity public 127.0.0.1\nsmuxsocket 127.0.0.1\n",
    );
    up.push(spawn(
        "snmpd",
        d,
        Command::new(&snmpd)
            .args(["-f", "-Lo", "-C", "-c"])
            .arg(d.join("snmpd.conf"))
            .arg("-p")
            .arg(d.join("snmpd.pid"))
            .arg("udp:127.0.0.1:161"),
    ));

    write(
        &d.join("rsyncd.conf"),
        &format!(
            "pid file = {}\nuse chroot = no\n[pub]\npath = {}\nread only = yes\n",
            p("rsyncd.pid"),
            p("ftp-empty")
        ),
    );
    up.push(spawn(
        "rsync",
        d,
        Command::new(&rsync)
            .args([
                "--daemon",
                "--no-detach",
                "--port=873",
                "--address=127.0.0.1",
            ])
            .arg(format!("--config={}", p("rsyncd.conf"))),
    ));

    write(
        &d.join("mosquitto.conf"),
        "listener 1883 127.0.0.1\nallow_anonymous false\npersistence false\nlog_dest stderr\n",
    );
    up.push(spawn(
        "mosquitto",
        d,
        Command::new(&mosquitto)
            .arg("-c")
            .arg(d.join("mosquitto.conf")),
    ));
    up.push(spawn(
        "nats",
        d,
        Command::new(&nats).args(["-a", "127.0.0.1", "-p", "4222"]),
    ));

    // Samba: SMB on 445, no NetBIOS, a read-only share.
    for sub in ["smb/priv", "smb/lock", "smb/state", "smb/cache", "smb/log"] {
        fs::create_dir_all(d.join(sub)).unwrap();
    }
    let s = p("smb");
    write(
        &d.join("smb.conf"),
        &format!(
            "[global]\ninterfaces = 127.0.0.1\nbind interfaces only = yes\nsmb ports = 445\n\
             private dir = {s}/priv\nlock directory = {s}/lock\nstate directory = {s}/state\n\
             cache directory = {s}/cache\npid directory = {s}/lock\nncalrpc dir = {s}/lock/ncalrpc\n\
             log file = {s}/log/%m.log\ndisable netbios = yes\nserver role = standalone server\n\
             load printers = no\nprinting = bsd\nprintcap name = /dev/null\ndisable spoolss = yes\n\
             [share]\npath = {}\nread only = yes\n",
            p("ftp-empty")
        ),
    );
    up.push(spawn(
        "smbd",
        d,
        Command::new(&smbd)
            .args(["-F", "--no-process-group", "--debug-stdout", "-s"])
            .arg(d.join("smb.conf")),
    ));

    // Everyone up before the scan.
    let ready: &[(&str, char, u16)] = &[
        ("vsftpd", 't', 21),
        ("sshd", 't', 22),
        ("postfix", 't', 25),
        ("postfix", 't', 465),
        ("dnsmasq", 't', 53),
        ("dnsmasq", 'u', 67),
        ("nginx", 't', 443),
        ("dovecot", 't', 995),
        ("chronyd", 'u', 123),
        ("slapd", 't', 636),
        ("postgres", 't', 5432),
        ("mariadbd", 't', 3306),
        ("redis", 't', 6379),
        ("memcached", 'u', 11211),
        ("snmpd", 't', 199),
        ("snmpd", 'u', 161),
        ("rsync", 't', 873),
        ("mosquitto", 't', 1883),
        ("nats", 't', 4222),
        ("smbd", 't', 445),
    ];
    for &(name, kind, port) in ready {
        let dm = up.iter_mut().find(|x| x.name == name).unwrap();
        wait_listening(dm, d, kind, port);
    }

    let v = |pkg: &str| Some(upstream(pkg));
    let mut tcp: BTreeMap<u16, Expect> = BTreeMap::new();
    tcp.insert(21, ex("ftp", Some("vsftpd"), v("vsftpd")));
    tcp.insert(22, ex("ssh", Some("OpenSSH"), v("openssh-server")));
    tcp.insert(25, ex("smtp", Some("Postfix smtpd"), None));
    tcp.insert(445, ex("smb", None, None));
    tcp.insert(465, ex("smtps", Some("Postfix smtpd"), None));
    tcp.insert(53, ex("dns", Some("dnsmasq"), v("dnsmasq-base")));
    tcp.insert(80, ex("http", Some("nginx"), v("nginx-common")));
    tcp.insert(110, ex("pop3", Some("Dovecot pop3d"), None));
    tcp.insert(143, ex("imap", Some("Dovecot imapd"), None));
    tcp.insert(199, ex("smux", None, None));
    tcp.insert(389, ex("ldap", Some("OpenLDAP"), None));
    tcp.insert(443, ex("https", Some("nginx"), v("nginx-common")));
    tcp.insert(636, ex("ldaps", Some("OpenLDAP"), None));
    tcp.insert(873, ex("rsync", Some("rsync"), None));
    tcp.insert(993, ex("imaps", Some("Dovecot imapd"), None));
    tcp.insert(995, ex("pop3s", Some("Dovecot pop3d"), None));
    tcp.insert(1883, ex("mqtt", None, None));
    tcp.insert(3306, ex("mysql", Some("MariaDB"), v("mariadb-server")));
    tcp.insert(4222, ex("nats", Some("nats-server"), v("nats-server")));
    tcp.insert(5432, ex("postgresql", Some("PostgreSQL"), None));
    tcp.insert(6379, ex("redis", Some("Redis"), v("redis-server")));
    tcp.insert(11211, ex("memcached", Some("memcached"), v("memcached")));
    let list: Vec<String> = tcp.keys().map(u16::to_string).collect();
    let doc = scan(&["-p", &list.join(",")]);
    check(&doc, &tcp, "open");
    // TLS facts come from the certificate made above.
    for port in [443, 465, 636, 993, 995] {
        let p = doc["hosts"][0]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["port"] == port)
            .unwrap();
        let names = p["tls"]["names"].as_array().unwrap();
        assert!(names.iter().any(|n| n == "scan.test"), "{p}");
    }
    // Every open port of the namespace is among those named: nothing
    // answered that the table left unnamed.
    let all = scan(&["-p", "1-65535"]);
    let open: Vec<u64> = all["hosts"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["state"] == "open")
        .map(|p| {
            assert!(p["protocol"].is_string(), "unnamed: {p}");
            p["port"].as_u64().unwrap()
        })
        .collect();
    for port in tcp.keys() {
        assert!(
            open.contains(&u64::from(*port)),
            "{port} not open in the full sweep"
        );
    }

    // UDP: the answering services, and dnsmasq's silent DHCP port held here.
    let mut udp: BTreeMap<u16, Expect> = BTreeMap::new();
    udp.insert(53, ex("dns", Some("dnsmasq"), v("dnsmasq-base")));
    udp.insert(123, ex("ntp", None, None));
    udp.insert(161, ex("snmp", None, None));
    udp.insert(11211, ex("memcached", Some("memcached"), v("memcached")));
    let doc = scan(&["--udp", "-p", "53,67,123,161,11211"]);
    check(&doc, &udp, "open");
    let dhcp = doc["hosts"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == 67)
        .unwrap();
    assert_eq!(dhcp["state"], "open|filtered", "{dhcp}");
    assert_eq!(dhcp["owners"][0]["name"], "dnsmasq", "{dhcp}");
    let ntp = doc["hosts"][0]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == 123)
        .unwrap();
    assert_eq!(ntp["info"], "NTPv4 stratum 8", "{ntp}");

    drop(up);
}

/// A directory for the daemons' files, removed when the test ends (after
/// the daemons: declared before them).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("portscope-real-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
