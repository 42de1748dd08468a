//! Times as people read them: shown in the browser's time zone, with the exact UTC instant
//! kept in `datetime`/`title`; the conversion of `datetime-local` input to RFC 3339 UTC; and
//! a clock for countdowns.

use std::time::Duration;

use leptos::prelude::*;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM:SS UTC+hh:mm` in the browser's time zone (`UTC` when that is UTC).
pub fn local_text(at: OffsetDateTime) -> String {
    let millis = (at.unix_timestamp_nanos() / 1_000_000) as f64;
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(millis));
    // `getTimezoneOffset` is minutes *behind* UTC, so UTC+2 gives -120.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "time-zone offsets are whole minutes within ±14 hours"
    )]
    let ahead = -(d.get_timezone_offset() as i32);
    let zone = if ahead == 0 {
        "UTC".to_string()
    } else {
        let sign = if ahead < 0 { '-' } else { '+' };
        format!("UTC{sign}{:02}:{:02}", ahead.abs() / 60, ahead.abs() % 60)
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {zone}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

/// A `<time>` element for `at`.
#[component]
pub fn Timestamp(at: OffsetDateTime) -> impl IntoView {
    let exact = rfc3339(at);
    view! { <time datetime=exact.clone() title=exact>{local_text(at)}</time> }
}

/// Turns a `datetime-local` value (`YYYY-MM-DDTHH:MM[:SS]`, the browser's time zone) into
/// RFC 3339 UTC. `None` for an empty or unreadable value.
pub fn local_input_to_utc(value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    // Without an offset, `Date` reads a date-time string as local time.
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(value));
    if d.get_time().is_nan() {
        return None;
    }
    Some(String::from(d.to_iso_string()))
}

/// Milliseconds since the Unix epoch of `at`, as the browser's clock counts them.
pub fn epoch_ms(at: OffsetDateTime) -> f64 {
    (at.unix_timestamp_nanos() / 1_000_000) as f64
}

/// The browser's clock in milliseconds since the Unix epoch, ticking every second while the
/// component that asked for it lives.
pub fn ticking_now() -> RwSignal<f64> {
    let now = RwSignal::new(js_sys::Date::now());
    if let Ok(handle) = set_interval_with_handle(
        move || now.set(js_sys::Date::now()),
        Duration::from_millis(1000),
    ) {
        on_cleanup(move || handle.clear());
    }
    now
}
