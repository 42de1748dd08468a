//! Configuration: built-in defaults, then a TOML file, then `GATEHOUSE_*` environment
//! variables, then command-line flags — each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// `Debug` is written by hand below: the master key, the bootstrap and SMTP passwords and
/// the database URL's credentials are never printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// `sqlite://…` or `postgres://…`; default: `sqlite://<data_dir>/gatehouse.db`.
    pub database_url: Option<String>,
    /// Where the SQLite database and the generated master key live.
    pub data_dir: PathBuf,
    /// The URL people and IdPs reach Gatehouse at; default `http://<bind>`.
    pub public_url: Option<String>,
    /// Force the cookie `Secure` flag on or off; default: on when `public_url` is https.
    pub cookie_secure: Option<bool>,
    /// The built SPA (`scripts/build-spa.sh` output).
    pub static_dir: PathBuf,
    /// The master key as 64 hex characters, instead of the key file.
    pub master_key: Option<String>,
    /// The master key file; default `<data_dir>/master.key`, created on first start.
    pub master_key_file: Option<PathBuf>,
    /// Password for the bootstrap administrator; generated and printed once if absent.
    pub bootstrap_password: Option<String>,
    /// A session ends after this long without a request…
    pub session_idle_timeout_secs: i64,
    /// …and after this long regardless.
    pub session_absolute_timeout_secs: i64,
    /// How long a TOTP check counts as "fresh MFA" for sensitive actions.
    pub mfa_fresh_secs: i64,
    /// Failed sign-ins allowed per account in `login_account_window_secs`.
    pub login_account_limit: i64,
    pub login_account_window_secs: i64,
    /// Failed sign-ins allowed per source address in `login_ip_window_secs`.
    pub login_ip_limit: i64,
    pub login_ip_window_secs: i64,
    /// Wrong TOTP codes allowed per person in `totp_failure_window_secs`, counted across
    /// sign-in, step-up, authenticator changes and break-glass decisions.
    pub totp_failure_limit: i64,
    pub totp_failure_window_secs: i64,
    /// How many password hashes (Argon2id, 19 MiB each) may run at once, across sign-in,
    /// password changes and administrators setting passwords; default the number of CPUs.
    pub password_hash_concurrency: Option<usize>,
    /// How long a password check waits for a turn before it is refused with 503.
    pub password_hash_wait_ms: u64,
    /// How many requests of each costly kind are worked on at once; half as many again may
    /// wait for a turn, and the rest are refused at once with 503 and `Retry-After: 1`
    /// (`crate::http::admission`). Defaults per CPU: local sign-ins 2, federated sign-ins
    /// 8, the portal 16, credential issue and the STS API 32 each.
    pub admission_sign_in: Option<usize>,
    pub admission_federation: Option<usize>,
    pub admission_credentials: Option<usize>,
    pub admission_portal: Option<usize>,
    pub admission_sts: Option<usize>,
    /// How long a request waits for a turn before it is refused.
    pub admission_wait_ms: u64,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// With `trust_forwarded_for`: how many proxies of yours stand in front of Gatehouse,
    /// each appending the address it received from. The client is the entry that many from
    /// the right; what the client wrote itself further left is never believed.
    pub trusted_proxy_hops: u32,
    /// `text` or `json`.
    pub log_format: String,
    /// Seed a small example directory on start.
    pub demo: bool,
    /// SMTP server for e-mail notifications; without it no e-mail is sent.
    pub smtp_host: Option<String>,
    /// Default: 25 (`none`), 587 (`starttls`), 465 (`tls`).
    pub smtp_port: Option<u16>,
    /// `none`, `starttls` or `tls` (implicit TLS).
    pub smtp_tls: String,
    pub smtp_username: Option<String>,
    /// Only from the environment or the file; never logged or shown.
    pub smtp_password: Option<String>,
    /// The sender, e.g. `Gatehouse <gatehouse@example.com>`.
    pub smtp_from: Option<String>,
    /// Per SMTP connection and per webhook request.
    pub notify_timeout_secs: u64,
    /// How often the background jobs run (audit checkpoints, sessions, notifications).
    pub jobs_interval_secs: u64,
    /// Alibaba Cloud's STS endpoint (`GATEHOUSE_ALIBABA_STS_ENDPOINT`); default the public
    /// one, or the account's region's when it names one.
    pub alibaba_sts_endpoint: Option<String>,
    /// Alibaba Cloud's RAM endpoint; default `https://ram.aliyuncs.com`.
    pub alibaba_ram_endpoint: Option<String>,
    /// Where console sign-in posts the SAML response; default the account's site's
    /// role-SSO endpoint. The assertion's Recipient stays the site's.
    pub alibaba_signin_url: Option<String>,
    /// AWS STS (`GATEHOUSE_AWS_STS_ENDPOINT`); default `https://sts.amazonaws.com`.
    pub aws_sts_endpoint: Option<String>,
    /// AWS IAM (`GATEHOUSE_AWS_IAM_ENDPOINT`); default `https://iam.amazonaws.com`.
    pub aws_iam_endpoint: Option<String>,
    /// Where console sign-in posts the SAML response (`GATEHOUSE_AWS_SIGNIN_URL`); default
    /// `https://signin.aws.amazon.com/saml`. The assertion's Recipient stays AWS's.
    pub aws_signin_url: Option<String>,
    /// The AWS account (12 digits, connected to Gatehouse) that starts break-glass root
    /// sessions in the others with `sts:AssumeRoot` (`GATEHOUSE_AWS_ROOT_SESSIONS_ACCOUNT`):
    /// the organization's management account or its IAM delegated administrator. Without it
    /// an `aws` account's root session is refused; its vault's reveals still work.
    pub aws_root_sessions_account: Option<String>,
    /// Per call to a cloud API (each retry included).
    pub cloud_timeout_secs: u64,
    /// How often a provisioned role in a cloud is compared with what it should be.
    pub drift_check_interval_secs: i64,
    /// The longest an audit event may wait for a signed checkpoint before `audit verify`
    /// calls it a gap in the cadence (checkpoints were removed, or no instance ran).
    pub audit_checkpoint_max_lag_secs: i64,
    /// A file each checkpoint is appended to as one JSON line, fsynced (the witness file;
    /// Gatehouse only ever appends). Keep it where the database's administrators cannot
    /// write, or ship it off the machine.
    pub audit_witness_file: Option<PathBuf>,
    /// An RFC 3161 time-stamp authority that stamps each checkpoint's hash
    /// (`application/timestamp-query` over HTTP).
    pub audit_tsa_url: Option<String>,
    /// The TSA's certificate (PEM): its tokens are checked with it as they arrive.
    pub audit_tsa_cert: Option<PathBuf>,
    /// Per request to the TSA.
    pub audit_tsa_timeout_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: None,
            data_dir: PathBuf::from("data"),
            public_url: None,
            cookie_secure: None,
            static_dir: PathBuf::from("dist"),
            master_key: None,
            master_key_file: None,
            bootstrap_password: None,
            session_idle_timeout_secs: 30 * 60,
            session_absolute_timeout_secs: 12 * 60 * 60,
            mfa_fresh_secs: 5 * 60,
            login_account_limit: 5,
            login_account_window_secs: 15 * 60,
            login_ip_limit: 30,
            login_ip_window_secs: 5 * 60,
            totp_failure_limit: 5,
            totp_failure_window_secs: 15 * 60,
            password_hash_concurrency: None,
            password_hash_wait_ms: 2000,
            admission_sign_in: None,
            admission_federation: None,
            admission_credentials: None,
            admission_portal: None,
            admission_sts: None,
            admission_wait_ms: 500,
            trust_forwarded_for: false,
            trusted_proxy_hops: 1,
            log_format: "text".into(),
            demo: false,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: "starttls".into(),
            smtp_username: None,
            smtp_password: None,
            smtp_from: None,
            notify_timeout_secs: 10,
            jobs_interval_secs: 5,
            alibaba_sts_endpoint: None,
            alibaba_ram_endpoint: None,
            alibaba_signin_url: None,
            aws_sts_endpoint: None,
            aws_iam_endpoint: None,
            aws_signin_url: None,
            aws_root_sessions_account: None,
            cloud_timeout_secs: 10,
            drift_check_interval_secs: 15 * 60,
            audit_checkpoint_max_lag_secs: crate::audit::CHECKPOINT_MAX_LAG_MS / 1000,
            audit_witness_file: None,
            audit_tsa_url: None,
            audit_tsa_cert: None,
            audit_tsa_timeout_secs: 10,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field(
                "database_url",
                &self.database_url.as_deref().map(without_credentials),
            )
            .field("data_dir", &self.data_dir)
            .field("public_url", &self.public_url)
            .field("cookie_secure", &self.cookie_secure)
            .field("static_dir", &self.static_dir)
            .field("master_key", &hidden(&self.master_key))
            .field("master_key_file", &self.master_key_file)
            .field("bootstrap_password", &hidden(&self.bootstrap_password))
            .field("session_idle_timeout_secs", &self.session_idle_timeout_secs)
            .field(
                "session_absolute_timeout_secs",
                &self.session_absolute_timeout_secs,
            )
            .field("mfa_fresh_secs", &self.mfa_fresh_secs)
            .field("login_account_limit", &self.login_account_limit)
            .field("login_account_window_secs", &self.login_account_window_secs)
            .field("login_ip_limit", &self.login_ip_limit)
            .field("login_ip_window_secs", &self.login_ip_window_secs)
            .field("totp_failure_limit", &self.totp_failure_limit)
            .field("totp_failure_window_secs", &self.totp_failure_window_secs)
            .field("password_hash_concurrency", &self.password_hash_concurrency)
            .field("password_hash_wait_ms", &self.password_hash_wait_ms)
            .field("admission_sign_in", &self.admission_sign_in)
            .field("admission_federation", &self.admission_federation)
            .field("admission_credentials", &self.admission_credentials)
            .field("admission_portal", &self.admission_portal)
            .field("admission_sts", &self.admission_sts)
            .field("admission_wait_ms", &self.admission_wait_ms)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("trusted_proxy_hops", &self.trusted_proxy_hops)
            .field("log_format", &self.log_format)
            .field("demo", &self.demo)
            .field("smtp_host", &self.smtp_host)
            .field("smtp_port", &self.smtp_port)
            .field("smtp_tls", &self.smtp_tls)
            .field("smtp_username", &self.smtp_username)
            .field("smtp_password", &hidden(&self.smtp_password))
            .field("smtp_from", &self.smtp_from)
            .field("notify_timeout_secs", &self.notify_timeout_secs)
            .field("jobs_interval_secs", &self.jobs_interval_secs)
            .field(
                "audit_checkpoint_max_lag_secs",
                &self.audit_checkpoint_max_lag_secs,
            )
            .field("audit_witness_file", &self.audit_witness_file)
            .field(
                "audit_tsa_url",
                &self.audit_tsa_url.as_deref().map(without_credentials),
            )
            .field("audit_tsa_cert", &self.audit_tsa_cert)
            .field("audit_tsa_timeout_secs", &self.audit_tsa_timeout_secs)
            .field("alibaba_sts_endpoint", &self.alibaba_sts_endpoint)
            .field("alibaba_ram_endpoint", &self.alibaba_ram_endpoint)
            .field("alibaba_signin_url", &self.alibaba_signin_url)
            .field("aws_sts_endpoint", &self.aws_sts_endpoint)
            .field("aws_iam_endpoint", &self.aws_iam_endpoint)
            .field("aws_signin_url", &self.aws_signin_url)
            .field("aws_root_sessions_account", &self.aws_root_sessions_account)
            .field("cloud_timeout_secs", &self.cloud_timeout_secs)
            .field("drift_check_interval_secs", &self.drift_check_interval_secs)
            .finish()
    }
}

/// A database URL without what could be a secret: the user and password before `@`, and
/// the query (PostgreSQL accepts `?password=`).
fn without_credentials(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest
        .split_once('?')
        .map_or(rest.to_string(), |(r, _)| format!("{r}?<redacted>"));
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest.as_str(), None), |(a, p)| (a, Some(p)));
    let host = authority
        .rsplit_once('@')
        .map_or(authority.to_string(), |(_, h)| format!("<redacted>@{h}"));
    let path = path.map(|p| format!("/{p}")).unwrap_or_default();
    if scheme.is_empty() {
        format!("{host}{path}")
    } else {
        format!("{scheme}://{host}{path}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The configured bound of one kind of request, if one is set.
    pub fn admission(&self, class: crate::admission::Class) -> Option<usize> {
        use crate::admission::Class;
        match class {
            Class::SignIn => self.admission_sign_in,
            Class::Federation => self.admission_federation,
            Class::Credentials => self.admission_credentials,
            Class::Portal => self.admission_portal,
            Class::Sts => self.admission_sts,
        }
    }

    /// Defaults ← `file` (if given) ← `GATEHOUSE_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError::Invalid(format!(
                    "the configuration file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("GATEHOUSE_").ignore(&["config", "bin"]));
        let cfg: Config = fig.extract().map_err(Box::new)?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(
                    "public_url must start with http:// or https://".into(),
                ));
            }
        }
        if let Some(id) = &self.aws_root_sessions_account {
            if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError::Invalid(
                    "aws_root_sessions_account is an AWS account ID: 12 digits".into(),
                ));
            }
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid("log_format is text or json".into()));
        }
        if !matches!(self.smtp_tls.as_str(), "none" | "starttls" | "tls") {
            return Err(ConfigError::Invalid(
                "smtp_tls is none, starttls or tls".into(),
            ));
        }
        if self.smtp_host.is_some() && self.smtp_from.is_none() {
            return Err(ConfigError::Invalid(
                "smtp_from is required when smtp_host is set".into(),
            ));
        }
        if self.jobs_interval_secs == 0 {
            return Err(ConfigError::Invalid(
                "jobs_interval_secs must be positive".into(),
            ));
        }
        // A checkpoint normally follows new events within a minute and a tick; the lag
        // allowed must leave room for that, or every honest trail would fail to verify.
        let normal_lag_secs = crate::audit::CHECKPOINT_INTERVAL_MS / 1000
            + i64::try_from(self.jobs_interval_secs).unwrap_or(i64::MAX);
        if self.audit_checkpoint_max_lag_secs < 2 * normal_lag_secs {
            return Err(ConfigError::Invalid(format!(
                "audit_checkpoint_max_lag_secs must be at least {} (twice the minute a \
                 checkpoint waits plus jobs_interval_secs)",
                2 * normal_lag_secs
            )));
        }
        if let Some(url) = &self.audit_tsa_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(
                    "audit_tsa_url must start with http:// or https://".into(),
                ));
            }
        }
        if self.audit_tsa_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "audit_tsa_timeout_secs must be positive".into(),
            ));
        }
        if self.password_hash_concurrency == Some(0) {
            return Err(ConfigError::Invalid(
                "password_hash_concurrency must be at least 1".into(),
            ));
        }
        for class in crate::admission::Class::ALL {
            if self.admission(class) == Some(0) {
                return Err(ConfigError::Invalid(format!(
                    "admission_{} must be at least 1",
                    class.name()
                )));
            }
        }
        if self.notify_timeout_secs == 0 {
            return Err(ConfigError::Invalid(
                "notify_timeout_secs must be positive".into(),
            ));
        }
        for (name, v) in [
            ("session_idle_timeout_secs", self.session_idle_timeout_secs),
            (
                "session_absolute_timeout_secs",
                self.session_absolute_timeout_secs,
            ),
            ("mfa_fresh_secs", self.mfa_fresh_secs),
            ("login_account_limit", self.login_account_limit),
            ("login_account_window_secs", self.login_account_window_secs),
            ("login_ip_limit", self.login_ip_limit),
            ("login_ip_window_secs", self.login_ip_window_secs),
            ("totp_failure_limit", self.totp_failure_limit),
            ("totp_failure_window_secs", self.totp_failure_window_secs),
        ] {
            if v <= 0 {
                return Err(ConfigError::Invalid(format!("{name} must be positive")));
            }
        }
        Ok(())
    }

    /// The checkpoint cadence `audit verify` holds the trail to.
    pub fn audit_cadence(&self) -> crate::audit::Cadence {
        crate::audit::Cadence {
            max_lag_ms: self.audit_checkpoint_max_lag_secs.saturating_mul(1000),
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("gatehouse.db").display()))
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    /// The public URL without a trailing slash, given the address actually bound.
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
            .trim_end_matches('/')
            .to_string()
    }

    pub fn cookie_secure_for(&self, public_url: &str) -> bool {
        self.cookie_secure
            .unwrap_or_else(|| public_url.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_witness_settings_are_checked() {
        let ok = Config::default();
        assert!(ok.validate().is_ok());
        assert_eq!(ok.audit_cadence().max_lag_ms, 600_000);
        for bad in [
            Config {
                audit_checkpoint_max_lag_secs: 129,
                ..Config::default()
            },
            Config {
                audit_checkpoint_max_lag_secs: 200,
                jobs_interval_secs: 60,
                ..Config::default()
            },
            Config {
                audit_tsa_url: Some("ftp://tsa.example".into()),
                ..Config::default()
            },
            Config {
                audit_tsa_timeout_secs: 0,
                ..Config::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let least = Config {
            audit_checkpoint_max_lag_secs: 130,
            ..Config::default()
        };
        assert!(least.validate().is_ok());
    }

    #[test]
    fn debug_never_prints_a_secret() {
        let config = Config {
            database_url: Some(
                "postgres://gatehouse:db-pass-1@db.internal:5432/gh?sslmode=require&password=db-pass-2"
                    .into(),
            ),
            master_key: Some("master-key-value".into()),
            bootstrap_password: Some("bootstrap-pass".into()),
            smtp_username: Some("mailer".into()),
            smtp_password: Some("smtp-pass".into()),
            audit_tsa_url: Some("https://stamper:tsa-pass@tsa.example/stamp".into()),
            ..Config::default()
        };

        let printed = format!("{config:?}");

        for secret in [
            "db-pass-1",
            "db-pass-2",
            "gatehouse:",
            "master-key-value",
            "bootstrap-pass",
            "smtp-pass",
            "tsa-pass",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("postgres://<redacted>@db.internal:5432/gh?<redacted>"));
        assert!(
            printed.contains("mailer"),
            "what is not secret stays readable"
        );
    }

    #[test]
    fn database_paths_stay_readable() {
        assert_eq!(
            without_credentials("sqlite:///var/lib/gatehouse/gatehouse.db"),
            "sqlite:///var/lib/gatehouse/gatehouse.db"
        );
        assert_eq!(
            without_credentials("sqlite://gatehouse.db"),
            "sqlite://gatehouse.db"
        );
        assert_eq!(
            without_credentials("postgres://127.0.0.1:5432/postgres"),
            "postgres://127.0.0.1:5432/postgres"
        );
    }
}

/// Runtime settings derived from [`Config`] once the listening address is known.
#[derive(Debug, Clone)]
pub struct Settings {
    pub public_url: String,
    /// `scheme://host[:port]` of `public_url`, for the CSRF origin check.
    pub public_origin: String,
    pub cookie_secure: bool,
    pub session_idle_ms: i64,
    pub session_absolute_ms: i64,
    pub mfa_fresh_ms: i64,
    pub login_account_limit: i64,
    pub login_account_window_ms: i64,
    pub login_ip_limit: i64,
    pub login_ip_window_ms: i64,
    pub totp_failure_limit: i64,
    pub totp_failure_window_ms: i64,
    /// The bound on concurrent password hashing, shared by every request of this app.
    pub password_hashing: crate::auth::password::Hashing,
    /// The turns of each costly kind of request (see [`crate::http::admission`]).
    pub admission: std::sync::Arc<crate::admission::Admission>,
    /// With a trusted proxy in front: how many entries from the right of `X-Forwarded-For`
    /// the client address stands (`None`: the header is ignored).
    pub forwarded_hops: Option<usize>,
    /// How often [`crate::app::tick`] runs.
    pub jobs_interval: Duration,
    /// Where the cloud providers' APIs are.
    pub cloud: crate::cloud::CloudSettings,
    /// The checkpoint cadence `GET /api/v1/audit/verify` holds the trail to.
    pub audit_cadence: crate::audit::Cadence,
}

impl Settings {
    pub fn from_config(config: &Config, bound: SocketAddr) -> Self {
        let public_url = config.public_url_for(bound);
        let public_origin = match public_url.split_once("://") {
            Some((scheme, rest)) => {
                format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
            }
            None => public_url.clone(),
        };
        Self {
            cookie_secure: config.cookie_secure_for(&public_url),
            public_url,
            public_origin,
            session_idle_ms: config.session_idle_timeout_secs * 1000,
            session_absolute_ms: config.session_absolute_timeout_secs * 1000,
            mfa_fresh_ms: config.mfa_fresh_secs * 1000,
            login_account_limit: config.login_account_limit,
            login_account_window_ms: config.login_account_window_secs * 1000,
            login_ip_limit: config.login_ip_limit,
            login_ip_window_ms: config.login_ip_window_secs * 1000,
            totp_failure_limit: config.totp_failure_limit,
            totp_failure_window_ms: config.totp_failure_window_secs * 1000,
            password_hashing: crate::auth::password::Hashing::new(
                config
                    .password_hash_concurrency
                    .unwrap_or_else(crate::auth::password::default_concurrency),
                Duration::from_millis(config.password_hash_wait_ms),
            ),
            admission: std::sync::Arc::new(crate::admission::Admission::new(
                |class| {
                    config.admission(class).unwrap_or_else(|| {
                        class.default_concurrency(crate::auth::password::default_concurrency())
                    })
                },
                Duration::from_millis(config.admission_wait_ms),
            )),
            forwarded_hops: config
                .trust_forwarded_for
                .then(|| usize::try_from(config.trusted_proxy_hops.max(1)).unwrap_or(1)),
            jobs_interval: Duration::from_secs(config.jobs_interval_secs),
            cloud: crate::cloud::CloudSettings::from_config(config),
            audit_cadence: config.audit_cadence(),
        }
    }
}
