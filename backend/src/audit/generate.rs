//! A realistic, reproducible audit trail for benchmarks and for trying the audit pages at
//! scale (`gatehouse audit generate`): a company of people over some days, signing in,
//! taking credentials, asking for and being granted access, with administrators and the
//! system at work. The same seed gives the same events. Every event is marked
//! `"generated": true` in its details, and the command refuses a trail that is not empty,
//! so made-up history never mixes with real history.
//!
//! Pure: it makes [`NewEvent`]s in time order; the command appends them through the store,
//! which chains and checkpoints them as it does any event.

use gatehouse_shared::audit::{AuditAction, Outcome};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::{AuditCtx, NewEvent};
use crate::clock::Millis;

const DAY_MS: i64 = 86_400_000;
const MINUTE_MS: i64 = 60_000;

/// What to make.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub events: u64,
    pub people: u32,
    pub days: u32,
    pub seed: u64,
    /// The trail ends here (the newest event is just before it).
    pub end: Millis,
}

/// A follow-up an access request owes, due at a time.
struct Due {
    at: Millis,
    step: Step,
    request: String,
    requester: u32,
}

#[derive(Clone, Copy)]
enum Step {
    Approve,
    Start,
    End,
}

/// Makes the events of a [`Shape`] in time order.
pub struct Generator {
    shape: Shape,
    rng: StdRng,
    made: u64,
    start: Millis,
    step_ms: f64,
    /// Follow-ups of open access requests, soonest last.
    due: Vec<Due>,
    /// Grants in force now: (request id, requester).
    active: Vec<(String, u32)>,
}

impl Generator {
    pub fn new(shape: Shape) -> Self {
        let span = i64::from(shape.days.max(1)) * DAY_MS;
        #[allow(clippy::cast_precision_loss)] // spacing only
        let step_ms = span as f64 / shape.events.max(1) as f64;
        Self {
            rng: StdRng::seed_from_u64(shape.seed),
            made: 0,
            start: shape.end - span,
            step_ms,
            due: Vec::new(),
            active: Vec::new(),
            shape,
        }
    }

    /// The user ID of person `p` (stable for a seed).
    pub fn user_id(&self, p: u32) -> String {
        format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.shape.seed & 0xffff_ffff,
            p
        )
    }

    fn username(p: u32) -> String {
        format!("person{p:05}")
    }

    fn ctx(&self, p: u32) -> AuditCtx {
        AuditCtx {
            actor_id: Some(self.user_id(p)),
            actor_name: Self::username(p),
            source_ip: Some(format!(
                "10.{}.{}.{}",
                p >> 16 & 0xff,
                p >> 8 & 0xff,
                p & 0xff
            )),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/131.0 Safari/537.36"
                    .into(),
            ),
        }
    }

    /// A person, busier ones more often (a few people make most of the noise).
    fn person(&mut self) -> u32 {
        let u: f64 = self.rng.gen();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let p = (f64::from(self.shape.people) * u * u * u) as u32;
        p.min(self.shape.people.saturating_sub(1))
    }

    fn uuid(&mut self) -> String {
        let v: u128 = self.rng.gen();
        uuid::Builder::from_random_bytes(v.to_be_bytes())
            .into_uuid()
            .to_string()
    }

    fn now(&self) -> Millis {
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let offset = (self.made as f64 * self.step_ms) as i64;
        self.start + offset
    }

    fn marked(details: Value) -> Value {
        let mut d = details;
        if let Value::Object(m) = &mut d {
            m.insert("generated".into(), Value::Bool(true));
        }
        d
    }

    /// The next follow-up if it is due at `now`.
    fn take_due(&mut self, now: Millis) -> Option<Due> {
        let i = self
            .due
            .iter()
            .enumerate()
            .filter(|(_, d)| d.at <= now)
            .min_by_key(|(_, d)| d.at)
            .map(|(i, _)| i)?;
        Some(self.due.swap_remove(i))
    }

    fn follow_up(&mut self, now: Millis, d: Due) -> NewEvent {
        match d.step {
            Step::Approve => {
                let approver = self.person();
                let details =
                    json!({ "request_id": d.request, "requester_id": self.user_id(d.requester) });
                let ev = NewEvent::new(
                    now,
                    &self.ctx(approver),
                    AuditAction::AccessRequestApprove,
                    "access_request",
                    Some(d.request.clone()),
                )
                .details(Self::marked(details));
                self.due.push(Due {
                    at: now + MINUTE_MS,
                    step: Step::Start,
                    ..d
                });
                ev
            }
            Step::Start => {
                self.active.push((d.request.clone(), d.requester));
                let hours = self.rng.gen_range(1..=8);
                let ev = self.grant_event(now, AuditAction::AccessGrantStart, &d);
                self.due.push(Due {
                    at: now + hours * 60 * MINUTE_MS,
                    step: Step::End,
                    ..d
                });
                ev
            }
            Step::End => {
                self.active.retain(|(r, _)| *r != d.request);
                self.grant_event(now, AuditAction::AccessGrantEnd, &d)
            }
        }
    }

    /// A grant's start or end, by the system, as the request's own event.
    fn grant_event(&self, now: Millis, action: AuditAction, d: &Due) -> NewEvent {
        NewEvent::new(
            now,
            &AuditCtx::system(),
            action,
            "access_request",
            Some(d.request.clone()),
        )
        .details(Self::marked(json!({
            "grant_id": d.request,
            "notify_user_ids": [self.user_id(d.requester)],
        })))
    }

    fn credentials(&mut self, now: Millis) -> NewEvent {
        // One issue in ten uses a grant in force, when there is one.
        let (p, grant) = match self.active.len() {
            n if n > 0 && self.rng.gen_ratio(1, 10) => {
                let (r, p) = self.active[self.rng.gen_range(0..n)].clone();
                (p, Some(r))
            }
            _ => (self.person(), None),
        };
        let account = 100_000_000_000_000 + u64::from(p % 40);
        let target = format!("{account}/ps-{}", p % 12);
        let request_id = self.uuid();
        let ev = NewEvent::new(
            now,
            &self.ctx(p),
            AuditAction::StsCredentialsIssue,
            "role",
            Some(target),
        );
        if grant.is_none() && self.rng.gen_ratio(1, 100) {
            return ev
                .failed(Outcome::Denied, "not assigned")
                .details(Self::marked(
                    json!({ "source": "portal", "user_id": self.user_id(p) }),
                ));
        }
        ev.details(Self::marked(json!({
            "credentials_uri_id": null,
            "grant_id": grant,
            "provider": "local",
            "role_session_name": Self::username(p),
            "request_id": request_id,
        })))
    }

    fn sign_in(&mut self, now: Millis) -> NewEvent {
        let p = self.person();
        let mut ctx = self.ctx(p);
        let roll = self.rng.gen_range(0..100);
        if roll < 8 {
            ctx.actor_id = None;
            return NewEvent::new(
                now,
                &ctx,
                AuditAction::AuthLogin,
                "user",
                Some(self.user_id(p)),
            )
            .failed(Outcome::Failure, "invalid credentials")
            .details(Self::marked(json!({ "method": "password" })));
        }
        let action = match roll {
            8..=59 => AuditAction::AuthLogin,
            60..=79 => AuditAction::AuthFederatedLogin,
            80..=94 => AuditAction::AuthLogout,
            _ => AuditAction::AuthStepUp,
        };
        NewEvent::new(now, &ctx, action, "user", Some(self.user_id(p)))
            .details(Self::marked(json!({ "method": "password" })))
    }

    fn request(&mut self, now: Millis) -> NewEvent {
        let p = self.person();
        let id = self.uuid();
        let roll = self.rng.gen_range(0..10);
        if roll < 8 {
            self.due.push(Due {
                at: now + self.rng.gen_range(2..=30) * MINUTE_MS,
                step: Step::Approve,
                request: id.clone(),
                requester: p,
            });
        }
        NewEvent::new(
            now,
            &self.ctx(p),
            AuditAction::AccessRequestCreate,
            "access_request",
            Some(id.clone()),
        )
        .details(Self::marked(json!({
            "request_id": id,
            "requester_id": self.user_id(p),
            "requester_name": Self::username(p),
            "state": "pending",
            "justification": "Investigating an incident in production",
        })))
    }

    fn system(&mut self, now: Millis) -> NewEvent {
        let account = format!("{}", 100_000_000_000_000_u64 + self.rng.gen_range(0..40));
        match self.rng.gen_range(0..4) {
            0 => NewEvent::new(
                now,
                &AuditCtx::system(),
                AuditAction::CloudRoleDrift,
                "account",
                Some(account),
            )
            .details(Self::marked(json!({ "role": "GatehouseReadOnly" }))),
            1 => NewEvent::new(
                now,
                &AuditCtx::system(),
                AuditAction::CloudApiCall,
                "account",
                Some(account),
            )
            .details(Self::marked(json!({ "action": "GetRole", "request_id": self.uuid(), "code": null, "attempts": 1 }))),
            2 => NewEvent::new(
                now,
                &AuditCtx::system(),
                AuditAction::CloudRoleProvision,
                "account",
                Some(account),
            )
            .details(Self::marked(json!({ "role": "GatehouseDeveloper" }))),
            _ => NewEvent::new(
                now,
                &AuditCtx::system(),
                AuditAction::StsCredentialsRevoke,
                "credential",
                Some(format!("STS.{}", self.uuid())),
            )
            .details(Self::marked(json!({ "reason": "expired grant" }))),
        }
    }

    fn admin(&mut self, now: Millis) -> NewEvent {
        let admin = self.rng.gen_range(0..5);
        let p = self.person();
        let group = format!("team-{}", p % 50);
        let (action, details) = match self.rng.gen_range(0..4) {
            0 => (
                AuditAction::DirectoryGroupMemberAdd,
                json!({ "group": group, "user_id": self.user_id(p), "username": Self::username(p) }),
            ),
            1 => (
                AuditAction::DirectoryGroupMemberRemove,
                json!({ "group": group, "user_id": self.user_id(p), "username": Self::username(p) }),
            ),
            2 => (
                AuditAction::DirectoryUserUpdate,
                json!({ "user_id": self.user_id(p), "fields": ["display_name"] }),
            ),
            _ => (AuditAction::AssignmentCreate, json!({ "group": group })),
        };
        NewEvent::new(now, &self.ctx(admin), action, "group", Some(group))
            .details(Self::marked(details))
    }
}

impl Iterator for Generator {
    type Item = NewEvent;

    fn next(&mut self) -> Option<NewEvent> {
        if self.made >= self.shape.events {
            return None;
        }
        let now = self.now();
        self.made += 1;
        if let Some(d) = self.take_due(now) {
            return Some(self.follow_up(now, d));
        }
        let roll = self.rng.gen_range(0..1000);
        Some(match roll {
            0..=579 => self.credentials(now),
            580..=799 => self.sign_in(now),
            800..=829 => self.request(now),
            830..=979 => self.system(now),
            _ => self.admin(now),
        })
    }
}

/// Events per transaction.
const BATCH_EVENTS: usize = 10_000;
/// A checkpoint at least every this much event time, as the tick signs live events within
/// a minute or two, so the generated trail passes verification with the default cadence.
const SIGN_EVERY_MS: i64 = 5 * MINUTE_MS;

/// Why a trail was not generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("the audit trail is not empty: generated events go only into a new database")]
    NotEmpty,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Appends the trail `shape` describes to an empty store, chained and checkpointed as
/// live events are; calls `progress` with the count so far after each transaction.
pub async fn fill(
    store: &dyn crate::store::Store,
    shape: Shape,
    mut progress: impl FnMut(u64),
) -> Result<u64, GenerateError> {
    if !store.events_after(0, 1).await?.is_empty() {
        return Err(GenerateError::NotEmpty);
    }
    let mut written = 0u64;
    let mut events = Generator::new(shape);
    loop {
        let batch: Vec<NewEvent> = events.by_ref().take(BATCH_EVENTS).collect();
        if batch.is_empty() {
            break;
        }
        written += batch.len() as u64;
        store.append_history(batch, SIGN_EVERY_MS).await?;
        progress(written);
    }
    // A bulk load leaves the planner's statistics behind; bring them up to date.
    store.refresh_statistics().await?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(seed: u64) -> Shape {
        Shape {
            events: 20_000,
            people: 100,
            days: 2,
            seed,
            end: 1_800_000_000_000,
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_trail_in_time_order() {
        let a: Vec<NewEvent> = Generator::new(shape(7)).collect();
        let b: Vec<NewEvent> = Generator::new(shape(7)).collect();
        let c: Vec<NewEvent> = Generator::new(shape(8)).collect();
        assert_eq!(a.len(), 20_000);
        let key = |e: &NewEvent| {
            (
                e.occurred_at,
                e.action,
                e.target_id.clone(),
                e.details.to_string(),
            )
        };
        assert!(a.iter().map(key).eq(b.iter().map(key)));
        assert!(!a.iter().map(key).eq(c.iter().map(key)));
        assert!(a.windows(2).all(|w| w[0].occurred_at <= w[1].occurred_at));
        assert!(a.iter().all(|e| e.details["generated"] == true));
    }

    #[test]
    fn the_trail_has_requests_with_their_whole_story() {
        let events: Vec<NewEvent> = Generator::new(shape(1)).collect();
        let count = |a: AuditAction| events.iter().filter(|e| e.action == a.as_str()).count();
        assert!(count(AuditAction::AccessRequestCreate) > 300);
        assert!(count(AuditAction::AccessGrantStart) > 200);
        assert!(count(AuditAction::AccessGrantEnd) > 100);
        let under_grant = events
            .iter()
            .filter(|e| e.details["grant_id"].is_string() && e.action == "sts.credentials.issue")
            .count();
        assert!(under_grant > 100, "{under_grant}");
        let failures = events
            .iter()
            .filter(|e| e.outcome != Outcome::Success)
            .count();
        assert!((100..2_000).contains(&failures), "{failures}");
    }
}
