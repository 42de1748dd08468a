//! Times as people read them: shown in the browser's time zone, with the exact UTC instant
//! kept in `datetime`/`title`; and the conversion of `datetime-local` input to RFC 3339 UTC.

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

/// A session length as people say it: "15 minutes", "1 hour", "1 hour 30 minutes".
pub fn duration_text(secs: i64) -> String {
    let plural = |n: i64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let mut parts = Vec::new();
    if hours > 0 {
        parts.push(plural(hours, "hour"));
    }
    if minutes > 0 {
        parts.push(plural(minutes, "minute"));
    }
    if seconds > 0 || parts.is_empty() {
        parts.push(plural(seconds, "second"));
    }
    parts.join(" ")
}

/// What is left of a countdown: "59:58", or "1:59:58" past an hour (whole seconds, rounded
/// up so "0:00" means over).
pub fn countdown_text(remaining_ms: f64) -> String {
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a credential lives at most 12 hours"
    )]
    let secs = (remaining_ms / 1000.0).ceil().max(0.0) as i64;
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::{countdown_text, duration_text};

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(900), "15 minutes");
        assert_eq!(duration_text(3600), "1 hour");
        assert_eq!(duration_text(5400), "1 hour 30 minutes");
        assert_eq!(duration_text(43_200), "12 hours");
        assert_eq!(duration_text(61), "1 minute 1 second");
    }

    #[test]
    fn countdowns_round_up_to_the_second() {
        assert_eq!(countdown_text(3_598_001.0), "59:59");
        assert_eq!(countdown_text(3_600_000.0), "1:00:00");
        assert_eq!(countdown_text(500.0), "0:01");
        assert_eq!(countdown_text(-5.0), "0:00");
    }
}
