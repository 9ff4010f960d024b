//! Exit codes (documented in `--help` and docs/operations.md) and how a failure is shown.

use std::fmt;

/// A runtime failure (a syscall failed).
pub const RUNTIME: u8 = 1;
/// Not root, or a capability is missing.
pub const PERMISSION: u8 = 3;
/// The kernel lacks something the bypass needs.
pub const UNSUPPORTED: u8 = 4;
/// The verifier rejected a program.
pub const VERIFIER: u8 = 5;
/// No cgroup v2, a cgroup v1 path, bpffs missing, a foreign pin directory.
pub const ENVIRONMENT: u8 = 6;
/// `load --strict` refused: the kernel has a quirk that changes what applications see
/// (see `crate::quirk`).
pub const QUIRK: u8 = 7;

/// An object cannot be loaded as written: not a BPF object, malformed, without programs,
/// or needing something this loader does not do. Nothing of it reached the verifier.
pub const NOT_LOADED: u8 = 8;

/// A failure with a chosen exit code and a hint on what to do.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Failure {
    /// A failure with an exit code.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// The same failure with a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    /// Wraps a loader error with what was being done; the exit code follows the error's kind.
    pub fn from_loader(doing: &str, e: loader::Error) -> anyhow::Error {
        anyhow::Error::new(e).context(doing.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

fn code_of_loader(e: &loader::Error) -> u8 {
    use loader::Error as E;
    match e {
        E::Verifier(_) => VERIFIER,
        E::Feature(loader::FeatureError::Missing { .. }) => UNSUPPORTED,
        E::NotCgroup2 { .. } | E::NoCgroup2Mount | E::NotBpffs { .. } => ENVIRONMENT,
        E::Unsupported(_) => NOT_LOADED,
        E::Object { source, .. } => code_of_loader(source),
        _ => match e.errno() {
            Some(libc::EPERM) | Some(libc::EACCES) => PERMISSION,
            _ => RUNTIME,
        },
    }
}

/// The exit code for an error: the first [`Failure`] or loader error in its chain decides.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code;
        }
        if let Some(e) = cause.downcast_ref::<loader::Error>() {
            return code_of_loader(e);
        }
        if let Some(e) = cause.downcast_ref::<loader::FeatureError>() {
            return match e {
                loader::FeatureError::Missing { .. } => UNSUPPORTED,
                _ => PERMISSION,
            };
        }
    }
    RUNTIME
}

/// A command's result as the process's exit status: success as it is; an error printed on
/// stderr (its whole chain with `-v`) and turned into its code ([`code_for`]). Both binaries,
/// `tcpbypass` and `tcpbypass-bench`, end through here.
pub fn finish(result: anyhow::Result<std::process::ExitCode>) -> std::process::ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            let code = code_for(&err);
            crate::log::error(&render(&err, crate::log::verbosity() > 0));
            std::process::ExitCode::from(code)
        }
    }
}

/// The text of an error: the outermost context first, then each cause; a verifier rejection
/// shows its reason and instruction, and with `verbose` its whole log.
pub fn render(err: &anyhow::Error, verbose: bool) -> String {
    let mut out = String::new();
    for (i, cause) in err.chain().enumerate() {
        let text = match cause.downcast_ref::<loader::Error>() {
            Some(loader::Error::Verifier(v)) if verbose => format!("{v:#}"),
            _ => cause.to_string(),
        };
        if i == 0 {
            out.push_str(&text);
        } else {
            out.push_str(&format!("\n  caused by: {text}"));
        }
        // A transparent loader error repeats its source's text: stop at the first loader error.
        if cause.downcast_ref::<loader::Error>().is_some() {
            break;
        }
    }
    if !verbose
        && err.chain().any(|c| {
            matches!(
                c.downcast_ref::<loader::Error>(),
                Some(loader::Error::Verifier(_))
            )
        })
    {
        out.push_str("\n  (run with -v, or `tcpbypass verify --log`, for the verifier's full log)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_code_wins() {
        let e = anyhow::Error::new(Failure::new(ENVIRONMENT, "x")).context("loading");
        assert_eq!(code_for(&e), ENVIRONMENT);
    }

    #[test]
    fn loader_errors_map_to_codes() {
        let e = anyhow::Error::new(loader::Error::NoCgroup2Mount);
        assert_eq!(code_for(&e), ENVIRONMENT);
        let e = anyhow::Error::new(loader::Error::Feature(loader::FeatureError::Missing {
            feature: "sockhash".into(),
        }));
        assert_eq!(code_for(&e), UNSUPPORTED);
        let e = anyhow::anyhow!("plain");
        assert_eq!(code_for(&e), RUNTIME);
    }

    #[test]
    fn render_shows_context_then_cause_and_hint() {
        let e = anyhow::Error::new(Failure::new(ENVIRONMENT, "no bpffs").hint("mount it"))
            .context("loading");
        let text = render(&e, false);
        assert!(text.starts_with("loading"), "{text}");
        assert!(text.contains("caused by: no bpffs"), "{text}");
        assert!(text.contains("hint: mount it"), "{text}");
    }
}
