//! `/api/v1/audit/*`: search with cursor paging, export (CSV, JSON Lines), one subject's
//! timeline, and chain verification.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::{stream, StreamExt};
use gatehouse_shared::audit::AuditAction;
use gatehouse_shared::audit::{AuditEvent, AuditPage, Outcome, VerifyReport};
use gatehouse_shared::auth::Role;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{EventFilter, NewEvent};
use crate::app::AppState;
use crate::auth::sessions::CurrentSession;
use crate::clock::{to_datetime, to_millis};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};

const AUDIT_READERS: &[Role] = &[Role::Administrator, Role::Auditor];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit/events", get(search))
        .route("/api/v1/audit/verify", get(verify))
        .route("/api/v1/audit/export", get(export))
        .route("/api/v1/audit/timeline/{subject}", get(timeline))
}

/// How many events one export query reads at a time.
const EXPORT_BATCH: i64 = 1_000;
/// The longest story `timeline` returns.
const TIMELINE_LIMIT: i64 = 2_000;

#[derive(Debug, Clone, Deserialize)]
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

/// The cursor a page ends at: where the last event sits in the newest-first order.
fn cursor_of(e: &super::StoredEvent) -> String {
    format!("{}.{}", e.occurred_at, e.seq)
}

fn parse_cursor(c: &str) -> Option<(i64, i64)> {
    let (at, seq) = c.split_once('.')?;
    let at = at.parse::<i64>().ok().filter(|n| *n >= 0)?;
    let seq = seq.parse::<i64>().ok().filter(|n| *n > 0)?;
    Some((at, seq))
}

/// Turns the query into a filter, refusing malformed values with a clear message.
fn parse_filter(q: SearchQuery) -> Result<EventFilter, ApiError> {
    let outcome = match non_empty(q.outcome) {
        None => None,
        Some(o) => Some(Outcome::parse(&o).ok_or_else(|| {
            ApiError::InvalidQuery("`outcome` is success, failure or denied.".into())
        })?),
    };
    let before = match non_empty(q.cursor) {
        None => None,
        Some(c) => Some(parse_cursor(&c).ok_or_else(|| {
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
        before,
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
        events.last().map(cursor_of)
    } else {
        None
    };
    Ok(Json(AuditPage {
        events: events.iter().map(super::StoredEvent::to_api).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Csv,
    JsonLines,
}

#[derive(Debug, Deserialize)]
struct ExportQuery {
    format: Option<String>,
    #[serde(flatten)]
    search: SearchQuery,
}

/// Every event matching the filters, newest first, streamed page by page so that an export
/// of millions of events holds one page in memory. The export itself is audited.
async fn export(
    State(state): State<AppState>,
    who: CurrentSession,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    who.require_any(AUDIT_READERS)?;
    let format = match q.format.as_deref().map(str::trim) {
        Some("csv") => ExportFormat::Csv,
        Some("jsonl" | "ndjson") => ExportFormat::JsonLines,
        _ => return Err(ApiError::InvalidQuery("`format` is csv or jsonl.".into())),
    };
    let filters = serde_json::json!({
        "from": q.search.from, "to": q.search.to, "actor": q.search.actor,
        "action": q.search.action, "target": q.search.target, "outcome": q.search.outcome,
    });
    let mut filter = parse_filter(SearchQuery {
        cursor: q.search.cursor.clone(),
        limit: None,
        ..q.search
    })?;
    filter.limit = EXPORT_BATCH;
    let (ext, mime) = match format {
        ExportFormat::Csv => ("csv", "text/csv; charset=utf-8"),
        ExportFormat::JsonLines => ("jsonl", "application/x-ndjson"),
    };
    let now = state.clock.now_ms();
    let mut event = NewEvent::new(now, &who.ctx(), AuditAction::AuditExport, "audit", None);
    event.details = serde_json::json!({ "format": ext, "filters": filters });
    state.store.append_event(event).await?;

    let store = state.store.clone();
    let header_row = (format == ExportFormat::Csv).then(|| csv_rows(&[], true));
    let pages = stream::unfold(Some(filter), move |next| {
        let store = store.clone();
        async move {
            let filter = next?;
            match store.search_events(&filter).await {
                Ok(events) => {
                    let more = i64::try_from(events.len()).unwrap_or(i64::MAX) == filter.limit;
                    let following = match (more, events.last()) {
                        (true, Some(last)) => Some(EventFilter {
                            before: Some((last.occurred_at, last.seq)),
                            ..filter
                        }),
                        _ => None,
                    };
                    let chunk = match format {
                        ExportFormat::Csv => csv_rows(&events, false),
                        ExportFormat::JsonLines => json_lines(&events),
                    };
                    Some((Ok::<_, std::io::Error>(chunk), following))
                }
                Err(e) => {
                    // Headers are gone already: end the body with an error so the client
                    // sees a broken transfer instead of a silently short file.
                    tracing::error!(error = %e, "audit export failed mid-stream");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    // Fused: a compressing layer may poll once more after the end, which `unfold` forbids.
    let body = match header_row {
        Some(h) => Body::from_stream(stream::iter([Ok(h)]).chain(pages).fuse()),
        None => Body::from_stream(pages.fuse()),
    };
    // The file is named for the moment the export was audited, read from the app's clock.
    let stamp = to_datetime(now).unix_timestamp();
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"gatehouse-audit-{stamp}.{ext}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}

const CSV_HEADER: [&str; 13] = [
    "seq",
    "occurred_at",
    "actor_id",
    "actor_name",
    "source_ip",
    "user_agent",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "reason",
    "details",
    "hash",
];

/// A spreadsheet runs a cell that starts with one of these as a formula; such cells get a
/// leading apostrophe (OWASP's CSV-injection advice). JSON Lines is the faithful format.
fn defuse(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The time as the API writes it (RFC 3339, UTC).
fn rfc3339(ms: i64) -> String {
    to_datetime(ms).format(&Rfc3339).unwrap_or_default()
}

/// CSV rows straight from the stored events: the details are written as stored (JSON).
fn csv_rows(events: &[super::StoredEvent], header: bool) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(events.len() * 512));
    let mut write = |row: &[&str]| {
        // Writing to a Vec cannot fail. An empty record ends the fields written.
        for cell in row {
            let _ = w.write_field(defuse(cell).as_bytes());
        }
        let _ = w.write_record(std::iter::empty::<&[u8]>());
    };
    if header {
        write(&CSV_HEADER);
    }
    for e in events {
        write(&[
            &e.seq.to_string(),
            &rfc3339(e.occurred_at),
            e.actor_id.as_deref().unwrap_or_default(),
            &e.actor_name,
            e.source_ip.as_deref().unwrap_or_default(),
            e.user_agent.as_deref().unwrap_or_default(),
            &e.action,
            &e.target_type,
            e.target_id.as_deref().unwrap_or_default(),
            &e.outcome,
            e.reason.as_deref().unwrap_or_default(),
            &e.details,
            &e.hash,
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// One JSON Lines row: an [`AuditEvent`] as the API writes it, made from the stored event
/// without parsing its details and writing them again (they are stored as JSON).
#[derive(serde::Serialize)]
struct ExportLine<'a> {
    seq: i64,
    occurred_at: String,
    actor_id: Option<&'a str>,
    actor_name: &'a str,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    action: &'a str,
    target_type: &'a str,
    target_id: Option<&'a str>,
    outcome: &'a str,
    reason: Option<&'a str>,
    details: &'a serde_json::value::RawValue,
    hash: &'a str,
}

fn json_lines(events: &[super::StoredEvent]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.len() * 640);
    for e in events {
        // Stored details are always JSON; an unreadable one is written as null, as the
        // search shows it.
        let details = serde_json::from_str::<&serde_json::value::RawValue>(&e.details)
            .unwrap_or_else(|_| NULL_DETAILS.as_ref());
        let line = ExportLine {
            seq: e.seq,
            occurred_at: rfc3339(e.occurred_at),
            actor_id: e.actor_id.as_deref(),
            actor_name: &e.actor_name,
            source_ip: e.source_ip.as_deref(),
            user_agent: e.user_agent.as_deref(),
            action: &e.action,
            target_type: &e.target_type,
            target_id: e.target_id.as_deref(),
            outcome: &e.outcome,
            reason: e.reason.as_deref(),
            details,
            hash: &e.hash,
        };
        if serde_json::to_writer(&mut out, &line).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// `null`.
static NULL_DETAILS: std::sync::LazyLock<Box<serde_json::value::RawValue>> =
    std::sync::LazyLock::new(Box::default);

/// One subject's whole story in order: a request's creation, decisions, grant, the
/// credentials issued under it and its end.
async fn timeline(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(subject): Path<String>,
) -> ApiResult<Json<Vec<AuditEvent>>> {
    who.require_any(AUDIT_READERS)?;
    let ok = (1..=128).contains(&subject.len())
        && subject
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if !ok {
        return Err(ApiError::InvalidQuery(
            "A timeline is asked for by the ID of what it is about: letters, digits, `-`, `_`, `.` and `:`, at most 128.".into(),
        ));
    }
    let events = state.store.related_events(&subject, TIMELINE_LIMIT).await?;
    Ok(Json(
        events.iter().map(super::StoredEvent::to_api).collect(),
    ))
}

async fn verify(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<VerifyReport>> {
    who.require_any(AUDIT_READERS)?;
    Ok(Json(
        super::verify::verify_store_with(state.store.as_ref(), state.settings.audit_cadence)
            .await?,
    ))
}
