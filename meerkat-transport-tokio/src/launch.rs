//! From [`ConnectOptions`] to a ready [`Command`]; the decisions (flags,
//! binary resolution, child env) are `meerkat_proto`'s [`LaunchPlan`].

use meerkat_proto::sdk::LaunchPlan;
use meerkat_proto::{ConnectOptions, Error};
use tokio::process::Command;

/// The plan and the command that starts `rkat-rpc` for `options`.
pub(crate) fn command(options: &ConnectOptions) -> Result<(LaunchPlan, Command), Error> {
    let plan = LaunchPlan::new(options, |k| std::env::var_os(k), |p| p.is_file())?;
    let mut command = Command::new(&plan.program);
    command
        .args(&plan.args)
        .envs(plan.env.iter().cloned())
        .kill_on_drop(true);
    Ok((plan, command))
}
