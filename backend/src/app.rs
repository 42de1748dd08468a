//! The application: shared state, the router every capability contributes to, start-up
//! (store, master key, bootstrap administrator), background work, and `run`, which `main`
//! and the tests both call.

use gatehouse_shared::audit::AuditAction;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::routing::any;
use axum::Router;
use gatehouse_shared::auth::Role;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use zeroize::Zeroizing;

use crate::audit::{AuditCtx, NewEvent};
use crate::clock::{Clock, Millis, SystemClock};
use crate::config::Config;
pub use crate::config::Settings;
use crate::http::{csrf, ops, spa};
use crate::secrets::{random_token, MasterKey};
use crate::store::{self, NewGroupRecord, NewUserRecord, Store};
use crate::sts::Sts;
use crate::{
    access_requests, audit, auth, break_glass, directory, jobs, permission_sets, portal, sts,
};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub master: MasterKey,
    pub settings: Arc<Settings>,
    pub metrics: PrometheusHandle,
    pub static_dir: Arc<std::path::PathBuf>,
    /// STS keys, revocations and nonces (see [`crate::sts`]).
    pub sts: Arc<Sts>,
    /// The cloud providers' HTTP client, IdP keys and provisioner sessions (see
    /// [`crate::cloud`]).
    pub cloud: Arc<crate::cloud::Cloud>,
    /// Federation's HTTP client and OIDC discovery cache (see [`crate::federation`]).
    pub federation: Arc<crate::federation::Federation>,
    /// Webhook and e-mail sending (see [`crate::notifications`]).
    pub notify: Arc<crate::notifications::Notifier>,
    /// Where audit checkpoints are witnessed outside the database (see
    /// [`crate::audit::witness`]).
    pub witness: Arc<audit::witness::Witness>,
    /// Whether the database was last seen unreachable (see [`crate::http::availability`]).
    pub db_health: Arc<crate::http::availability::DbHealth>,
}

impl AppState {
    /// What the sign-in, TOTP and break-glass rules work on, lent from the state.
    pub fn auth_env(&self) -> auth::login::Env<'_> {
        auth::login::Env {
            store: &*self.store,
            master: &self.master,
            settings: &self.settings,
        }
    }

    /// What the cloud providers work on, lent from the state.
    pub fn cloud_env(&self) -> crate::cloud::Env<'_> {
        crate::cloud::Env {
            store: &*self.store,
            master: &self.master,
            cloud: &self.cloud,
            sts: &self.sts,
        }
    }

    /// What the federation rules work on, lent from the state.
    pub fn federation_env(&self) -> crate::federation::Env<'_> {
        crate::federation::Env {
            store: &*self.store,
            master: &self.master,
            settings: &self.settings,
            federation: &self.federation,
        }
    }
}

/// The master key: given by the operator, or the key file (created on first start).
pub fn master_key(config: &Config) -> anyhow::Result<MasterKey> {
    Ok(match &config.master_key {
        Some(hex) => MasterKey::from_hex(hex)?,
        None => MasterKey::load_or_create(&config.master_key_file())?,
    })
}

/// Opens the store, creates the bootstrap administrator on an empty directory, and (with
/// `demo`) seeds the example directory.
pub async fn build(
    config: &Config,
    bound: SocketAddr,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    let master = master_key(config)?;
    let store = store::connect(&config.database_url(), &master).await?;
    let sts = Arc::new(Sts::new(&master, store.clone()));
    sts.revocations.reload(&*store, clock.now_ms()).await?;
    let settings = Settings::from_config(config, bound);
    let cloud = Arc::new(crate::cloud::Cloud::new(
        settings.cloud.clone(),
        &settings.public_url,
    )?);
    let notify = Arc::new(crate::notifications::Notifier::new(
        config,
        &settings.public_url,
        &master,
    )?);
    let state = AppState {
        witness: Arc::new(audit::witness::Witness::from_config(config)?),
        federation: Arc::new(crate::federation::Federation::new(store.clone())?),
        notify,
        sts,
        cloud,
        store,
        clock,
        master,
        settings: Arc::new(settings),
        metrics: ops::prometheus(),
        static_dir: Arc::new(config.static_dir.clone()),
        db_health: Arc::default(),
    };
    let now = state.clock.now_ms();
    // The demo's history begins when its administrator was made.
    let made_at = if config.demo {
        now - crate::demo::HISTORY_MS
    } else {
        now
    };
    let created = bootstrap(&state, config.bootstrap_password.clone(), made_at).await?;
    if config.demo {
        match created {
            Some(admin_password) => {
                let env = crate::demo::Env {
                    auth: state.auth_env(),
                    cloud: state.cloud_env(),
                };
                crate::demo::seed(env, &admin_password, made_at, now).await?;
            }
            None if state.store.demo_objects().await?.is_empty() => println!(
                "--demo: this database was already in use, so no demo company was made; \
                 start with an empty data directory to get one."
            ),
            None => {}
        }
    }
    Ok(state)
}

/// The bootstrap administrator, so Gatehouse can be configured before any IdP exists.
/// Its password is taken from the configuration, or generated and printed once. Made at
/// `now` on an empty database: then its password is returned.
async fn bootstrap(
    state: &AppState,
    password: Option<String>,
    now: Millis,
) -> anyhow::Result<Option<Zeroizing<String>>> {
    let generated = password.is_none();
    let password = Zeroizing::new(password.unwrap_or_else(|| random_token(18)));
    if gatehouse_shared::validate::Password::parse(&password).is_err() {
        anyhow::bail!("GATEHOUSE_BOOTSTRAP_PASSWORD must have at least 12 characters");
    }
    let hash = auth::password::hash(&state.settings.password_hashing, password.clone()).await?;
    let user = NewUserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        username: "admin".into(),
        email: "admin@localhost.localdomain".into(),
        display_name: "Bootstrap administrator".into(),
        source: "local".into(),
        password_hash: Some(hash),
        created_at: now,
    };
    let group = NewGroupRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: "gatehouse-admins".into(),
        description: "Gatehouse administrators".into(),
        roles: Role::Administrator.as_str().into(),
        created_at: now,
    };
    let event = NewEvent::new(now, &AuditCtx::system(), AuditAction::DirectoryBootstrap, "user", Some(user.id.clone()))
        .details(serde_json::json!({ "username": "admin", "group": "gatehouse-admins", "password_generated": generated }));
    if state.store.bootstrap_admin(user, group, event).await? {
        if generated {
            println!(
                "Bootstrap administrator created.\n  username: admin\n  password: {}\nThis password is shown once. Sign in, then change it and set up TOTP under My account.",
                password.as_str()
            );
        } else {
            println!("Bootstrap administrator created: username admin, password from GATEHOUSE_BOOTSTRAP_PASSWORD.");
        }
        return Ok(Some(password));
    }
    Ok(None)
}

/// Every route of every capability, with the edge's layers.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(auth::routes::routes())
        .merge(directory::routes::routes())
        .merge(audit::routes::routes())
        .merge(permission_sets::routes::routes())
        .merge(portal::routes::routes())
        .merge(access_requests::routes::routes())
        .merge(sts::routes::routes())
        .merge(break_glass::routes::routes())
        .merge(crate::federation::routes::api_routes())
        .merge(crate::notifications::routes::routes())
        .merge(crate::cloud::routes::routes())
        .merge(crate::demo::routes::routes())
        .route_layer(middleware::from_fn(ops::track))
        .route("/api", any(spa::api_not_found))
        .route("/api/{*rest}", any(spa::api_not_found))
        .route("/auth/{*rest}", any(spa::api_not_found))
        .method_not_allowed_fallback(spa::method_not_allowed)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(DefaultBodyLimit::max(1 << 20))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::origin_guard,
        ));

    let spa_routes = if state.static_dir.join("index.html").exists() {
        spa::service(&state.static_dir)
    } else {
        Router::new().fallback(spa::not_built)
    };

    // The STS API: SDKs post to the endpoint's root, so `/` is STS when the request is an
    // STS call and the SPA otherwise. No CSRF guard: these requests carry no cookie.
    let sts_api = Router::new()
        .route("/sts", any(sts::rpc_routes::handle))
        .route("/sts/", any(sts::rpc_routes::handle))
        .route("/sts/{*rest}", any(sts::rpc_routes::handle))
        .route("/", any(spa::root))
        .route_layer(middleware::from_fn(ops::track));

    let federation_browser = crate::federation::routes::browser_routes()
        .layer(DefaultBodyLimit::max(8 << 20))
        .route_layer(middleware::from_fn(ops::track));

    Router::new()
        .merge(api)
        .merge(sts_api)
        .merge(federation_browser)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::availability::guard,
        ))
        // Outside the guard: a request beyond capacity is refused before anything else.
        .merge(ops::routes())
        .merge(spa_routes)
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                // The path only (query strings may carry capability tokens), and without
                // the tokens some paths carry.
                let path = crate::http::ops::loggable_path(req.uri().path());
                tracing::info_span!("http", method = %req.method(), %path)
            }),
        )
        // Outermost: a request beyond its kind's capacity is refused before anything else
        // is spent on it (`http/admission.rs`).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::http::admission::admit,
        ))
        .with_state(state)
}

/// One background step on `state` at its clock's now: see [`jobs::tick`].
pub async fn tick(state: &AppState) -> store::StoreResult<jobs::TickReport> {
    let parts = jobs::Parts {
        store: &*state.store,
        sts: &state.sts,
        notifier: &state.notify,
        witness: &state.witness,
        session_idle_ms: state.settings.session_idle_ms,
        cloud: state.cloud_env(),
    };
    jobs::tick(&parts, state.clock.now_ms()).await
}

/// Repeats [`tick`] every `every` until aborted; a failed tick is logged and retried.
async fn run_jobs_forever(state: AppState, every: Duration) {
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(e) = tick(&state).await {
            tracing::warn!(error = %e, "background tick failed; will retry");
        }
    }
}

/// Serves until `shutdown` resolves, with the background jobs running alongside.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let jobs = tokio::spawn(run_jobs_forever(
        state.clone(),
        state.settings.jobs_interval,
    ));
    println!("Gatehouse listening on http://{addr}");
    tracing::info!(%addr, engine = state.store.engine(), public_url = %state.settings.public_url, "listening");
    axum::serve(
        listener,
        router(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    jobs.abort();
    // Sign what this instance appended since the last checkpoint, so that a planned stop
    // longer than the checkpoint cadence does not read, to the verifier, as checkpoints
    // removed (a crash still leaves them for the next instance's tick).
    if let Err(e) = state.store.checkpoint_if_due(state.clock.now_ms(), 0).await {
        tracing::warn!(error = %e, "could not sign the audit chain's head on the way out");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Builds the app from `config` on the system clock and serves it on `listener`.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = listener.local_addr()?;
    let state = build(&config, bound, Arc::new(SystemClock)).await?;
    serve(state, listener, shutdown).await
}
