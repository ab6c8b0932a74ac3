//! The filter attached to a raw or packet socket (`SO_ATTACH_FILTER`,
//! `SO_ATTACH_BPF`), as asked of the socket itself rather than of a dump.

/// What is attached to a socket's receive path, as `SO_GET_FILTER` on a
/// duplicate of an owner's descriptor says. Asked only for raw sockets, and
/// for packet sockets whose dump could not show their filter.
///
/// ```
/// use portscope::model::SockFilter;
/// assert_eq!(SockFilter::Classic(4).kind(), "classic");
/// assert!(SockFilter::Ebpf.attached());
/// assert!(!SockFilter::Unknown("needs root").attached());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SockFilter {
    /// No filter is attached.
    None,
    /// A classic BPF program of this many instructions.
    Classic(u32),
    /// An eBPF program (`SO_ATTACH_BPF`), which the kernel will not dump.
    Ebpf,
    /// Could not be asked, and why (not root, no visible owner, refused).
    Unknown(&'static str),
}

impl SockFilter {
    /// `none`, `classic`, `ebpf` or `unknown`: the JSON `kind`.
    pub const fn kind(self) -> &'static str {
        match self {
            SockFilter::None => "none",
            SockFilter::Classic(_) => "classic",
            SockFilter::Ebpf => "ebpf",
            SockFilter::Unknown(_) => "unknown",
        }
    }

    /// Whether some program is known to be attached.
    pub const fn attached(self) -> bool {
        matches!(self, SockFilter::Classic(_) | SockFilter::Ebpf)
    }

    /// A classic program's instruction count.
    pub const fn instructions(self) -> Option<u32> {
        match self {
            SockFilter::Classic(n) => Some(n),
            _ => None,
        }
    }

    /// Why it is unknown.
    pub const fn reason(self) -> Option<&'static str> {
        match self {
            SockFilter::Unknown(r) => Some(r),
            _ => None,
        }
    }

    /// Reads a JSON `kind` (and `instructions`, `reason`) back; a reason
    /// not among those the collector gives reads as "not recorded".
    pub fn from_parts(kind: &str, instructions: Option<u32>, reason: Option<&str>) -> Option<Self> {
        Some(match kind {
            "none" => SockFilter::None,
            "classic" => SockFilter::Classic(instructions?),
            "ebpf" => SockFilter::Ebpf,
            "unknown" => SockFilter::Unknown(
                REASONS
                    .iter()
                    .find(|r| Some(**r) == reason)
                    .copied()
                    .unwrap_or("not recorded"),
            ),
            _ => return None,
        })
    }
}

/// The reasons a collector gives for [`SockFilter::Unknown`].
pub const REASONS: &[&str] = &[
    "needs root",
    "no visible owner",
    "owner gone",
    "refused by the kernel",
    "not recorded",
];
