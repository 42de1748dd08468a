//! `/api/v1/audit/*`: search with cursor paging, and chain verification.

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use gatehouse_shared::audit::{AuditPage, Outcome, VerifyReport};
use gatehouse_shared::auth::Role;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::EventFilter;
use crate::app::AppState;
use crate::auth::sessions::CurrentSession;
use crate::clock::to_millis;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};

const AUDIT_READERS: &[Role] = &[Role::Administrator, Role::Auditor];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit/events", get(search))
        .route("/api/v1/audit/verify", get(verify))
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    from: Option<String>,
    to: Option<String>,
    actor: Option<String>,
    action: Option<String>,
    target: Option<String>,
    outcome: Option<String>,
    cursor: Option<String>,
    limit: Option<i64>,
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn parse_time(name: &str, v: Option<String>) -> Result<Option<i64>, ApiError> {
    non_empty(v)
        .map(|s| {
            OffsetDateTime::parse(&s, &Rfc3339)
                .map(to_millis)
                .map_err(|_| {
                    ApiError::InvalidQuery(format!(
                        "`{name}` must be an RFC 3339 time such as 2026-01-31T09:00:00Z."
                    ))
                })
        })
        .transpose()
}

/// Turns the query into a filter, refusing malformed values with a clear message.
fn parse_filter(q: SearchQuery) -> Result<EventFilter, ApiError> {
    let outcome = match non_empty(q.outcome) {
        None => None,
        Some(o) => Some(Outcome::parse(&o).ok_or_else(|| {
            ApiError::InvalidQuery("`outcome` is success, failure or denied.".into())
        })?),
    };
    let before_seq = match non_empty(q.cursor) {
        None => None,
        Some(c) => Some(c.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::InvalidQuery("`cursor` is not one this server gave out.".into())
        })?),
    };
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::InvalidQuery(
            "`limit` is between 1 and 500.".into(),
        ));
    }
    Ok(EventFilter {
        from: parse_time("from", q.from)?,
        to: parse_time("to", q.to)?,
        actor: non_empty(q.actor),
        action: non_empty(q.action),
        target: non_empty(q.target),
        outcome,
        before_seq,
        limit,
    })
}

async fn search(
    State(state): State<AppState>,
    who: CurrentSession,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<AuditPage>> {
    who.require_any(AUDIT_READERS)?;
    let filter = parse_filter(q)?;
    // One extra row tells whether another page exists.
    let mut probe = filter.clone();
    probe.limit = filter.limit + 1;
    let mut events = state.store.search_events(&probe).await?;
    let more = events.len() > usize::try_from(filter.limit).unwrap_or(usize::MAX);
    events.truncate(usize::try_from(filter.limit).unwrap_or(usize::MAX));
    let next_cursor = if more {
        events.last().map(|e| e.seq.to_string())
    } else {
        None
    };
    Ok(Json(AuditPage {
        events: events.iter().map(super::StoredEvent::to_api).collect(),
        next_cursor,
    }))
}

async fn verify(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<VerifyReport>> {
    who.require_any(AUDIT_READERS)?;
    Ok(Json(
        super::verify::verify_store(state.store.as_ref()).await?,
    ))
}
