//! Persistence behind one trait, [`Store`], implemented once by [`SqlStore`] and chosen
//! per engine from the database URL ([`connect`]). Every method that changes something is
//! one transaction that also appends its audit event, so a change and its record commit
//! together or not at all.
//!
//! The SQL is the same on both engines (`$n` placeholders, `RETURNING`, `ON CONFLICT`), so
//! it is written once. The mechanism is ordinary generic Rust: `SqlStore<D: Dialect>`, where
//! [`Dialect`] is implemented for sqlx's `Sqlite` and `Postgres` and names what differs
//! (the head lock, the claim lock, the write gate, the single-event append) instead of
//! names an including file agrees to supply. Generic code keeps rustfmt, clippy and "go to
//! definition" working, which the earlier `macro_rules!` bodies did not. Its price is one
//! where-clause (which values the engine encodes and decodes, that its connections
//! execute) stated on each `impl<D: Dialect>` block, because Rust does not imply bounds on
//! other types from `D: Dialect`; and run-time SQL goes through [`assembled`] rather than
//! sqlx's `QueryBuilder`, whose borrowed arguments generic code cannot shorten.
//!
//! Every audited change runs in [`SqlStore::audited_write`] (gate, begin, the caller's
//! read-change-read, append, commit); the audit chain's append paths are in [`chain`].
//! Connecting and migrating differ per engine and live in [`sqlite`] and [`postgres`].
//!
//! Capabilities not yet moved to generic code are still written as `macro_rules!` in
//! `sql.rs` and their capability files, instantiated in `sqlite.rs` and `postgres.rs`.

mod assembled;
pub mod breakglass;
mod chain;
mod credentials;
mod dialect;
mod federation;
mod notifications;
pub mod postgres;
mod records;
mod requests;
mod sql;
mod sql_store;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

pub use breakglass::BreakGlassStore;
pub use credentials::{CredentialStore, CredentialWrite};
pub use dialect::Dialect;
pub use federation::{
    FederatedLogin, FederatedUser, FederationRequestRecord, FederationStore, FederationWrite,
    FederationWritten, GuardOutcome, GuardedRequest, IdpRecord, LinkedUser, ReplayGuard,
};
pub use notifications::{
    AttemptOutcome, AttemptRecord, DeliveryFilter, DeliveryRecord, EndpointChange, EndpointRecord,
    NewDelivery, NotificationStore,
};
pub use records::*;
pub use requests::*;
pub use sql_store::SqlStore;

use crate::audit::{AuditSigner, EventFilter, NewEvent, StoredCheckpoint, StoredEvent};
use crate::clock::Millis;
use crate::secrets::MasterKey;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("already exists: {0}")]
    Conflict(&'static str),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (use sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("server key could not be opened with this master key: {0}")]
    Key(#[from] crate::secrets::SecretsError),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// `NotFound` becomes the caller's own "no such …" error; anything else wraps as is.
    pub fn or_not_found<E: From<StoreError>>(self, not_found: E) -> E {
        match self {
            StoreError::NotFound => not_found,
            other => E::from(other),
        }
    }
}

/// Everything Gatehouse keeps. Implemented by [`sqlite::SqliteStore`] and
/// [`postgres::PgStore`]; the conformance tests run against both.
#[async_trait]
pub trait Store:
    CredentialStore
    + BreakGlassStore
    + FederationStore
    + NotificationStore
    + RequestStore
    + Send
    + Sync
    + 'static
{
    /// `sqlite` or `postgres`.
    fn engine(&self) -> &'static str;
    /// A round trip to the database, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// The key that signs audit checkpoints.
    fn audit_signer(&self) -> &AuditSigner;

    // --- bootstrap -------------------------------------------------------------------
    /// Creates the first administrator (user, `gatehouse-admins` group, membership) if the
    /// directory has no users. Returns `false` when users already exist.
    async fn bootstrap_admin(
        &self,
        user: NewUserRecord,
        group: NewGroupRecord,
        event: NewEvent,
    ) -> StoreResult<bool>;

    // --- users -----------------------------------------------------------------------
    async fn list_users(&self, query: Option<&str>) -> StoreResult<Vec<UserRecord>>;
    async fn get_user(&self, id: &str) -> StoreResult<UserRecord>;
    async fn find_user_by_username(&self, username: &str) -> StoreResult<Option<UserRecord>>;
    async fn create_user(&self, user: NewUserRecord, event: NewEvent) -> StoreResult<UserRecord>;
    /// Applies `change`; the event's details get `before` and `after` images (no secrets).
    async fn update_user(
        &self,
        id: &str,
        change: UserChange,
        event: NewEvent,
    ) -> StoreResult<UserRecord>;
    async fn delete_user(&self, id: &str, event: NewEvent) -> StoreResult<()>;
    async fn groups_of_user(&self, user_id: &str) -> StoreResult<Vec<GroupRecord>>;
    /// Sets a user's own new password hash and ends every session of theirs but `keep`.
    async fn change_own_password(
        &self,
        user_id: &str,
        password_hash: &str,
        keep: &str,
        event: NewEvent,
    ) -> StoreResult<()>;

    // --- TOTP ------------------------------------------------------------------------
    async fn set_totp_pending(
        &self,
        user_id: &str,
        sealed: &str,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Makes the pending secret the active one and records `step` as used.
    async fn confirm_totp(
        &self,
        user_id: &str,
        sealed: &str,
        step: i64,
        event: NewEvent,
    ) -> StoreResult<()>;
    /// Records a used time step; `false` if it (or a later one) was already used: a replay.
    async fn use_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool>;

    // --- groups ----------------------------------------------------------------------
    async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>>;
    async fn get_group(&self, id: &str) -> StoreResult<GroupRecord>;
    async fn create_group(
        &self,
        group: NewGroupRecord,
        event: NewEvent,
    ) -> StoreResult<GroupRecord>;
    async fn update_group(
        &self,
        id: &str,
        change: GroupChange,
        event: NewEvent,
    ) -> StoreResult<GroupRecord>;
    async fn delete_group(&self, id: &str, event: NewEvent) -> StoreResult<()>;
    async fn list_members(&self, group_id: &str) -> StoreResult<Vec<UserRecord>>;
    /// Idempotent: adding a member twice is not an error and records no second event.
    async fn add_member(
        &self,
        group_id: &str,
        user_id: &str,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<()>;
    async fn remove_member(
        &self,
        group_id: &str,
        user_id: &str,
        event: NewEvent,
    ) -> StoreResult<()>;

    // --- accounts --------------------------------------------------------------------
    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>>;
    async fn get_account(&self, id: &str) -> StoreResult<AccountRecord>;
    async fn create_account(
        &self,
        account: AccountRecord,
        event: NewEvent,
    ) -> StoreResult<AccountRecord>;
    async fn update_account(
        &self,
        id: &str,
        change: AccountChange,
        event: NewEvent,
    ) -> StoreResult<AccountRecord>;
    async fn delete_account(&self, id: &str, event: NewEvent) -> StoreResult<()>;

    // --- permission sets -------------------------------------------------------------
    async fn list_permission_sets(&self) -> StoreResult<Vec<PermissionSetRecord>>;
    async fn get_permission_set(&self, id: &str) -> StoreResult<PermissionSetRecord>;
    async fn create_permission_set(
        &self,
        permission_set: PermissionSetRecord,
        event: NewEvent,
    ) -> StoreResult<PermissionSetRecord>;
    /// Applies `change`. If anything a role is made of changed, bumps the version and turns
    /// every `provisioned` role of the permission set into `needs_reprovisioning`. The
    /// event gets `before`/`after` images and the accounts whose roles were marked.
    async fn update_permission_set(
        &self,
        id: &str,
        change: PermissionSetChange,
        event: NewEvent,
    ) -> StoreResult<PermissionSetRecord>;
    /// Deletes a permission set and its role records, unless assignments still name it
    /// ([`Deletion::InUse`] with their number; nothing is changed or recorded then).
    async fn delete_permission_set(&self, id: &str, event: NewEvent) -> StoreResult<Deletion>;

    // --- assignments -----------------------------------------------------------------
    async fn list_assignments(
        &self,
        filter: &AssignmentFilter,
    ) -> StoreResult<Vec<AssignmentRecord>>;
    async fn get_assignment(&self, id: &str) -> StoreResult<AssignmentRecord>;
    /// Creates the assignment and, for the first assignment of its permission set in its
    /// account, the role record (`not_provisioned`). A duplicate is a conflict.
    async fn create_assignment(
        &self,
        assignment: NewAssignmentRecord,
        event: NewEvent,
    ) -> StoreResult<AssignmentRecord>;
    /// Deletes the assignment and, if it was the last of its permission set in its account,
    /// that role record.
    async fn delete_assignment(&self, id: &str, event: NewEvent) -> StoreResult<()>;

    // --- provisioned roles -----------------------------------------------------------
    /// The roles of a permission set, one per assigned account, by account ID.
    async fn list_roles(&self, permission_set_id: &str) -> StoreResult<Vec<RoleRecord>>;
    /// Marks the roles in `account_ids` (all the permission set's roles when `None`)
    /// provisioned at the permission set's current version. An account without a role
    /// of this permission set is [`StoreError::NotFound`]. The event gets each role's
    /// `before` and `after` status.
    async fn provision_roles(
        &self,
        permission_set_id: &str,
        account_ids: Option<&[String]>,
        at: Millis,
        event: NewEvent,
    ) -> StoreResult<Vec<RoleRecord>>;

    // --- sessions --------------------------------------------------------------------
    /// Stores a new session, deleting `replaces` (the browser's previous session) at once.
    async fn create_session(
        &self,
        session: SessionRecord,
        replaces: Option<&str>,
        event: NewEvent,
    ) -> StoreResult<()>;
    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<SessionRecord>>;
    async fn touch_session(&self, id_hash: &str, at: Millis) -> StoreResult<()>;
    async fn set_session_mfa(&self, id_hash: &str, at: Millis, event: NewEvent) -> StoreResult<()>;
    async fn delete_session(&self, id_hash: &str, event: Option<NewEvent>) -> StoreResult<()>;
    /// Removes sessions past their absolute expiry or idle since before `idle_before`.
    async fn delete_stale_sessions(&self, now: Millis, idle_before: Millis) -> StoreResult<u64>;

    // --- sign-in throttling ----------------------------------------------------------
    /// Counts one failure under `key` in a fixed window; returns (count, window start).
    async fn rate_hit(&self, key: &str, now: Millis, window_ms: i64) -> StoreResult<(i64, Millis)>;
    /// The current (count, window start) under `key`, if any.
    async fn rate_get(&self, key: &str) -> StoreResult<Option<(i64, Millis)>>;
    async fn rate_clear(&self, key: &str) -> StoreResult<()>;

    // --- audit -----------------------------------------------------------------------
    /// Appends an event on its own (for refusals that change nothing else).
    async fn append_event(&self, event: NewEvent) -> StoreResult<StoredEvent>;
    /// Appends many events in one transaction.
    async fn append_events(&self, events: Vec<NewEvent>) -> StoreResult<()>;
    async fn search_events(&self, filter: &EventFilter) -> StoreResult<Vec<StoredEvent>>;
    /// Events with `seq > after`, ascending, at most `limit`.
    async fn events_after(&self, after: i64, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    /// One subject's story, oldest first: the events whose target is `subject`, and the later
    /// events whose details name it as `"request_id"` (credentials issued under a grant, …).
    async fn related_events(&self, subject: &str, limit: i64) -> StoreResult<Vec<StoredEvent>>;
    async fn checkpoints(&self) -> StoreResult<Vec<StoredCheckpoint>>;
    /// Signs the chain head if there are unsigned events and the last checkpoint is at
    /// least `min_interval_ms` old. Safe to call from every instance at once.
    async fn checkpoint_if_due(
        &self,
        now: Millis,
        min_interval_ms: i64,
    ) -> StoreResult<Option<StoredCheckpoint>>;
}

/// Opens the store named by `url` (`sqlite://…` or `postgres://…`), runs its migrations,
/// and loads (or on first start creates) the audit signing key under `master`.
pub async fn connect(url: &str, master: &MasterKey) -> StoreResult<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url, master).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::connect(url, master).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
pub(crate) fn conflict_on_unique(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Db(e),
    }
}
