//! From [`ConnectOptions`] to a ready [`Command`]; the decisions (flags,
//! binary resolution, child env, whether to install) are `meerkat_proto`'s
//! [`LaunchPlan`]; an install runs in `meerkat_host`, on a blocking
//! thread.

use meerkat_proto::sdk::LaunchPlan;
use meerkat_proto::{ConnectOptions, Error, Launch};
use tokio::process::Command;

/// The launch of `options`, after installing `rkat-rpc` when it is missing
/// and `options.auto_install` asks for it.
pub(crate) async fn plan(options: &ConnectOptions) -> Result<LaunchPlan, Error> {
    match LaunchPlan::resolve(options, |k| std::env::var_os(k), |p| p.is_file())? {
        Launch::Run(plan) => Ok(plan),
        Launch::Install(install) => {
            let version = install.version.clone();
            let binary = tokio::task::spawn_blocking(move || meerkat_host::install(&install, |_| {}))
                .await
                .map_err(|e| Error::InstallFailed { version, message: e.to_string() })??;
            LaunchPlan::installed(options, &binary, |k| std::env::var_os(k))
        }
    }
}

/// The command that starts `plan`; the child is killed if it is dropped.
pub(crate) fn command(plan: &LaunchPlan) -> Command {
    let mut command = Command::new(&plan.program);
    command
        .args(&plan.args)
        .envs(plan.env.iter().cloned())
        .kill_on_drop(true);
    command
}
