//! What a stranger probing this machine learns from an open port: notes on
//! the ports scanners try first. Pure data; `explain` and audits read it.

/// A note on a commonly scanned port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exposure {
    /// The port.
    pub port: u16,
    /// Transport the note is about (`"tcp"`, `"udp"`, or `"tcp/udp"`).
    pub transport: &'static str,
    /// The protocol, as people name it.
    pub what: &'static str,
    /// Whether the protocol sends credentials or data in clear text.
    pub cleartext: bool,
    /// The TLS port to prefer, where one exists.
    pub secure_alternative: Option<u16>,
    /// What an open port tells or gives a scanner, and what to do.
    pub note: &'static str,
}

const fn e(
    port: u16,
    transport: &'static str,
    what: &'static str,
    cleartext: bool,
    secure_alternative: Option<u16>,
    note: &'static str,
) -> Exposure {
    Exposure {
        port,
        transport,
        what,
        cleartext,
        secure_alternative,
        note,
    }
}

/// Notes for the ports scanners try first, sorted by port.
pub static COMMONLY_SCANNED: &[Exposure] = &[
    e(
        21,
        "tcp",
        "FTP",
        true,
        Some(990),
        "FTP sends passwords in clear text and its greeting names the server software and often its version. Prefer SFTP or FTPS; never expose anonymous FTP by accident.",
    ),
    e(
        22,
        "tcp",
        "SSH",
        false,
        None,
        "SSH is probed constantly by password-guessing bots; its banner gives the server version. Allow keys only, disable root login and passwords, or restrict the source addresses.",
    ),
    e(
        23,
        "tcp",
        "Telnet",
        true,
        Some(22),
        "Telnet sends everything, passwords included, in clear text and is a favourite of botnets. Turn it off and use SSH.",
    ),
    e(
        25,
        "tcp",
        "SMTP",
        true,
        Some(465),
        "An SMTP server on the internet is probed for open relaying and user enumeration (VRFY/EXPN); its banner names the software. Only a mail server should listen here.",
    ),
    e(
        53,
        "tcp/udp",
        "DNS",
        true,
        None,
        "An open resolver answering anyone is abused for amplification attacks; version.bind may reveal the software. Answer recursive queries only for your own networks.",
    ),
    e(
        80,
        "tcp",
        "HTTP",
        true,
        Some(443),
        "Plain HTTP exposes whatever it serves, headers naming the server software, and any login form in clear text. Redirect to HTTPS; check what paths answer.",
    ),
    e(
        110,
        "tcp",
        "POP3",
        true,
        Some(995),
        "POP3 sends mailbox passwords in clear text. Use POP3S on 995.",
    ),
    e(
        111,
        "tcp/udp",
        "rpcbind",
        true,
        None,
        "rpcbind lists the RPC services of the host (NFS and others) to anyone who asks, and is used for amplification. Bind it to loopback or firewall it.",
    ),
    e(
        123,
        "udp",
        "NTP",
        true,
        None,
        "An NTP server answering monlist-style queries is used for amplification. Serve time only where needed.",
    ),
    e(
        135,
        "tcp",
        "MS RPC",
        true,
        None,
        "The Windows RPC endpoint mapper reveals services and has a long history of remote exploits. Never expose it to untrusted networks.",
    ),
    e(
        137,
        "udp",
        "NetBIOS name service",
        true,
        None,
        "NetBIOS name queries reveal host and domain names. Keep it inside the LAN.",
    ),
    e(
        139,
        "tcp",
        "NetBIOS session (SMB)",
        true,
        None,
        "SMB over NetBIOS exposes file shares and has had wormable flaws. Keep SMB off untrusted networks.",
    ),
    e(
        143,
        "tcp",
        "IMAP",
        true,
        Some(993),
        "IMAP sends mailbox passwords in clear text. Use IMAPS on 993.",
    ),
    e(
        161,
        "udp",
        "SNMP",
        true,
        None,
        "SNMP with a default community string ('public') gives away the device's configuration, and answers are amplified. Use SNMPv3 or disable it.",
    ),
    e(
        389,
        "tcp",
        "LDAP",
        true,
        Some(636),
        "LDAP can disclose the directory to anonymous binds and sends simple-bind passwords in clear text. Use LDAPS (636) or StartTLS and forbid anonymous binds.",
    ),
    e(
        443,
        "tcp",
        "HTTPS",
        false,
        None,
        "Expected on a web server. Its certificate names the host and sometimes internal names; keep TLS versions and software current.",
    ),
    e(
        445,
        "tcp",
        "SMB",
        true,
        None,
        "SMB file sharing is a prime target (EternalBlue, ransomware). Never expose it to the internet.",
    ),
    e(
        1433,
        "tcp",
        "Microsoft SQL Server",
        true,
        None,
        "A database port open to the network invites password guessing. Bind to loopback or a private interface and firewall it.",
    ),
    e(
        1900,
        "udp",
        "SSDP/UPnP",
        true,
        None,
        "SSDP answers discovery requests with device details and is used for amplification. Keep it off public interfaces.",
    ),
    e(
        2049,
        "tcp/udp",
        "NFS",
        true,
        None,
        "NFS exports may be mountable by anyone who reaches the port. Restrict exports and the network.",
    ),
    e(
        2375,
        "tcp",
        "Docker API (no TLS)",
        true,
        Some(2376),
        "An unauthenticated Docker API gives root on the host to whoever connects. Never expose it.",
    ),
    e(
        3306,
        "tcp",
        "MySQL",
        true,
        None,
        "A database port open to the network invites password guessing; the greeting names the server version. Bind to 127.0.0.1 or firewall it.",
    ),
    e(
        3389,
        "tcp",
        "RDP",
        false,
        None,
        "Remote desktop is a top target for password guessing and has had wormable flaws. Put it behind a VPN or gateway.",
    ),
    e(
        5432,
        "tcp",
        "PostgreSQL",
        true,
        None,
        "A database port open to the network invites password guessing. Bind to localhost (listen_addresses) or firewall it and require TLS.",
    ),
    e(
        5900,
        "tcp",
        "VNC",
        true,
        None,
        "VNC often runs with weak or no passwords and without encryption. Tunnel it over SSH or a VPN.",
    ),
    e(
        6379,
        "tcp",
        "Redis",
        true,
        None,
        "Redis has no authentication by default and can be turned into remote code execution. Bind to 127.0.0.1, enable protected mode and a password.",
    ),
    e(
        8080,
        "tcp",
        "HTTP alternate",
        true,
        Some(8443),
        "Often a development server, proxy or admin console left open. Check what answers and bind it to loopback if it is not meant to be public.",
    ),
    e(
        9200,
        "tcp",
        "Elasticsearch",
        true,
        None,
        "An open Elasticsearch cluster lets anyone read and delete its indices. Bind to loopback or enable security.",
    ),
    e(
        11211,
        "tcp/udp",
        "memcached",
        true,
        None,
        "memcached has no authentication and its UDP port amplifies attacks enormously. Bind to loopback and disable UDP.",
    ),
    e(
        27017,
        "tcp",
        "MongoDB",
        true,
        None,
        "Unauthenticated MongoDB instances are found and wiped by scanners within hours. Bind to loopback and enable authentication.",
    ),
];

/// The note for a port, if it is one scanners try first.
///
/// ```
/// assert_eq!(portscope::exposure::for_port(22).map(|e| e.what), Some("SSH"));
/// assert!(portscope::exposure::for_port(50000).is_none());
/// ```
pub fn for_port(port: u16) -> Option<&'static Exposure> {
    COMMONLY_SCANNED
        .binary_search_by_key(&port, |e| e.port)
        .ok()
        .map(|i| &COMMONLY_SCANNED[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(COMMONLY_SCANNED.windows(2).all(|w| w[0].port < w[1].port));
    }

    #[test]
    fn secure_alternatives_point_at_noted_or_registered_ports() {
        for e in COMMONLY_SCANNED {
            if let Some(alt) = e.secure_alternative {
                assert!(
                    e.cleartext,
                    "{} has an alternative but is not cleartext",
                    e.what
                );
                assert_ne!(alt, e.port);
            }
        }
    }
}
