//! Installing `rkat-rpc`: runs a [`meerkat_proto::InstallPlan`].

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use meerkat_proto::{Error, InstallPlan, InstallProgress, InstallSource};

/// How many lines of the installer's output a failure quotes.
const TAIL_LINES: usize = 20;

/// Makes sure `plan.binary` is installed and answers `--version` with the
/// plan's version; returns its path.
///
/// One install per plan at a time, across threads and processes: the
/// plan's lock file is held for the whole install, and a connect that
/// waited for it finds the binary the first one installed. Every step and
/// every line of the installer's output goes to `progress`, to the plan's
/// own callback and to `tracing` (target `meerkat_host`).
///
/// # Errors
///
/// [`Error::InstallFailed`] when the installer fails (with the end of its
/// output) or the binary does not answer with the version asked for;
/// [`Error::Io`] when the cache directory or the lock cannot be used.
///
/// ```no_run
/// # use meerkat_proto::{CargoInstall, InstallPlan};
/// # let plan = InstallPlan::new(&CargoInstall::new("0.5.2"), |k| std::env::var_os(k), |p| p.is_file())?;
/// let binary = meerkat_host::install(&plan, |_| {})?;
/// # Ok::<(), meerkat_proto::Error>(())
/// ```
pub fn install(
    plan: &InstallPlan,
    mut progress: impl FnMut(&InstallProgress),
) -> Result<PathBuf, Error> {
    let _span = tracing::info_span!("meerkat_host", version = %plan.version).entered();
    let mut report = |step: InstallProgress| {
        tracing::info!(target: "meerkat_host", "{step}");
        plan.report(&step);
        progress(&step);
    };
    if let Some(dir) = plan.lock.parent() {
        fs::create_dir_all(dir)?;
    }
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&plan.lock)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            report(InstallProgress::WaitingForLock {
                lock: plan.lock.clone(),
            });
            lock.lock()?;
        }
        Err(TryLockError::Error(e)) => return Err(e.into()),
    }
    let installed = install_locked(plan, &mut report);
    drop(unlock(lock));
    installed
}

/// The install, under the lock.
fn install_locked(
    plan: &InstallPlan,
    report: &mut impl FnMut(InstallProgress),
) -> Result<PathBuf, Error> {
    if plan.binary.is_file() {
        check(plan)?;
        report(InstallProgress::Found {
            binary: plan.binary.clone(),
        });
        return Ok(plan.binary.clone());
    }
    let InstallSource::Command { program, args, env } = &plan.source else {
        return Err(plan.failed("this SDK cannot run that install source"));
    };
    report(InstallProgress::Installing {
        version: plan.version.clone(),
        root: plan.root.clone(),
    });
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| plan.failed(format!("could not run {}: {e}", program.display())))?;
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).trim_end().to_owned();
            if tail.len() == TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.clone());
            report(InstallProgress::Output(line));
        }
    }
    let status = child.wait()?;
    if !status.success() {
        let tail: Vec<_> = tail.into_iter().collect();
        return Err(plan.failed(format!(
            "{} {status}; its last lines:\n{}",
            program.display(),
            tail.join("\n")
        )));
    }
    if !plan.binary.is_file() {
        return Err(plan.failed(format!(
            "{} succeeded but left no {}",
            program.display(),
            plan.binary.display()
        )));
    }
    check(plan)?;
    report(InstallProgress::Installed {
        binary: plan.binary.clone(),
    });
    Ok(plan.binary.clone())
}

/// `<binary> --version` must name the plan's version.
fn check(plan: &InstallPlan) -> Result<(), Error> {
    let out = Command::new(&plan.binary)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| plan.failed(format!("could not run {}: {e}", plan.binary.display())))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    plan.check_version(&text)
}

/// Releases the lock (closing the file would too).
fn unlock(lock: File) -> std::io::Result<()> {
    lock.unlock()
}
