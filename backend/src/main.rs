//! The `gatehouse` binary: reads configuration, starts logging, and hands over to
//! [`gatehouse::run`] (serve) or runs a command (`audit verify`, `credentials`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gatehouse::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Gatehouse: a self-hosted identity and access broker"
)]
struct Cli {
    /// Configuration file (TOML); `GATEHOUSE_*` environment variables override it.
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: `sqlite://…` (default, under the data directory) or `postgres://…`.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Data directory for the SQLite database and the master key file.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and the web app.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
        /// The URL people reach Gatehouse at (sets cookie security and the CSRF origin).
        #[arg(long)]
        public_url: Option<String>,
        /// The built SPA directory (default `dist`).
        #[arg(long)]
        static_dir: Option<PathBuf>,
        /// Seed a small example directory (users, groups, accounts) on an empty install.
        #[arg(long)]
        demo: bool,
    },
    /// Print STS credentials as AWS-style `credential_process` JSON, fetched from a
    /// `credentials_uri` made in the portal (`credential_process = gatehouse credentials
    /// --uri <url>`). Needs no database and no configuration.
    Credentials {
        /// The credentials URL from the portal.
        #[arg(long, env = "ALIBABA_CLOUD_CREDENTIALS_URI")]
        uri: String,
    },
    /// Audit trail tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain, the checkpoints' signatures, links and cadence, and (with
    /// `--witness`) the checkpoints against the witness file; exit status 1 if altered.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// The witness file (`audit_witness_file`) to hold the database's checkpoints to.
        #[arg(long)]
        witness: Option<PathBuf>,
        /// The time-stamp authority's certificate (PEM) to check the witness's tokens
        /// with; default `audit_tsa_cert`. Without one, tokens' hashes are checked but not
        /// their signatures.
        #[arg(long, requires = "witness")]
        tsa_cert: Option<PathBuf>,
    },
    /// Fill a new, empty database with a realistic, chained made-up trail (for benchmarks
    /// and trying the audit pages at scale); every event is marked `"generated": true`.
    Generate {
        /// How many events.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// How many people.
        #[arg(long, default_value_t = 2_000)]
        people: u32,
        /// Over how many days, ending now.
        #[arg(long, default_value_t = 90)]
        days: u32,
        /// The same seed gives the same events (for the same end time).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The trail's end as Unix milliseconds (default now), to repeat a trail exactly.
        #[arg(long)]
        end_ms: Option<i64>,
    },
}

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

fn load_config(cli: &Cli) -> anyhow::Result<Config> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(url) = &cli.database_url {
        config.database_url = Some(url.clone());
    }
    if let Some(dir) = &cli.data_dir {
        config.data_dir.clone_from(dir);
    }
    Ok(config)
}

async fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Credentials { uri } = &cli.command {
        println!("{}", gatehouse::portal::cli::credential_process(uri).await?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut config = load_config(&cli)?;
    match cli.command {
        Command::Serve {
            bind,
            public_url,
            static_dir,
            demo,
        } => {
            if let Some(b) = bind {
                config.bind = b;
            }
            if public_url.is_some() {
                config.public_url = public_url;
            }
            if let Some(d) = static_dir {
                config.static_dir = d;
            }
            config.demo |= demo;
            config.validate()?;
            init_tracing(&config.log_format);
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
            gatehouse::run(config, listener, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Credentials { .. } => Ok(ExitCode::SUCCESS),
        Command::Audit {
            command:
                AuditCommand::Generate {
                    events,
                    people,
                    days,
                    seed,
                    end_ms,
                },
        } => {
            init_tracing(&config.log_format);
            let master = gatehouse::app::master_key(&config)?;
            let store = gatehouse::store::connect(&config.database_url(), &master).await?;
            use gatehouse::clock::Clock as _;
            let shape = gatehouse::audit::generate::Shape {
                events,
                people: people.max(1),
                days: days.max(1),
                seed,
                end: end_ms.unwrap_or_else(|| gatehouse::clock::SystemClock.now_ms()),
            };
            let started = std::time::Instant::now();
            let mut shown = 0;
            let written = gatehouse::audit::generate::fill(store.as_ref(), shape, |n| {
                if n - shown >= 500_000 || n == events {
                    shown = n;
                    let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-3);
                    eprintln!("{n} of {events} events ({rate:.0}/s)");
                }
            })
            .await?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{written} events in {secs:.1} s ({:.0} events/s)",
                written as f64 / secs.max(1e-3)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command:
                AuditCommand::Verify {
                    json,
                    witness,
                    tsa_cert,
                },
        } => {
            init_tracing(&config.log_format);
            let url = config.database_url();
            if let Some(path) = url.strip_prefix("sqlite://") {
                let file = path.split('?').next().unwrap_or(path);
                if !std::path::Path::new(file).exists() {
                    anyhow::bail!("there is no Gatehouse database at {file}; pass --data-dir or --database-url");
                }
            }
            let master = gatehouse::app::master_key(&config)?;
            let store = gatehouse::store::connect(&config.database_url(), &master).await?;
            let report =
                gatehouse::audit::verify::verify_store_with(store.as_ref(), config.audit_cadence())
                    .await?;
            let witnessed = match &witness {
                None => None,
                Some(path) => {
                    let cert = tsa_cert
                        .or(config.audit_tsa_cert.clone())
                        .map(|p| gatehouse::audit::witness::read_cert(&p))
                        .transpose()?;
                    Some(
                        gatehouse::audit::witness::verify_store_witness(
                            store.as_ref(),
                            path,
                            cert.as_ref(),
                        )
                        .await?,
                    )
                }
            };
            if json {
                let out = match &witnessed {
                    // Without --witness the report is printed as it always was.
                    None => serde_json::to_value(&report)?,
                    Some(w) => serde_json::json!({ "chain": report, "witness": w }),
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{}", gatehouse::audit::verify::describe(&report));
                if let Some(w) = &witnessed {
                    println!("{}", gatehouse::audit::witness::describe(w));
                }
            }
            let agrees = witnessed
                .as_ref()
                .is_none_or(gatehouse::audit::witness::WitnessCheck::agrees);
            Ok(if report.intact && agrees {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("gatehouse: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match rt.block_on(real_main(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            ExitCode::from(2)
        }
    }
}
