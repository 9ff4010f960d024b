//! The verifier's word on a program: [`VerifierError`] when it rejects one (the kernel's
//! reason and the failing instruction first, the whole log on request) and [`LoadStats`]
//! when it accepts one.
//!
//! Log parsing is plain text work on lines such as
//!
//! ```text
//! 12: (69) r2 = *(u16 *)(r6 +68)
//! invalid bpf_context access off=68 size=2
//! processed 13 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1
//! ```
//!
//! and is tested on such samples offline.

use std::fmt;

/// Why the verifier rejected a program.
///
/// `Display` gives the kernel's reason and the failing instruction (disassembled, with the
/// nearest label of the [`asm::Program`]); the alternate form `{:#}` appends the whole log,
/// which [`VerifierError::log`] also returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierError {
    program: String,
    errno: i32,
    log: String,
    truncated: bool,
    reason: String,
    insn: Option<usize>,
    insn_text: Option<String>,
    label: Option<String>,
}

impl VerifierError {
    /// Builds the error from the log of a failed load. `source` is the program as assembled
    /// (for the instruction's text and label), when known.
    pub fn new(
        program: &str,
        errno: i32,
        log: String,
        truncated: bool,
        source: Option<&asm::Program>,
    ) -> VerifierError {
        let summary = parse_log(&log);
        let (insn_text, label) = match (summary.insn, source) {
            (Some(i), Some(p)) if i < p.len() => {
                let insns = p.insns();
                (
                    Some(asm::disasm::format_insn(&insns[i], insns.get(i + 1))),
                    label_of(p, i),
                )
            }
            _ => (None, None),
        };
        VerifierError {
            program: program.to_string(),
            errno,
            reason: summary
                .reason
                .unwrap_or_else(|| "(the verifier log is empty)".to_string()),
            insn: summary.insn,
            insn_text: insn_text.or(summary.insn_line),
            label,
            log,
            truncated,
        }
    }

    /// The program's name.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The errno of the failed load (usually EACCES or EINVAL).
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// The kernel's reason: the log's last meaningful line.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The index of the instruction the reason refers to, when the log names one.
    pub fn insn(&self) -> Option<usize> {
        self.insn
    }

    /// That instruction as text (our disassembly, or the log's own line when the program is
    /// not known).
    pub fn insn_text(&self) -> Option<&str> {
        self.insn_text.as_deref()
    }

    /// The nearest label at or before that instruction, as `label` or `label+N`.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The whole verifier log.
    pub fn log(&self) -> &str {
        &self.log
    }

    /// Whether the log was cut because it outgrew the largest buffer.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "verifier rejected program `{}`: {} ({})",
            self.program,
            self.reason,
            std::io::Error::from_raw_os_error(self.errno)
        )?;
        if let Some(i) = self.insn {
            write!(f, "\n  at instruction {i}")?;
            if let Some(l) = &self.label {
                write!(f, " <{l}>")?;
            }
            if let Some(t) = &self.insn_text {
                write!(f, ": {t}")?;
            }
        }
        if f.alternate() {
            write!(f, "\n\nverifier log")?;
            if self.truncated {
                write!(f, " (truncated)")?;
            }
            write!(f, ":\n{}", self.log.trim_end())?;
        }
        Ok(())
    }
}

impl std::error::Error for VerifierError {}

/// The nearest label (or function) at or before slot `insn`: `name` or `name+N`.
pub fn label_of(prog: &asm::Program, insn: usize) -> Option<String> {
    let label = prog
        .labels()
        .range(..=insn)
        .next_back()
        .and_then(|(at, names)| names.first().map(|n| (*at, n.clone())));
    let func = prog
        .functions()
        .iter()
        .filter(|(_, at)| *at <= insn)
        .max_by_key(|(_, at)| *at)
        .map(|(n, at)| (*at, n.clone()));
    let (at, name) = match (label, func) {
        (Some(l), Some(f)) => {
            if l.0 >= f.0 {
                l
            } else {
                f
            }
        }
        (l, f) => l.or(f)?,
    };
    Some(if at == insn {
        name
    } else {
        format!("{name}+{}", insn - at)
    })
}

/// What [`parse_log`] finds in a verifier log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSummary {
    /// The last meaningful line (the kernel's reason for a rejection).
    pub reason: Option<String>,
    /// The instruction index of the last instruction line before the reason (or named in
    /// the reason, e.g. "jump out of range from insn 3 to 9").
    pub insn: Option<usize>,
    /// That instruction line's text after `N: (code) `.
    pub insn_line: Option<String>,
}

/// Lines that follow the reason in a log and are not it.
fn is_trailer(line: &str) -> bool {
    line.is_empty()
        || line.starts_with("processed ")
        || line.starts_with("verification time")
        || line.starts_with("stack depth")
        || line.starts_with("-- END PROG LOAD LOG --")
        || line.starts_with("func#")
        || line.starts_with("mark_precise")
}

/// An instruction line `N: (xx) text`: the index and the text.
fn insn_line(line: &str) -> Option<(usize, &str)> {
    let (num, rest) = line.split_once(": ")?;
    let idx: usize = num.trim().parse().ok()?;
    let rest = rest.strip_prefix('(')?;
    let (code, text) = rest.split_once(") ")?;
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((idx, text))
}

/// The number after `insn ` in a message like "back-edge from insn 5 to 3".
fn insn_in_reason(reason: &str) -> Option<usize> {
    let pos = reason.find("insn ")?;
    let digits: String = reason[pos + 5..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Finds the reason and the failing instruction in a verifier log.
pub fn parse_log(log: &str) -> LogSummary {
    let lines: Vec<&str> = log.lines().map(str::trim_end).collect();
    let Some(reason_at) = lines.iter().rposition(|l| !is_trailer(l.trim())) else {
        return LogSummary::default();
    };
    let reason = lines[reason_at].trim().to_string();
    let found = lines[..reason_at]
        .iter()
        .rev()
        .find_map(|l| insn_line(l.trim()));
    let (insn, insn_line) = match (insn_line(&reason), found) {
        // The reason itself is an instruction line: the log was cut mid-way.
        (Some((i, t)), _) => (Some(i), Some(t.to_string())),
        (None, Some((i, t))) => (Some(i), Some(t.to_string())),
        (None, None) => (insn_in_reason(&reason), None),
    };
    LogSummary {
        reason: Some(reason),
        insn,
        insn_line,
    }
}

/// What the verifier reports about a program it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Instructions the verifier processed (`verified_insns` of the program info, 5.16+, or
    /// "processed N insns" of a stats log).
    pub verified_insns: Option<u32>,
    /// `total_states` of a stats log.
    pub total_states: Option<u32>,
    /// `peak_states` of a stats log.
    pub peak_states: Option<u32>,
    /// `max_states_per_insn` of a stats log.
    pub max_states_per_insn: Option<u32>,
    /// Verification time in microseconds, from a stats log.
    pub verification_time_usec: Option<u64>,
    /// Stack depth(s) from a stats log, as the kernel prints them (`8+0`).
    pub stack_depth: Option<String>,
}

impl LoadStats {
    /// Parses the statistics lines of a level-1 or `BPF_LOG_STATS` log.
    pub fn parse(log: &str) -> LoadStats {
        let mut s = LoadStats::default();
        for line in log.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("processed ") {
                let words: Vec<&str> = rest.split_whitespace().collect();
                s.verified_insns = words.first().and_then(|w| w.parse().ok());
                let after = |key: &str| -> Option<u32> {
                    let i = words.iter().position(|w| *w == key)?;
                    words.get(i + 1)?.parse().ok()
                };
                s.max_states_per_insn = after("max_states_per_insn");
                s.total_states = after("total_states");
                s.peak_states = after("peak_states");
            } else if let Some(rest) = line.strip_prefix("verification time ") {
                s.verification_time_usec =
                    rest.split_whitespace().next().and_then(|w| w.parse().ok());
            } else if let Some(rest) = line.strip_prefix("stack depth ") {
                s.stack_depth = Some(rest.trim().to_string());
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm::{Builder, Reg::*, Size};

    const CTX_LOG: &str = "\
func#0 @0
0: R1=ctx() R10=fp0
0: (bf) r6 = r1                       ; R1=ctx() R6_w=ctx()
1: (69) r2 = *(u16 *)(r6 +68)
invalid bpf_context access off=68 size=2
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
";

    fn sample_prog() -> asm::Program {
        let mut b = Builder::new();
        b.mov64(R6, R1)
            .label("read_port")
            .ldx(Size::H, R2, R6, 68)
            .mov64(R0, 1)
            .exit();
        b.build().unwrap()
    }

    #[test]
    fn reason_and_insn_from_ctx_access_log() {
        let s = parse_log(CTX_LOG);
        assert_eq!(
            s.reason.as_deref(),
            Some("invalid bpf_context access off=68 size=2")
        );
        assert_eq!(s.insn, Some(1));
        assert_eq!(s.insn_line.as_deref(), Some("r2 = *(u16 *)(r6 +68)"));
    }

    #[test]
    fn error_display_shows_reason_insn_label_and_log_on_alternate() {
        let p = sample_prog();
        let e = VerifierError::new("sockops", libc::EACCES, CTX_LOG.into(), false, Some(&p));
        assert_eq!(e.insn(), Some(1));
        assert_eq!(e.label(), Some("read_port"));
        let short = e.to_string();
        assert!(
            short.contains("invalid bpf_context access off=68 size=2"),
            "{short}"
        );
        assert!(short.contains("at instruction 1 <read_port>"), "{short}");
        assert!(!short.contains("processed 2 insns"), "{short}");
        let long = format!("{e:#}");
        assert!(long.contains("processed 2 insns"), "{long}");
        assert!(long.contains("func#0 @0"), "{long}");
        assert_eq!(e.log(), CTX_LOG);
    }

    #[test]
    fn label_offsets() {
        let p = sample_prog();
        assert_eq!(label_of(&p, 0).as_deref(), Some("main"));
        assert_eq!(label_of(&p, 1).as_deref(), Some("read_port"));
        assert_eq!(label_of(&p, 3).as_deref(), Some("read_port+2"));
    }

    #[test]
    fn reason_without_insn_lines() {
        let log = "back-edge from insn 5 to 3\nprocessed 0 insns (limit 1000000)\n";
        let s = parse_log(log);
        assert_eq!(s.reason.as_deref(), Some("back-edge from insn 5 to 3"));
        assert_eq!(s.insn, Some(5));
        let s = parse_log("R0 !read_ok\n");
        assert_eq!(s.reason.as_deref(), Some("R0 !read_ok"));
        assert_eq!(s.insn, None);
        assert_eq!(parse_log("\n\n"), LogSummary::default());
    }

    #[test]
    fn helper_not_allowed_log() {
        let log = "0: R1=ctx() R10=fp0\n0: (85) call bpf_get_socket_cookie#46\nprogram of this type cannot use helper bpf_get_socket_cookie#46\nprocessed 1 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        let s = parse_log(log);
        assert_eq!(s.insn, Some(0));
        assert!(s.reason.unwrap().contains("cannot use helper"));
    }

    #[test]
    fn stats_lines() {
        let log = "processed 13 insns (limit 1000000) max_states_per_insn 2 total_states 5 peak_states 4 mark_read 1\nverification time 35 usec\nstack depth 8\n";
        let s = LoadStats::parse(log);
        assert_eq!(s.verified_insns, Some(13));
        assert_eq!(s.max_states_per_insn, Some(2));
        assert_eq!(s.total_states, Some(5));
        assert_eq!(s.peak_states, Some(4));
        assert_eq!(s.verification_time_usec, Some(35));
        assert_eq!(s.stack_depth.as_deref(), Some("8"));
        assert_eq!(LoadStats::parse(""), LoadStats::default());
    }
}
