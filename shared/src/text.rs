//! How numbers, durations, fingerprints and sign-in methods read to a person, for the SPA
//! and the CLI; and the reverse for minutes typed into a form. Plain strings in and out.

/// `6144` → "6,144".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `items` as prose: "A", "A and B", "A, B and C" (with `conjunction` for "and").
pub fn either_list(items: &[String], conjunction: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {conjunction} {last}", init.join(", ")),
    }
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

/// A fingerprint as IdP consoles print it: upper-case hex bytes joined by colons
/// (`AB:CD:…`).
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Minutes typed into a form as seconds; `None` when it is not a whole number.
pub fn minutes_to_secs(text: &str) -> Option<i64> {
    text.trim()
        .parse::<i64>()
        .ok()
        .and_then(|m| m.checked_mul(60))
}

/// Says how the session began, in words: `password+totp` → "Password and authenticator code".
pub fn auth_method_text(method: &str) -> String {
    match method.split_once(':') {
        Some(("saml", idp)) => format!("Single sign-on (SAML, {idp})"),
        Some(("oidc", idp)) => format!("Single sign-on (OpenID Connect, {idp})"),
        _ => match method {
            "password" => "Password".into(),
            "password+totp" => "Password and authenticator code".into(),
            // Sessions begun before the IdP's name was recorded.
            "saml" => "Single sign-on (SAML)".into(),
            "oidc" => "Single sign-on (OpenID Connect)".into(),
            other => other.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{
        auth_method_text, colon_hex, countdown_text, duration_text, minutes_to_secs, thousands,
    };

    #[test]
    fn counts_have_thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(6144), "6,144");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

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

    #[test]
    fn fingerprints_read_as_consoles_print_them() {
        assert_eq!(colon_hex(&[0xAB, 0x01, 0xFF]), "AB:01:FF");
        assert_eq!(colon_hex(&[]), "");
    }

    #[test]
    fn minutes_become_seconds_and_junk_is_refused() {
        assert_eq!(minutes_to_secs(" 90 "), Some(5_400));
        assert_eq!(minutes_to_secs("1.5"), None);
        assert_eq!(minutes_to_secs(""), None);
        assert_eq!(minutes_to_secs("999999999999999999"), None);
    }

    #[test]
    fn names_the_way_in_and_the_identity_provider() {
        assert_eq!(auth_method_text("password"), "Password");
        assert_eq!(
            auth_method_text("password+totp"),
            "Password and authenticator code"
        );
        assert_eq!(
            auth_method_text("saml:Corp IdP"),
            "Single sign-on (SAML, Corp IdP)"
        );
        assert_eq!(
            auth_method_text("oidc:Okta: staff"),
            "Single sign-on (OpenID Connect, Okta: staff)"
        );
        assert_eq!(auth_method_text("oidc"), "Single sign-on (OpenID Connect)");
    }
}
