//! Tests of the whole filter: parsing (forms, precedence, errors and their
//! columns), evaluation on hand-built sockets, robustness on arbitrary input,
//! (agreement with `ss` itself on live sockets is the CLI's
//! tests/filter.rs, in a network namespace of its own).

use std::net::{IpAddr, SocketAddr};

use super::ast::{Atom, BoolOp, Expr, Order, Side};
use super::*;
use crate::model::{Endpoint, Owner, Process, Proto, Socket, TcpState};

fn words(s: &str) -> Vec<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

fn parse(s: &str) -> Filter {
    match Filter::parse(&words(s)) {
        Ok(f) => f,
        Err(e) => panic!("{s:?}: {e}\n{}", e.caret_lines()),
    }
}

fn err(s: &str) -> FilterError {
    match Filter::parse(&words(s)) {
        Ok(f) => panic!("{s:?} parsed: {:?}", f.expr),
        Err(e) => e,
    }
}

/// The expression as a compact s-expression, to check structure.
fn show(e: &Expr) -> String {
    match e {
        Expr::Atom { atom, negate } => {
            let a = match atom {
                Atom::Host { side, port, addrs } => {
                    let side = if *side == Side::Local { "s" } else { "d" };
                    let port = port.map_or("*".to_string(), |p| p.to_string());
                    let addrs: Vec<String> = addrs
                        .iter()
                        .map(|p| format!("{}/{}", p.addr, p.len))
                        .collect();
                    format!("{side}[{}]:{port}", addrs.join(","))
                }
                Atom::PortCmp { side, order, port } => {
                    let side = if *side == Side::Local {
                        "sport"
                    } else {
                        "dport"
                    };
                    let op = match order {
                        Order::Lt => "<",
                        Order::Le => "<=",
                        Order::Gt => ">",
                        Order::Ge => ">=",
                    };
                    format!("{side}{op}{port}")
                }
                other => format!("{other:?}"),
            };
            if *negate { format!("!={a}") } else { a }
        }
        Expr::Not(inner) => format!("(not {})", show(inner)),
        Expr::Seq { first, rest } => {
            let mut out = show(first);
            for (op, t) in rest {
                let op = if *op == BoolOp::And { "and" } else { "or" };
                out = format!("({out} {op} {})", show(t));
            }
            out
        }
    }
}

fn tree(s: &str) -> String {
    parse(s).expr.as_ref().map_or(String::new(), show)
}

// ---------------------------------------------------------------- parsing

#[test]
fn empty_input_matches_everything() {
    let f = Filter::parse(&[]).unwrap();
    assert!(f.expr.is_none());
    assert_eq!(f.states(), None);
    assert_eq!(f.expression_text(), "");
    assert_eq!(f.query_hint(), QueryHint::default());
    assert!(f.matches(
        &tcp("1.2.3.4:5", "6.7.8.9:10", TcpState::Established),
        &snap()
    ));
    assert!(Filter::parse(&words("  ")).unwrap().expr.is_none());
}

#[test]
fn port_operator_forms() {
    let cases = [
        ("sport = :22", "s[]:22"),
        ("sport == :22", "s[]:22"),
        ("sport eq :22", "s[]:22"),
        ("sport :22", "s[]:22"),
        ("sport 22", "s[]:22"),
        ("sport != :22", "!=s[]:22"),
        ("sport ne :22", "!=s[]:22"),
        ("sport neq :22", "!=s[]:22"),
        ("sport < :1024", "sport<1024"),
        ("sport lt :1024", "sport<1024"),
        ("sport > :1024", "sport>1024"),
        ("sport gt :1024", "sport>1024"),
        ("sport <= :1024", "sport<=1024"),
        ("sport le :1024", "sport<=1024"),
        ("sport leq :1024", "sport<=1024"),
        ("sport >= :1024", "sport>=1024"),
        ("sport ge :1024", "sport>=1024"),
        ("sport geq :1024", "sport>=1024"),
        ("dport = :80", "d[]:80"),
        ("dport >= :80", "dport>=80"),
        ("sport>:1024", "sport>1024"),
        ("dport!=:ssh", "!=d[]:22"),
        ("sport = *", "s[]:*"),
        ("sport = :*", "s[]:*"),
        ("sport = :0x50", "s[]:80"),
        ("sport = :0120", "s[]:80"),
        ("sport = :0", "s[]:0"),
        ("sport = :65535", "s[]:65535"),
        ("dport = :https", "d[]:443"),
        ("dport = :HTTP", "d[]:80"),
    ];
    for (input, want) in cases {
        assert_eq!(tree(input), want, "{input}");
    }
}

#[test]
fn host_operand_forms() {
    let cases = [
        ("src 127.0.0.1", "s[127.0.0.1/32]:*"),
        ("src = 127.0.0.1", "s[127.0.0.1/32]:*"),
        ("src == 127.0.0.1", "s[127.0.0.1/32]:*"),
        ("src eq 127.0.0.1", "s[127.0.0.1/32]:*"),
        ("src != 127.0.0.1", "!=s[127.0.0.1/32]:*"),
        ("src 127.0.0.1:22", "s[127.0.0.1/32]:22"),
        ("src 127.0.0.1:ssh", "s[127.0.0.1/32]:22"),
        ("dst 10.0.0.0/8", "d[10.0.0.0/8]:*"),
        ("dst 10.0.0.0/8:443", "d[10.0.0.0/8]:443"),
        ("dst 10/8", "d[10.0.0.0/8]:*"),
        ("src 127.1", "s[127.1.0.0/32]:*"),
        ("src 10.0.0.0/255.0.0.0", "s[10.0.0.0/8]:*"),
        ("src 0x7f.0.0.1", "s[127.0.0.1/32]:*"),
        ("src ::1/128", "s[::1/128]:*"),
        ("src ::/0", "s[::/0]:*"),
        ("src ::1/128:22", "s[::1/128]:22"),
        ("src [::1]", "s[::1/128]:*"),
        ("src [::1]:22", "s[::1/128]:22"),
        ("src [::ffff:127.0.0.1]", "s[::ffff:127.0.0.1/128]:*"),
        ("src [fe80::1]:http-alt", "s[fe80::1/128]:8080"),
        ("src ::1:22", "s[::1/128]:22"),
        ("src *", "s[]:*"),
        ("src *:22", "s[]:22"),
        ("src :22", "s[]:22"),
        ("src [*]:22", "s[]:22"),
        ("src any", "s[]:*"),
        ("src all", "s[]:*"),
        ("src default", "s[]:*"),
        ("src localhost", "s[127.0.0.1/32,::1/128]:*"),
        ("src localhost:53", "s[127.0.0.1/32,::1/128]:53"),
        ("src inet:localhost", "s[127.0.0.1/32]:*"),
        ("src inet6:localhost", "s[::1/128]:*"),
        ("src inet:any", "s[0.0.0.0/0]:*"),
        ("src inet6:[::1]:22", "s[::1/128]:22"),
        ("dst 127.0.0.1:5432", "d[127.0.0.1/32]:5432"),
    ];
    for (input, want) in cases {
        assert_eq!(tree(input), want, "{input}");
    }
}

#[test]
fn extension_predicates() {
    assert_eq!(
        tree("process sshd"),
        format!(
            "{:?}",
            Atom::Process {
                glob: glob::Glob::new("sshd", false)
            }
        )
    );
    assert!(tree("process != ssh*").starts_with("!=Process"));
    assert_eq!(tree("pid 42"), "Pid { pid: 42 }");
    assert_eq!(tree("pid = 42"), "Pid { pid: 42 }");
    assert_eq!(tree("user 0"), "User { uid: Some(0), name: None }");
    assert_eq!(
        tree("user root"),
        "User { uid: Some(0), name: Some(\"root\") }"
    );
    assert_eq!(
        tree("user no-such-user-here"),
        "User { uid: None, name: Some(\"no-such-user-here\") }"
    );
    assert_eq!(tree("service SSH"), "Service { name: \"ssh\" }");
    assert_eq!(tree("class system"), "Class { class: System }");
    assert_eq!(tree("class Dynamic"), "Class { class: Dynamic }");
    assert_eq!(tree("class != user"), "!=Class { class: User }");
    assert_eq!(tree("dev 1"), "Dev { ifindex: 1 }");
    assert_eq!(tree("dev lo"), tree("dev 1"));
}

#[test]
fn and_or_have_equal_precedence_and_group_left() {
    assert_eq!(
        tree("sport = :1 or sport = :2 and dport = :3"),
        "((s[]:1 or s[]:2) and d[]:3)"
    );
    assert_eq!(
        tree("sport = :1 and sport = :2 or dport = :3"),
        "((s[]:1 and s[]:2) or d[]:3)"
    );
    assert_eq!(
        tree("sport = :1 or sport = :2 dport = :3"),
        "((s[]:1 or s[]:2) and d[]:3)"
    );
    assert_eq!(
        tree("sport = :1 | sport = :2 & dport = :3 || dport = :4 && dport = :5"),
        "((((s[]:1 or s[]:2) and d[]:3) or d[]:4) and d[]:5)"
    );
    assert_eq!(
        tree("sport = :1 or ( sport = :2 and dport = :3 )"),
        "(s[]:1 or (s[]:2 and d[]:3))"
    );
}

#[test]
fn not_binds_to_one_term() {
    assert_eq!(tree("! sport = :1 or dport = :2"), "((not s[]:1) or d[]:2)");
    assert_eq!(tree("not sport = :1 dport = :2"), "((not s[]:1) and d[]:2)");
    assert_eq!(
        tree("not ( sport = :1 or dport = :2 )"),
        "(not (s[]:1 or d[]:2))"
    );
    assert_eq!(tree("! ! sport = :1"), "(not (not s[]:1))");
    assert_eq!(tree("!!sport=:1"), "(not (not s[]:1))");
    assert_eq!(tree("!(sport=:1)"), "(not s[]:1)");
}

#[test]
fn words_with_several_tokens_and_parens_as_words() {
    let one_word = Filter::parse(&["( sport = :22 or dport = :22 )".to_string()]).unwrap();
    let many = parse("( sport = :22 or dport = :22 )");
    assert_eq!(one_word.expr, many.expr);
    assert_eq!(tree("(sport=:22)"), "s[]:22");
    assert_eq!(tree("( sport = :22 )"), "s[]:22");
}

#[test]
fn state_words() {
    use TcpState as S;
    let f = parse("state established");
    assert_eq!(f.states(), Some(StateSet::only(S::Established)));
    assert!(f.expr.is_none());

    let f = parse("state established state listening sport = :22");
    assert_eq!(
        f.states(),
        Some(StateSet::only(S::Established).with(S::Listen))
    );
    assert_eq!(tree("state established sport = :22"), "s[]:22");

    let f = parse("exclude listening");
    let st = f.states().unwrap();
    assert!(!st.contains(S::Listen));
    assert!(st.contains(S::Established) && st.contains(S::TimeWait) && st.contains(S::Close));

    let f = parse("excl time-wait exclude syn-recv");
    let st = f.states().unwrap();
    assert!(!st.contains(S::TimeWait) && !st.contains(S::SynRecv) && !st.contains(S::NewSynRecv));

    let f = parse("state connected exclude established");
    let st = f.states().unwrap();
    assert!(!st.contains(S::Established) && st.contains(S::SynSent) && !st.contains(S::Listen));

    let f = parse("exclude all state listening");
    assert_eq!(f.states(), Some(StateSet::only(S::Listen)));

    let f = parse("state established exclude established");
    assert_eq!(f.states(), Some(StateSet::NONE));

    assert_eq!(
        parse("state LISTENING").states(),
        Some(StateSet::only(S::Listen))
    );
    assert_eq!(
        parse("state syn-recv").query_hint().states,
        parse("state syn-recv").states()
    );
}

// ----------------------------------------------------------------- errors

/// (input, message fragment, column)
fn check_err(input: &str, fragment: &str, column: usize) {
    let e = err(input);
    assert!(
        e.message.contains(fragment),
        "{input:?}: message {:?} lacks {fragment:?}",
        e.message
    );
    assert_eq!(e.column, column, "{input:?}: {e}\n{}", e.caret_lines());
    assert_eq!(
        e.text,
        input
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    );
}

#[test]
fn errors_point_at_their_column() {
    check_err("foo", "unknown word 'foo'", 1);
    check_err("sport = :22 bar", "unknown word 'bar'", 13);
    check_err("sport", "expected a port after 'sport'", 6);
    check_err("sport =", "expected a port after '='", 8);
    check_err("src", "expected an address after 'src'", 4);
    check_err("sport = ( :22 )", "expected a port after '=', found '('", 9);
    check_err("sport = :", "expected a port after ':'", 10);
    check_err("src 127.0.0.1:", "expected a port after ':'", 15);
    check_err("dport = :99999", "port 99999 is out of range", 10);
    check_err("dport = :65536", "out of range", 10);
    check_err("src 10.0.0.1:70000", "out of range", 14);
    check_err("sport = :08", "'08' is not a valid port number", 10);
    check_err("sport = :-1", "not a valid port number", 10);
    check_err(
        "sport = :nosuchservice",
        "neither a port number nor a known service",
        10,
    );
    check_err("sport = 1.2.3.4:22", "is not a port", 9);
    check_err("sport < *", "needs a port number", 9);
    check_err("src 10.0.0.0/33", "prefix length 33 is too long", 14);
    check_err("src ::/129", "prefix length 129 is too long", 8);
    check_err("src 10.0.0.0/255.0.255.0", "not a valid prefix length", 14);
    check_err("src 10.0.0.0/", "not a valid prefix length", 14);
    check_err("src 1.2.3.4.5", "not a valid IPv4 address", 5);
    check_err("src 256.0.0.1", "not a valid IPv4 address", 5);
    check_err(
        "src example.com",
        "host names are not resolved: use an address",
        5,
    );
    check_err(
        "dst 10.0.0.1 or src db-server:5432",
        "host names are not resolved",
        21,
    );
    check_err("src ::1", "brackets: [::1]", 5);
    check_err("src fe80::1", "brackets: [fe80::1]", 5);
    check_err("src [::1", "missing ']'", 5);
    check_err("src [::1]22", "expected ':' and a port after ']'", 10);
    // ss takes no prefix length after brackets either.
    check_err(
        "src [2001:db8::]/32",
        "expected ':' and a port after ']'",
        17,
    );
    check_err("src [zz::1]", "not a valid IPv6 address", 6);
    check_err("src inet:[::1]", "not of the family", 11);
    check_err("src link:eth0", "link sockets are not supported", 5);
    check_err("src < 1.2.3.4", "'src' compares only with = or !=", 5);
    check_err("( sport = :22", "unclosed '('", 1);
    check_err("sport = :22 )", "unmatched ')'", 13);
    check_err(") sport = :22", "unmatched ')'", 1);
    check_err("( )", "empty parentheses", 1);
    check_err(
        "( ( sport = :1 ) or",
        "expected an expression after 'or'",
        20,
    );
    check_err("sport = :22 and", "expected an expression after 'and'", 16);
    check_err("sport = :22 or", "expected an expression after 'or'", 15);
    check_err("sport = :22 &&", "expected an expression after '&&'", 15);
    check_err(
        "sport = :22 and )",
        "expected an expression after 'and', found ')'",
        17,
    );
    check_err(
        "sport = :22 and or dport = :1",
        "after 'and', found 'or'",
        17,
    );
    check_err("and sport = :22", "expected an expression before 'and'", 1);
    check_err("not", "expected an expression after 'not'", 4);
    check_err("= :22", "unexpected '='", 1);
    check_err("state", "expected a state name after 'state'", 6);
    check_err("state foo", "unknown state 'foo'", 7);
    check_err(
        "exclude (",
        "expected a state name after 'exclude', found '('",
        9,
    );
    check_err(
        "sport = :22 state listening",
        "'state' must come before the expression",
        13,
    );
    check_err("fwmark 0x1", "'fwmark' is not supported", 1);
    check_err("autobound", "not supported", 1);
    check_err("pid abc", "'abc' is not a process id", 5);
    check_err("pid < 5", "'pid' compares only with = or !=", 5);
    check_err("user 99999999999", "out of range", 6);
    check_err("service nosuch", "unknown service name 'nosuch'", 9);
    check_err("class private", "unknown port class 'private'", 7);
    check_err("dev no-such-if0", "unknown network interface", 5);
    check_err("process", "expected a process name after 'process'", 8);
}

#[test]
fn columns_inside_compound_words() {
    // Tokens cut out of one word keep their own columns.
    let e = err("sport>:99999");
    assert_eq!(e.column, 8);
    let e = Filter::parse(&["(sport = :1".to_string()]).unwrap_err();
    assert_eq!((e.message.as_str(), e.column), ("unclosed '('", 1));
    let e = Filter::parse(&["dst".to_string(), "10.0.0.0/8:".to_string()]).unwrap_err();
    assert_eq!(e.column, 16);
}

#[test]
fn error_display_and_carets() {
    let e = err("src 127.0.0.1 and dport = :");
    assert_eq!(
        e.to_string(),
        "filter: expected a port after ':' at column 28"
    );
    assert_eq!(
        e.caret_lines(),
        "src 127.0.0.1 and dport = :\n                           ^"
    );
    let e = Filter::parse(&["\tfoo".to_string()]).unwrap_err();
    assert_eq!(e.caret_lines(), "\tfoo\n\t^");
}

#[test]
fn carets_show_the_expression_escaped() {
    // A terminal escape in the expression is shown escaped, and the caret
    // stands under the escaped form of where the error is.
    let input = "process a\x1bb and";
    let e = err(input);
    let c = e.caret_lines();
    let (line, caret) = c.split_once('\n').expect("two lines");
    assert_eq!(line, "process a\\x1bb and");
    assert!(!c.chars().any(|ch| ch.is_control() && ch != '\n'), "{c:?}");
    let before: String = input.chars().take(e.column - 1).collect();
    let at = crate::text::escape(before.as_bytes())
        .to_string()
        .chars()
        .count();
    assert_eq!(caret, format!("{}^", " ".repeat(at)), "{c:?}");
    // A line break in it cannot split the echo.
    let e = Filter::parse(&["sport\n=".to_string(), ":x".to_string()]).unwrap_err();
    assert_eq!(e.caret_lines().lines().count(), 2, "{}", e.caret_lines());
}

#[test]
fn nesting_is_bounded() {
    let deep = "( ".repeat(10_000) + "sport = :1" + &" )".repeat(10_000);
    let e = err(&deep);
    assert!(e.message.contains("nested too deeply"));
    let nots = "! ".repeat(10_000) + "sport = :1";
    assert!(err(&nots).message.contains("nested too deeply"));
    // Long flat lists are fine: they do not nest.
    let long = vec!["sport = :1"; 20_000].join(" or ");
    let f = parse(&long);
    assert!(f.matches(
        &tcp("1.1.1.1:1", "2.2.2.2:2", TcpState::Established),
        &snap()
    ));
}

// ------------------------------------------------------------- evaluation

fn endpoint(s: &str) -> Endpoint {
    let sa: SocketAddr = s.parse().unwrap();
    Endpoint::Inet {
        addr: sa.ip(),
        port: sa.port(),
    }
}

fn sock(proto: Proto, local: &str, remote: &str, state: TcpState) -> Socket {
    let local = endpoint(local);
    let family = match local.addr() {
        Some(IpAddr::V4(_)) => Family::Inet,
        _ => Family::Inet6,
    };
    Socket {
        proto,
        family,
        local,
        remote: endpoint(remote),
        state,
        uid: Some(1000),
        inode: 1,
        ..Socket::default()
    }
}

fn tcp(local: &str, remote: &str, state: TcpState) -> Socket {
    sock(Proto::Tcp, local, remote, state)
}

fn unix(path: Option<&str>, peer: Option<&str>) -> Socket {
    Socket {
        proto: Proto::Unix,
        family: Family::Unix,
        local: Endpoint::Unix {
            path: path.map(Into::into),
            inode: 10,
        },
        remote: Endpoint::Unix {
            path: peer.map(Into::into),
            inode: 11,
        },
        state: TcpState::Established,
        inode: 10,
        unix_type: Some(crate::model::UnixType::Stream),
        ..Socket::default()
    }
}

fn snap() -> Snapshot {
    Snapshot::default()
}

fn yes(expr: &str, s: &Socket) -> bool {
    parse(expr).matches(s, &snap())
}

#[test]
fn ports() {
    let est = tcp("127.0.0.1:22", "127.0.0.1:50000", TcpState::Established);
    let lis = tcp("0.0.0.0:22", "0.0.0.0:0", TcpState::Listen);
    assert!(yes("sport = :22", &est));
    assert!(yes("sport = :ssh", &est));
    assert!(yes("dport = :50000", &est));
    assert!(!yes("dport = :22", &est));
    // A listener's remote port is 0: `dport = :22` never selects it.
    assert!(!yes("dport = :22", &lis));
    assert!(yes("dport = :0", &lis));
    assert!(yes("sport < :1024", &est));
    assert!(!yes("sport > :1024", &est));
    assert!(yes("sport <= :22", &est) && yes("sport >= :22", &est));
    assert!(!yes("sport < :22", &est) && !yes("sport > :22", &est));
    assert!(yes("dport > :49151", &est));
    assert!(yes("sport != :80", &est));
    assert!(!yes("sport != :22", &est));
    assert!(yes("sport = *", &est) && yes("src *", &est));
    assert!(!yes("sport != *", &est));
}

#[test]
fn addresses_and_families() {
    let v4 = tcp("127.0.0.1:80", "10.1.2.3:5555", TcpState::Established);
    let mapped = tcp(
        "[::ffff:127.0.0.1]:80",
        "[::ffff:10.1.2.3]:5555",
        TcpState::Established,
    );
    let v6 = tcp("[::1]:80", "[2001:db8::7]:5555", TcpState::Established);
    let any6 = tcp("[::]:80", "[::]:0", TcpState::Listen);
    let any4 = tcp("0.0.0.0:80", "0.0.0.0:0", TcpState::Listen);

    assert!(yes("src 127.0.0.1", &v4));
    assert!(
        yes("src 127.0.0.1", &mapped),
        "v4 rules match v4-mapped sockets"
    );
    assert!(!yes("src 127.0.0.1", &v6));
    assert!(
        yes("src [::ffff:127.0.0.1]", &mapped),
        "a mapped rule matches mapped sockets"
    );
    assert!(
        !yes("src [::ffff:127.0.0.1]", &v4),
        "...but not plain IPv4 ones"
    );
    assert!(yes("dst 10.0.0.0/8", &v4) && yes("dst 10.0.0.0/8", &mapped));
    assert!(yes("dst 10.0.0.0/8:5555", &v4));
    assert!(!yes("dst 10.0.0.0/8:5556", &v4));
    assert!(yes("dst [2001:db8::7]", &v6));
    assert!(yes("dst 2001:db8::/32", &v6));
    assert!(!yes("dst 2001:db8::/32", &v4));

    // `src 0.0.0.0/0` keeps IPv4 and mapped sockets; `src ::/0` IPv6 ones.
    assert!(yes("src 0.0.0.0/0", &v4) && yes("src 0.0.0.0/0", &mapped));
    assert!(!yes("src 0.0.0.0/0", &v6) && !yes("src 0.0.0.0/0", &any6));
    assert!(yes("src ::/0", &v6) && yes("src ::/0", &mapped) && yes("src ::/0", &any6));
    assert!(!yes("src ::/0", &v4));

    // ss hides every IPv6 socket whose first 32 bits are zero here.
    assert!(yes("! src 0.0.0.0", &v4));
    assert!(!yes("! src 0.0.0.0", &any4));
    assert!(!yes("! src 0.0.0.0", &any6));
    assert!(!yes("! src 0.0.0.0", &v6));
    assert!(!yes("! src 0.0.0.0", &mapped));
    assert!(yes("src 0.0.0.0", &any4) && !yes("src 0.0.0.0", &any6));
    assert!(yes("src [::]", &any6) && !yes("src [::]", &any4));

    assert!(yes("src localhost", &v4) && yes("src localhost", &v6));
    assert!(yes("src localhost", &mapped));
    assert!(!yes("src localhost", &any4));
    assert!(yes("src any", &v6) && yes("src all", &v4));

    assert!(yes("src != 127.0.0.1", &v6));
    assert!(!yes("src != 127.0.0.1", &v4));
}

#[test]
fn family_prefixes_narrow_the_whole_listing() {
    let v4 = tcp("127.0.0.1:80", "127.0.0.1:5555", TcpState::Established);
    let mapped = tcp(
        "[::ffff:127.0.0.1]:80",
        "[::ffff:127.0.0.1]:5555",
        TcpState::Established,
    );
    let v6 = tcp("[::1]:80", "[::1]:5555", TcpState::Established);
    // As in ss, `inet6:` applies to everything, even the other side of an `or`.
    assert!(!yes("src inet6:[::1] or sport = :80", &v4));
    assert!(yes("src inet6:[::1] or sport = :80", &v6));
    assert!(!yes("src inet:127.0.0.1", &mapped));
    assert!(yes("src inet:127.0.0.1", &v4));
    let h = parse("src inet:127.0.0.1 or sport = :1").query_hint();
    assert!(h.ipv4 && !h.ipv6 && !h.unix);
}

#[test]
fn boolean_structure_evaluates_left_to_right() {
    let a = tcp("127.0.0.1:1", "127.0.0.1:9", TcpState::Established);
    // (false or true) and false
    assert!(!yes("sport = :2 or sport = :1 and dport = :8", &a));
    // (true and false) or true
    assert!(yes("sport = :1 and dport = :8 or dport = :9", &a));
    assert!(yes("sport = :1 dport = :9", &a));
    assert!(!yes("sport = :1 dport = :8", &a));
    assert!(yes("! sport = :2", &a));
    assert!(!yes("not ( sport = :1 or sport = :2 )", &a));
}

#[test]
fn states_and_matching() {
    let est = tcp("127.0.0.1:1", "127.0.0.1:9", TcpState::Established);
    let lis = tcp("127.0.0.1:1", "0.0.0.0:0", TcpState::Listen);
    let req = tcp("127.0.0.1:1", "127.0.0.1:9", TcpState::NewSynRecv);
    assert!(yes("state established", &est) && !yes("state established", &lis));
    assert!(yes("state listening sport = :1", &lis));
    assert!(yes("state syn-recv", &req) && yes("state bucket", &req));
    assert!(!yes("exclude syn-recv", &req));
    assert!(yes("state connected", &est) && !yes("state connected", &lis));
}

#[test]
fn unix_sockets() {
    let named = unix(Some("/run/Foo.sock"), None);
    let abstract_ = unix(Some("@/tmp/x"), Some("/run/peer"));
    let unnamed = unix(None, Some("/run/Foo.sock"));
    assert!(yes("src unix:/run/*", &named));
    assert!(
        yes("src unix:/RUN/foo.sock", &named),
        "unix names match without regard to case"
    );
    assert!(!yes("src unix:/run/*", &abstract_));
    assert!(yes("src unix:@*", &abstract_));
    assert!(yes("dst unix:/run/peer", &abstract_));
    assert!(yes("dst unix:*foo*", &unnamed));
    // A path or an abstract name needs no `unix:` (`ss -x src /run/x.sock`).
    assert!(yes("src /run/Foo.sock", &named));
    assert!(yes("src /run/*", &named) && !yes("src /run/*", &abstract_));
    assert!(yes("src @/tmp/x", &abstract_));
    assert!(yes("dst /run/peer", &abstract_));
    assert!(!parse("src /run/x.sock").query_hint().ipv4);
    assert!(
        yes("src unix:", &unnamed),
        "an empty pattern matches unnamed sockets"
    );
    // Port and address tests do not apply to unix sockets, even negated
    // with `!=`; `not` still negates.
    assert!(!yes("sport = :22", &named));
    assert!(!yes("sport != :22", &named));
    assert!(!yes("sport < :1024", &named));
    assert!(yes("! sport = :22", &named));
    assert!(!yes("src 127.0.0.1", &named));
    assert!(yes("src *", &named));
    let tcp_sock = tcp("127.0.0.1:1", "127.0.0.1:9", TcpState::Established);
    assert!(!yes("src unix:*", &tcp_sock));
    let h = parse("src unix:/run/*").query_hint();
    assert!(!h.ipv4 && !h.ipv6 && h.unix);
}

#[test]
fn owner_predicates() {
    let mut s = tcp("127.0.0.1:5432", "127.0.0.1:40000", TcpState::Established);
    s.owners = vec![Owner { pid: 10, fd: 3 }, Owner { pid: 11, fd: 4 }];
    s.uid = Some(70);
    let mut snap = Snapshot::default();
    snap.processes.insert(
        10,
        Process {
            pid: 10,
            name: "postgres".into(),
            user: Some("postgres".into()),
            uid: Some(70),
            ..Process::default()
        },
    );
    snap.processes.insert(
        11,
        Process {
            pid: 11,
            name: "pgbouncer".into(),
            user: Some("pgb".into()),
            uid: Some(71),
            ..Process::default()
        },
    );
    let m = |e: &str| parse(e).matches(&s, &snap);
    assert!(m("process postgres"));
    assert!(m("process pgb*"));
    assert!(m("process p?stgres"));
    assert!(!m("process nginx"));
    assert!(m("process != nginx"));
    assert!(!m("process != *"));
    assert!(m("pid 11") && !m("pid 12"));
    assert!(m("user 70"));
    assert!(m("user pgb"), "an owner's user name matches");
    assert!(m("user postgres"));
    assert!(!m("user nobody-at-all"));
    // A number means what the name means: the socket's uid or an owner's.
    assert!(m("user 71"), "an owner's uid matches as its name does");
    assert!(!m("user 72"));
    assert!(
        parse("user pgb").check_users(&snap).is_ok(),
        "known from the snapshot"
    );
    let e = parse("sport = :1 or user nobody-at-all")
        .check_users(&snap)
        .expect_err("a user nobody is");
    assert_eq!(e.message, "unknown user 'nobody-at-all'");
    assert_eq!(e.column, 20);
    assert!(m("service postgresql"));
    assert!(m("service PostgreSQL"));
    assert!(!m("service ssh"));
    assert!(m("class user"));
    assert!(!m("class system"));
    assert!(m("process postgres and sport = :5432 and class user"));

    let h = parse("process postgres").query_hint();
    assert!(h.needs_owners && h.ipv4 && h.unix);
    assert!(parse("user 0").query_hint().needs_owners);
    assert!(parse("user root").query_hint().needs_owners);
    assert!(parse("sport = :1 or pid 5").query_hint().needs_owners);
    assert!(!parse("sport = :1").query_hint().needs_owners);
}

#[test]
fn services_by_remote_port_and_udp() {
    let client = tcp("127.0.0.1:40000", "127.0.0.1:443", TcpState::Established);
    assert!(yes("service https", &client));
    assert!(yes(
        "class dynamic",
        &tcp("127.0.0.1:50000", "0.0.0.0:0", TcpState::Listen)
    ));
    let dns = sock(Proto::Udp, "127.0.0.53:53", "0.0.0.0:0", TcpState::Close);
    assert!(yes("service domain", &dns));
    assert!(yes("sport = :domain", &dns));
}

#[test]
fn bound_device() {
    let mut s = tcp("127.0.0.1:1", "127.0.0.1:2", TcpState::Established);
    assert!(!yes("dev 1", &s));
    s.bound_if = 1;
    assert!(yes("dev 1", &s) && yes("dev lo", &s) && !yes("dev != 1", &s));
}

#[test]
fn query_hints() {
    let h = |e: &str| parse(e).query_hint();
    let fam = |q: QueryHint| (q.ipv4, q.ipv6, q.unix);
    assert_eq!(fam(h("")), (true, true, true));
    assert_eq!(fam(h("sport = :22")), (true, true, false));
    // IPv4 rules also match v4-mapped IPv6 sockets: IPv6 stays.
    assert_eq!(fam(h("src 127.0.0.1")), (true, true, false));
    assert_eq!(fam(h("src [::1]")), (false, true, false));
    assert_eq!(fam(h("src [::1] and sport = :22")), (false, true, false));
    assert_eq!(fam(h("src [::1] or src 127.0.0.1")), (true, true, false));
    assert_eq!(fam(h("src [::1] or process x")), (true, true, true));
    assert_eq!(fam(h("! src [::1]")), (true, true, true));
    assert_eq!(fam(h("src != [::1]")), (true, true, false));
    // With `dev`, ss judges in user space only, where an IPv6 rule can
    // match an IPv4 socket: no narrowing.
    assert_eq!(fam(h("src [::1] and dev 1")), (true, true, false));
    assert_eq!(fam(h("src *")), (true, true, true));
    assert_eq!(fam(h("src inet6:*")), (false, true, false));
    assert_eq!(
        h("state listening").states,
        Some(StateSet::only(TcpState::Listen))
    );

    let q = h("src [::1]").apply(Query::default());
    assert!(!q.ipv4 && q.ipv6 && !q.unix);
    assert_eq!(q.states, Query::default().states);
    let q = h("state established src [::1]").apply(Query::default());
    assert_eq!(q.states, StateSet::only(TcpState::Established));
    assert!(!q.ipv4);
}

#[test]
fn hints_never_drop_a_matching_socket() {
    // For a set of expressions and sockets, a socket that matches must be
    // of a family the hint keeps.
    let sockets = [
        tcp("127.0.0.1:22", "10.0.0.1:5000", TcpState::Established),
        tcp(
            "[::ffff:127.0.0.1]:22",
            "[::ffff:10.0.0.1]:5000",
            TcpState::Established,
        ),
        tcp("[::1]:22", "[::1]:5000", TcpState::Established),
        tcp("[::]:22", "[::]:0", TcpState::Listen),
        unix(Some("/run/x"), None),
    ];
    let exprs = [
        "src 127.0.0.1",
        "src [::1]",
        "src [::1] or sport = :22",
        "! src [::1]",
        "src != [::1]",
        "src 0.0.0.0/0",
        "src ::/0",
        "src [::]:22 and dport = :0",
        "src unix:/run/*",
        "src * and sport = :22",
        "not sport = :22",
    ];
    for e in exprs {
        let f = parse(e);
        let h = f.query_hint();
        for s in &sockets {
            if f.matches(s, &snap()) {
                let kept = match s.family {
                    Family::Inet => h.ipv4,
                    Family::Inet6 => h.ipv6,
                    Family::Unix => h.unix,
                    Family::Packet | Family::Netlink => true,
                };
                assert!(kept, "{e}: hint drops matching {:?}", s.local);
            }
        }
    }
}

// ------------------------------------------------------------- robustness

mod prop {
    use super::*;
    use proptest::prelude::*;

    const VOCAB: &[&str] = &[
        "src",
        "dst",
        "sport",
        "dport",
        "dev",
        "process",
        "pid",
        "user",
        "service",
        "class",
        "state",
        "exclude",
        "and",
        "or",
        "not",
        "!",
        "(",
        ")",
        "=",
        "!=",
        "<",
        ">",
        "<=",
        ">=",
        "&&",
        "||",
        ":22",
        ":",
        "*",
        "*:80",
        "127.0.0.1",
        "[::1]:22",
        "::1/128",
        "10.0.0.0/8",
        "localhost",
        "unix:/run/*",
        "inet:",
        "inet6:[::]",
        "established",
        "listening",
        "all",
        "ssh",
        "system",
        "0",
        ":99999",
        "[",
        "]",
        "/",
        "\\",
        "lo",
        "sport>:1024",
        "(sport=:22)",
        "1.2.3.4:",
        "::",
        "eq",
        "ge",
    ];

    fn sample_sockets() -> Vec<Socket> {
        vec![
            tcp("127.0.0.1:22", "10.0.0.1:5000", TcpState::Established),
            tcp(
                "[::ffff:127.0.0.1]:80",
                "[::ffff:10.0.0.1]:5000",
                TcpState::Established,
            ),
            tcp("[::1]:22", "[::1]:5000", TcpState::TimeWait),
            tcp("0.0.0.0:22", "0.0.0.0:0", TcpState::Listen),
            unix(Some("/run/x"), None),
        ]
    }

    proptest! {
        #[test]
        fn arbitrary_words_never_panic(ws in proptest::collection::vec(any::<String>(), 0..8)) {
            match Filter::parse(&ws) {
                Ok(f) => {
                    for s in sample_sockets() {
                        let _ = f.matches(&s, &snap());
                    }
                }
                Err(e) => {
                    let text_len = e.text.chars().count();
                    prop_assert!(e.column >= 1 && e.column <= text_len + 1);
                    let _ = e.caret_lines();
                }
            }
        }

        #[test]
        fn token_soup_never_panics(
            picks in proptest::collection::vec(0..VOCAB.len(), 0..16),
            glue in proptest::collection::vec(any::<bool>(), 16),
        ) {
            // Build words from vocabulary tokens, sometimes glued together.
            let mut ws: Vec<String> = Vec::new();
            for (i, p) in picks.iter().enumerate() {
                let tok = VOCAB[*p];
                match ws.last_mut() {
                    Some(last) if glue[i] => last.push_str(tok),
                    _ => ws.push(tok.to_string()),
                }
            }
            match Filter::parse(&ws) {
                Ok(f) => {
                    let h = f.query_hint();
                    for s in sample_sockets() {
                        if f.matches(&s, &snap()) {
                            let kept = match s.family {
                                Family::Inet => h.ipv4,
                                Family::Inet6 => h.ipv6,
                                Family::Unix => h.unix,
                    Family::Packet | Family::Netlink => true,
                            };
                            prop_assert!(kept, "{:?} drops a matching socket", ws);
                        }
                    }
                }
                Err(e) => {
                    prop_assert!(e.column >= 1 && e.column <= e.text.chars().count() + 1);
                }
            }
        }
    }
}
