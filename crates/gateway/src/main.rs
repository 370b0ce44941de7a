//! `tanji-gateway --config FILE`: runs the gateway (docs/gateway.md); `tanji-gateway check
//! --config FILE` parses the configuration and prints the meters; `tanji-gateway events
//! --config FILE` prints the outbox's journal (gaps, refusals, faults of the park);
//! `tanji-gateway bench --dir DIR` measures signing and the outbox's durable write rate.

use std::path::PathBuf;
use std::process::ExitCode;

use tanji_gateway::{Config, GatewayError};

fn usage() -> ExitCode {
    eprintln!("usage: tanji-gateway [run|check|events] --config FILE");
    eprintln!("       tanji-gateway bench --dir EMPTY_DIR [--records N]");
    ExitCode::from(2)
}

fn bench(args: &[String]) -> ExitCode {
    let (dir, n) = match args {
        [d, dir] if d == "--dir" => (PathBuf::from(dir), 2000),
        [d, dir, r, n] if d == "--dir" && r == "--records" => match n.parse() {
            Ok(n) if n > 0 => (PathBuf::from(dir), n),
            _ => return usage(),
        },
        _ => return usage(),
    };
    if std::fs::create_dir_all(&dir).is_err() || dir.join("outbox.sqlite").exists() {
        eprintln!("error: {} must be a new or empty directory", dir.display());
        return ExitCode::from(2);
    }
    println!("{n} records per key type, 2 channels of one 900 s value each");
    println!("| key type | signed in memory (records/s, one core) | read, sealed, signed, durable in the outbox (records/s; 3 fsynced commits a record) |");
    println!("|---|---:|---:|");
    for t in tanji_readings::KeyType::ALL {
        let sub = dir.join(t.name());
        let figures = std::fs::create_dir_all(&sub)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                tanji_gateway::bench::run(&sub, n, &tanji_gateway::bench::key(t))
                    .map_err(|e| e.to_string())
            });
        match figures {
            Ok(f) => println!("| {t} | {:.0} | {:.0} |", f.signed_per_s, f.durable_per_s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("bench") {
        return bench(&args[1..]);
    }
    let (command, rest) = match args.first().map(String::as_str) {
        Some("run" | "check" | "events") => (args[0].as_str(), &args[1..]),
        _ => ("run", &args[..]),
    };
    let path = match rest {
        [flag, path] if flag == "--config" => PathBuf::from(path),
        _ => return usage(),
    };
    let (config, meters) = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match command {
        "check" => {
            println!("device {} → {}", config.device, config.park.url);
            for m in &meters {
                println!("{}", m.describe());
            }
            ExitCode::SUCCESS
        }
        "events" if !config.state_dir.join("outbox.sqlite").exists() => {
            eprintln!(
                "error: no outbox in {}: the gateway has not run with this state_dir yet",
                config.state_dir.display()
            );
            ExitCode::FAILURE
        }
        "events" => {
            match tanji_gateway::outbox::Outbox::open(&config.state_dir).and_then(|o| o.events()) {
                Ok(events) => {
                    for (at, kind, message) in events {
                        println!("{}\t{kind}\t{message}", tanji_units::time::rfc3339(at));
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => serve(config, meters),
    }
}

fn serve(config: Config, meters: Vec<tanji_gateway::Meter>) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match runtime.block_on(tanji_gateway::run(config, meters, shutdown)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ GatewayError::Park(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(3)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
