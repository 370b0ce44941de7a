//! `tanji device …`: device keys and meter registrations.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use tanji_park::{RegistrationRequest, Revoked};
use tanji_readings::{parse_json_registrations, DeviceRegistration, DeviceRevocation};

use crate::util;

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per run
pub enum DeviceCommand {
    /// Generate a device key: writes the secret to a file readable only by its owner and
    /// prints the public key to register (`device register --key-type T --public-key HEX`).
    Keygen {
        /// Where to write the secret key (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// ed25519 (default), sm2 (SM2 with SM3) or p256 (ECDSA P-256).
        #[arg(long, default_value = "ed25519")]
        key_type: String,
    },
    /// Bind a device key to one meter of an enterprise (a logged entry), or register many
    /// from a JSON-lines file (`--file`, as written by `tanji simulate`). Refuses while a
    /// server holds the park: register through its API then (`POST /api/v1/devices`).
    Register(RegisterArgs),
    /// Revoke a device's key (a logged entry): its later uploads are refused (`device_revoked`),
    /// its uploads logged before stay valid, and its id is not registered again. Refuses while
    /// a server holds the park: revoke through its API then
    /// (`POST /api/v1/devices/{device}/revoke`).
    Revoke {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
        /// Device id.
        #[arg(long)]
        device: String,
        /// Why (logged with the revocation; at most 256 bytes).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// List registered devices and their meters.
    List {
        /// The park's data directory.
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// The park's data directory.
    #[arg(long)]
    dir: PathBuf,
    /// Registrations as JSON lines (one per meter); replaces the single-meter flags.
    #[arg(long, conflicts_with_all = ["device", "public_key", "key_file", "enterprise", "meter"])]
    file: Option<PathBuf>,
    /// Device id.
    #[arg(long, required_unless_present = "file")]
    device: Option<String>,
    /// The device's public key (hex, as printed by `tanji device keygen`).
    #[arg(long, conflicts_with = "key_file")]
    public_key: Option<String>,
    /// The key's type: ed25519 (default), sm2 (SM2 with SM3) or p256 (ECDSA P-256), whose
    /// --public-key is a SEC1 point (compressed or uncompressed).
    #[arg(long, conflicts_with = "key_file")]
    key_type: Option<String>,
    /// Or: the device's secret key file (any key type), to read the public key from.
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// The enterprise the meter belongs to.
    #[arg(long, required_unless_present = "file")]
    enterprise: Option<String>,
    /// Meter id.
    #[arg(long, required_unless_present = "file")]
    meter: Option<String>,
    /// Energy carrier of the meter (electricity_import, electricity_export, pv_generation,
    /// natural_gas, diesel, gasoline, coal, lpg, fuel_oil, steam, heat).
    #[arg(long, default_value = "electricity_import")]
    carrier: String,
    /// Unit the meter reports in (default: kWh for electricity, m3 for gas, L for liquid fuels,
    /// t for coal and steam, GJ for heat).
    #[arg(long)]
    unit: Option<String>,
    /// Rated power of an electricity meter, kW (the most it can pass in an hour is this many kWh).
    #[arg(long, conflicts_with = "rated_per_hour")]
    rated_kw: Option<f64>,
    /// Rated capacity per hour in the meter's unit (e.g. 120 for a 120 m3/h gas meter).
    #[arg(long)]
    rated_per_hour: Option<f64>,
}

pub fn run(cmd: DeviceCommand) -> Result<ExitCode> {
    match cmd {
        DeviceCommand::Keygen { out, key_type } => keygen(out, &key_type),
        DeviceCommand::Register(a) => register(a),
        DeviceCommand::Revoke {
            dir,
            device,
            reason,
        } => revoke(dir, device, reason),
        DeviceCommand::List { dir } => list(dir),
    }
}

fn keygen(out: PathBuf, key_type: &str) -> Result<ExitCode> {
    let Some(t) = tanji_readings::KeyType::from_name(key_type) else {
        bail!("--key-type {key_type:?}: not a key type (ed25519, sm2 or p256)");
    };
    let key = tanji_park::keys::write_new_device_key(&out, t)
        .with_context(|| format!("writing the device key to {}", out.display()))?;
    println!(
        "{t} secret key written to {} (owner-readable only)",
        out.display()
    );
    println!("public key: {}", hex::encode(key.public_key().as_bytes()));
    Ok(ExitCode::SUCCESS)
}

fn single(a: &RegisterArgs) -> Result<DeviceRegistration> {
    let (public_key, key_type) = match (&a.public_key, &a.key_file) {
        (Some(h), None) => (h.clone(), a.key_type.clone()),
        (None, Some(f)) => {
            let k = tanji_park::keys::read_device_key(f)?.public_key();
            (hex::encode(k.as_bytes()), Some(k.key_type().to_string()))
        }
        _ => bail!("give the device's key: --public-key HEX or --key-file FILE"),
    };
    let request = RegistrationRequest {
        device: a.device.clone().unwrap_or_default(),
        public_key,
        key_type,
        enterprise: a.enterprise.clone().unwrap_or_default(),
        meter: a.meter.clone().unwrap_or_default(),
        carrier: Some(a.carrier.clone()),
        unit: a.unit.clone(),
        rated_kw: a.rated_kw,
        rated_per_hour: a.rated_per_hour,
    };
    // The request's field names, as this command's flags.
    request
        .to_registration(util::now())
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field.replace('_', "-"), e.message))
}

fn read_file(path: &PathBuf) -> Result<Vec<DeviceRegistration>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_json_registrations(&text).map_err(|(line, e)| {
        anyhow::Error::new(e).context(format!("{}:{line}: not a registration", path.display()))
    })
}

fn register(a: RegisterArgs) -> Result<ExitCode> {
    let regs = match &a.file {
        Some(f) => read_file(f)?,
        None => vec![single(&a)?],
    };
    let mut park = util::open(&a.dir)?;
    let summary = park.register(&regs)?;
    for (reg, index) in regs.iter().zip(&summary.logged) {
        if a.file.is_none() {
            println!(
                "registered device {} for meter {} ({}, rated {} {} per hour) of enterprise {} as log entry {index}",
                reg.device,
                reg.meter,
                reg.carrier,
                tanji_units::Fixed::new(reg.rated_per_hour_milli, 3)
                    .map(|f| f.to_string())
                    .unwrap_or_default(),
                reg.unit,
                reg.enterprise
            );
        }
    }
    println!(
        "{} registration(s) logged, {} already registered; log size {}",
        summary.logged.len(),
        summary.already,
        park.size()
    );
    Ok(ExitCode::SUCCESS)
}

fn revoke(dir: PathBuf, device: String, reason: String) -> Result<ExitCode> {
    let rev = DeviceRevocation {
        device,
        revoked_at: util::now(),
        reason,
    };
    rev.check()
        .map_err(|e| anyhow::anyhow!("revocation of device {:?}: {e}", rev.device))?;
    let mut park = util::open(&dir)?;
    match park.revoke(&rev)? {
        Revoked::Logged(index) => println!(
            "revoked device {} as log entry {index}; its later uploads are refused (device_revoked); log size {}",
            rev.device,
            park.size()
        ),
        Revoked::Already(index) => println!(
            "device {} was already revoked by log entry {index}; nothing written",
            rev.device
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn list(dir: PathBuf) -> Result<ExitCode> {
    print!("{}", util::open_read(&dir)?.device_table()?);
    Ok(ExitCode::SUCCESS)
}
