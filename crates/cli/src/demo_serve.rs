//! `tanji demo --serve`: the demo park kept up as a service, with its dashboard, after the
//! simulated devices have sent their uploads (`tanji_server::fleet`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use tanji_server::fleet::MqttPlan;

/// Serves the demo park on `listen` until Ctrl-C, with a fresh operator token for the
/// dashboard (its hash goes into `dir/tanji.toml`; the token is printed once).
pub fn serve(dir: &Path, listen: &str, mqtt: Option<&MqttPlan>) -> Result<ExitCode> {
    let (token, hash) = tanji_server::auth::new_token();
    let config_file = dir.join("tanji.toml");
    let mut text = format!(
        "# written by `tanji demo --serve`: one operator token for the dashboard\nlisten = {listen:?}\n\n[[tokens]]\nname = \"demo operator\"\nsha256 = \"{hash}\"\nrole = \"operator\"\n"
    );
    if let Some(plan) = mqtt {
        text.push_str(&format!(
            "\n# devices may publish on tanji/{}/<device>/up\n[mqtt]\nurl = {:?}\npark = {:?}\n",
            plan.park, plan.url, plan.park
        ));
    }
    std::fs::write(&config_file, text)
        .with_context(|| format!("writing {}", config_file.display()))?;
    println!();
    println!("dashboard: http://{listen}/dashboard/");
    println!("  operator token (paste it into the dashboard; not stored anywhere): {token}");
    println!("  config: {}", config_file.display());
    let matches =
        <crate::serve::ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"))
            .try_get_matches_from([
                "serve",
                "--dir",
                &dir.display().to_string(),
                "--config",
                &config_file.display().to_string(),
            ])
            .context("building the serve arguments")?;
    let args = <crate::serve::ServeArgs as clap::FromArgMatches>::from_arg_matches(&matches)
        .context("building the serve arguments")?;
    crate::serve::run(args)
}
