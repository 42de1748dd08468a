//! `/api/v1/notification-endpoints`, `/api/v1/notification-deliveries`,
//! `/api/v1/notification-settings`: administrators manage webhook endpoints, send a test,
//! rotate a secret, read the delivery log and see the mail settings.

use gatehouse_shared::audit::AuditAction;
use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use gatehouse_shared::auth::Role;
use gatehouse_shared::notifications::{
    validate_event_types, validate_name, validate_url, Attempt, Channel, CreateEndpoint, Delivery,
    DeliveryStatus, Endpoint, EndpointWithSecret, MailSettings, TestSent, UpdateEndpoint,
};
use gatehouse_shared::validate::Faults;
use serde::Deserialize;
use serde_json::json;

use super::{test_delivery, NotifyError, SECRET_PURPOSE};
use crate::app::AppState;
use crate::audit::NewEvent;
use crate::auth::sessions::CurrentSession;
use crate::clock::to_datetime;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};
use crate::secrets::random_token;
use crate::store::{AttemptRecord, DeliveryFilter, DeliveryRecord, EndpointChange, EndpointRecord};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/notification-endpoints", get(list).post(create))
        .route(
            "/api/v1/notification-endpoints/{id}",
            get(get_one).patch(update).delete(delete),
        )
        .route("/api/v1/notification-endpoints/{id}/test", post(send_test))
        .route(
            "/api/v1/notification-endpoints/{id}/rotate-secret",
            post(rotate_secret),
        )
        .route("/api/v1/notification-deliveries", get(deliveries))
        .route("/api/v1/notification-settings", get(settings))
}

fn dto(e: &EndpointRecord) -> Endpoint {
    Endpoint {
        id: e.id.clone(),
        name: e.name.clone(),
        url: e.url.clone(),
        event_types: e.event_type_list(),
        enabled: e.enabled,
        created_at: to_datetime(e.created_at),
        updated_at: to_datetime(e.updated_at),
    }
}

/// A new secret: shown once, stored sealed.
fn new_secret(state: &AppState) -> (String, String) {
    let secret = format!("whsec_{}", random_token(32));
    let sealed = state.master.seal(SECRET_PURPOSE, secret.as_bytes());
    (secret, sealed)
}

fn not_found(e: crate::store::StoreError) -> ApiError {
    ApiError::from(e.or_not_found(NotifyError::EndpointNotFound))
}

async fn list(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<Vec<Endpoint>>> {
    who.require(Role::Administrator)?;
    Ok(Json(
        state
            .store
            .list_endpoints()
            .await?
            .iter()
            .map(dto)
            .collect(),
    ))
}

async fn get_one(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<Endpoint>> {
    who.require(Role::Administrator)?;
    Ok(Json(dto(&state
        .store
        .get_endpoint(&id)
        .await
        .map_err(not_found)?)))
}

async fn create(
    State(state): State<AppState>,
    who: CurrentSession,
    Json(req): Json<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    who.require(Role::Administrator)?;
    let (created, secret) = super::create_endpoint(
        &*state.store,
        &state.master,
        state.clock.now_ms(),
        &who.ctx(),
        req,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: dto(&created),
            secret,
        }),
    ))
}

async fn update(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
    Json(req): Json<UpdateEndpoint>,
) -> ApiResult<Json<Endpoint>> {
    who.require(Role::Administrator)?;
    let mut f = Faults::new();
    let name = req
        .name
        .as_deref()
        .map(|n| f.check("name", validate_name(n)));
    let url = req.url.as_deref().map(|u| f.check("url", validate_url(u)));
    let types = req
        .event_types
        .as_deref()
        .map(|t| f.check("event_types", validate_event_types(t)));
    if !f.is_empty() {
        return Err(NotifyError::Invalid(f.into_vec()).into());
    }
    let now = state.clock.now_ms();
    let change = EndpointChange {
        name: name.flatten(),
        url: url.flatten(),
        event_types: types.flatten().map(|t| t.join(",")),
        enabled: req.enabled,
        secret_sealed: None,
        at: now,
    };
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::NotificationEndpointUpdate,
        "notification_endpoint",
        Some(id.clone()),
    );
    let e = state
        .store
        .update_endpoint(&id, change, event)
        .await
        .map_err(not_found)?;
    Ok(Json(dto(&e)))
}

async fn delete(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    who.require(Role::Administrator)?;
    let now = state.clock.now_ms();
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::NotificationEndpointDelete,
        "notification_endpoint",
        Some(id.clone()),
    );
    state
        .store
        .delete_endpoint(&id, event)
        .await
        .map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rotate_secret(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<Json<EndpointWithSecret>> {
    who.require(Role::Administrator)?;
    let now = state.clock.now_ms();
    let (secret, sealed) = new_secret(&state);
    let change = EndpointChange {
        secret_sealed: Some(sealed),
        at: now,
        ..EndpointChange::default()
    };
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::NotificationEndpointRotateSecret,
        "notification_endpoint",
        Some(id.clone()),
    );
    let e = state
        .store
        .update_endpoint(&id, change, event)
        .await
        .map_err(not_found)?;
    Ok(Json(EndpointWithSecret {
        endpoint: dto(&e),
        secret,
    }))
}

async fn send_test(
    State(state): State<AppState>,
    who: CurrentSession,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<TestSent>)> {
    who.require(Role::Administrator)?;
    let endpoint = state.store.get_endpoint(&id).await.map_err(not_found)?;
    if !endpoint.enabled {
        return Err(ApiError::Conflict(
            "This endpoint is disabled. Enable it to send a test.".into(),
        ));
    }
    let now = state.clock.now_ms();
    let d = test_delivery(&id, &who.user.username, &state.settings.public_url, now);
    let delivery_id = d.id.clone();
    let event = NewEvent::new(
        now,
        &who.ctx(),
        AuditAction::NotificationTest,
        "notification_endpoint",
        Some(id),
    )
    .details(json!({ "url": endpoint.url }));
    state.store.enqueue_delivery(d, event).await?;
    Ok((StatusCode::ACCEPTED, Json(TestSent { delivery_id })))
}

#[derive(Debug, Deserialize)]
struct DeliveryQuery {
    endpoint: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
}

pub fn delivery_dto(d: &DeliveryRecord, attempts: Vec<Attempt>) -> Delivery {
    let status = DeliveryStatus::parse(&d.status).unwrap_or(DeliveryStatus::Pending);
    Delivery {
        id: d.id.clone(),
        event_type: d.event_type.clone(),
        event_seq: d.event_seq,
        channel: if d.channel == "email" {
            Channel::Email
        } else {
            Channel::Webhook
        },
        endpoint_id: d.endpoint_id.clone(),
        recipient: d.recipient.clone(),
        status,
        attempts,
        next_attempt_at: matches!(status, DeliveryStatus::Pending | DeliveryStatus::Retrying)
            .then(|| to_datetime(d.next_attempt_at)),
        created_at: to_datetime(d.created_at),
        delivered_at: d.delivered_at.map(to_datetime),
    }
}

fn attempt_dto(a: &AttemptRecord) -> Attempt {
    Attempt {
        attempt: a.attempt,
        at: to_datetime(a.started_at),
        duration_ms: a.duration_ms,
        ok: a.ok,
        status_code: a.status_code,
        detail: a.detail.clone(),
    }
}

async fn deliveries(
    State(state): State<AppState>,
    who: CurrentSession,
    Query(q): Query<DeliveryQuery>,
) -> ApiResult<Json<Vec<Delivery>>> {
    who.require(Role::Administrator)?;
    let mut f = Faults::new();
    if let Some(s) = &q.status {
        if DeliveryStatus::parse(s).is_none() {
            f.push(
                "status",
                "The status is pending, retrying, delivered or dead.",
            );
        }
    }
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        f.push("limit", "The limit is between 1 and 500.");
    }
    if !f.is_empty() {
        return Err(NotifyError::Invalid(f.into_vec()).into());
    }
    let filter = DeliveryFilter {
        endpoint_id: q.endpoint.filter(|e| !e.is_empty()),
        status: q.status,
        limit,
    };
    let rows = state.store.list_deliveries(&filter).await?;
    let ids: Vec<String> = rows.iter().map(|d| d.id.clone()).collect();
    let mut by_delivery: HashMap<String, Vec<Attempt>> = HashMap::new();
    for a in state.store.attempts_of(&ids).await? {
        by_delivery
            .entry(a.delivery_id.clone())
            .or_default()
            .push(attempt_dto(&a));
    }
    Ok(Json(
        rows.iter()
            .map(|d| delivery_dto(d, by_delivery.remove(&d.id).unwrap_or_default()))
            .collect(),
    ))
}

async fn settings(
    State(state): State<AppState>,
    who: CurrentSession,
) -> ApiResult<Json<MailSettings>> {
    who.require(Role::Administrator)?;
    Ok(Json(state.notify.mail_settings.clone()))
}
