//! From [`ConnectOptions`] to a ready [`Command`]; the decisions (flags,
//! binary resolution, child env, whether to install) are `meerkat_proto`'s
//! [`LaunchPlan`]; an install runs in `meerkat_host`.

use meerkat_proto::sdk::LaunchPlan;
use meerkat_proto::{ConnectOptions, Error, Launch};
use std::process::Command;

/// The launch of `options`, after installing `rkat-rpc` when it is missing
/// and `options.auto_install` asks for it (this thread waits).
pub(crate) fn plan(options: &ConnectOptions) -> Result<LaunchPlan, Error> {
    match LaunchPlan::resolve(options, |k| std::env::var_os(k), |p| p.is_file())? {
        Launch::Run(plan) => Ok(plan),
        Launch::Install(install) => {
            let binary = meerkat_host::install(&install, |_| {})?;
            LaunchPlan::installed(options, &binary, |k| std::env::var_os(k))
        }
    }
}

/// The command that starts `plan`.
pub(crate) fn command(plan: &LaunchPlan) -> Command {
    let mut command = Command::new(&plan.program);
    command.args(&plan.args).envs(plan.env.iter().cloned());
    command
}
