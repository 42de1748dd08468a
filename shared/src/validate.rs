//! Parse, don't validate: the rules that turn typed input into values that cannot be
//! invalid past the edge. The SPA runs the same functions before it sends a form.

use std::fmt;

use crate::error::FieldError;

/// Accumulates the faults of one request so a form can show all of them at once.
#[derive(Debug, Default)]
pub struct Faults(Vec<FieldError>);

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value if it parsed, records the fault under `field` otherwise.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(message) => {
                self.0.push(FieldError::new(field, message));
                None
            }
        }
    }

    pub fn push(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok` when nothing was wrong, else every fault.
    pub fn into_result(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_newtype!(
    /// 1–64 characters of `a-z 0-9 . _ - @`, starting with a letter or digit; stored lower-case.
    Username
);
string_newtype!(
    /// An e-mail address: one `@`, something either side, a dot in the domain, ≤ 254 characters.
    Email
);
string_newtype!(
    /// A person's name as shown: 1–128 characters, no control characters.
    DisplayName
);
string_newtype!(
    /// 1–64 characters of `A-Z a-z 0-9 . _ -`, starting with a letter or digit.
    GroupName
);
string_newtype!(
    /// A cloud account ID: exactly 16 digits, as Alibaba Cloud's are.
    AccountId
);
string_newtype!(
    /// An account's name: 1–64 characters, no control characters.
    AccountName
);
string_newtype!(
    /// An environment tag such as `production`: 1–32 of `a-z 0-9 -`.
    Environment
);
string_newtype!(
    /// A cloud region ID such as `cn-hangzhou`: 2–32 of `a-z 0-9 -`.
    Region
);
string_newtype!(
    /// A new password: 12–256 characters. Never displayed, logged or audited.
    Password
);
string_newtype!(
    /// A six-digit TOTP code.
    TotpCodeInput
);

fn trimmed_len(s: &str) -> usize {
    s.trim().chars().count()
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err("Enter a username.".into());
        }
        if s.chars().count() > 64 {
            return Err("A username has at most 64 characters.".into());
        }
        if !s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err("A username starts with a letter or a digit.".into());
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
        {
            return Err(format!(
                "A username may contain only letters, digits, '.', '_', '-' and '@' (found {bad:?})."
            ));
        }
        Ok(Self(s))
    }
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter an e-mail address.".into());
        }
        if s.len() > 254 || has_control(s) || s.contains(char::is_whitespace) {
            return Err("That is not a valid e-mail address.".into());
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("An e-mail address contains '@'.".into());
        };
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err("That is not a valid e-mail address.".into());
        }
        Ok(Self(s.to_string()))
    }
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a display name.".into());
        }
        if trimmed_len(s) > 128 {
            return Err("A display name has at most 128 characters.".into());
        }
        if has_control(s) {
            return Err("A display name cannot contain control characters.".into());
        }
        Ok(Self(s.to_string()))
    }
}

impl GroupName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a group name.".into());
        }
        if s.chars().count() > 64 {
            return Err("A group name has at most 64 characters.".into());
        }
        if !s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
            return Err("A group name starts with a letter or a digit.".into());
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            return Err(format!(
                "A group name may contain only letters, digits, '.', '_' and '-' (found {bad:?})."
            ));
        }
        Ok(Self(s.to_string()))
    }
}

impl AccountId {
    /// Any account ID: 16 digits (Alibaba Cloud, local) or 12 (AWS).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if !matches!(s.len(), 12 | 16) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("An account ID is exactly 16 digits (12 for AWS).".into());
        }
        Ok(Self(s.to_string()))
    }

    /// An account ID of `provider`: 12 digits for AWS, 16 for Alibaba Cloud and local.
    pub fn parse_for(raw: &str, provider: crate::cloud::Provider) -> Result<Self, String> {
        let id = Self::parse(raw)?;
        let digits = provider.account_id_digits();
        if id.0.len() != digits {
            return Err(match provider {
                crate::cloud::Provider::Aws => {
                    "An AWS account ID is exactly 12 digits (this one has 16).".to_string()
                }
                _ => format!(
                    "An account ID is exactly 16 digits: 12-digit IDs are for {} accounts.",
                    crate::cloud::Provider::Aws.label()
                ),
            });
        }
        Ok(id)
    }
}

impl AccountName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter an account name.".into());
        }
        if trimmed_len(s) > 64 {
            return Err("An account name has at most 64 characters.".into());
        }
        if has_control(s) {
            return Err("An account name cannot contain control characters.".into());
        }
        Ok(Self(s.to_string()))
    }
}

impl Environment {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err("Enter an environment, such as production.".into());
        }
        if s.len() > 32 {
            return Err("An environment has at most 32 characters.".into());
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err("An environment may contain only letters, digits and '-'.".into());
        }
        Ok(Self(s))
    }
}

impl Region {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_lowercase();
        let ok = (2..=32).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if !ok {
            return Err(
                "A region is an ID such as cn-hangzhou: 2 to 32 letters, digits and '-'.".into(),
            );
        }
        Ok(Self(s))
    }
}

impl Password {
    /// Length is the rule that matters (NIST SP 800-63B); no composition rules.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < 12 {
            return Err("A password has at least 12 characters.".into());
        }
        if n > 256 {
            return Err("A password has at most 256 characters.".into());
        }
        Ok(Self(raw.to_string()))
    }
}

impl TotpCodeInput {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err("Enter the 6-digit code from your authenticator app.".into());
        }
        Ok(Self(s))
    }
}

// --- permission sets ---------------------------------------------------------------------

string_newtype!(
    /// A permission set's name: 1–32 of `A-Z a-z 0-9 -`. It becomes the RAM role
    /// `GatehouseSSO-<name>`, so it keeps its case.
    PermissionSetName
);
string_newtype!(
    /// A description of at most 1,024 characters, trimmed.
    Description
);
string_newtype!(
    /// A console landing URL: `https://…`, at most 1,024 characters, no spaces.
    RelayState
);

/// The shortest session a permission set may give, in seconds (RAM's minimum).
pub const MIN_SESSION_SECS: i64 = 900;
/// The longest session a permission set may give, in seconds (12 hours, RAM's maximum).
pub const MAX_SESSION_SECS: i64 = 43_200;
/// The session a permission set gives when none is chosen.
pub const DEFAULT_SESSION_SECS: i64 = 3_600;
/// How many system policies one permission set may carry.
pub const MAX_SYSTEM_POLICIES: usize = 20;
/// The longest inline policy, in characters (RAM's limit for a policy document).
pub const MAX_INLINE_POLICY_CHARS: usize = 6_144;

/// A session duration in seconds, within [`MIN_SESSION_SECS`]..=[`MAX_SESSION_SECS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionDuration(i64);

impl SessionDuration {
    pub fn parse(secs: i64) -> Result<Self, String> {
        if (MIN_SESSION_SECS..=MAX_SESSION_SECS).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(format!(
                "A session lasts from {MIN_SESSION_SECS} to {MAX_SESSION_SECS} seconds (15 minutes to 12 hours)."
            ))
        }
    }

    pub fn secs(self) -> i64 {
        self.0
    }
}

impl PermissionSetName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter a permission set name.".into());
        }
        if s.chars().count() > 32 {
            return Err("A permission set name has at most 32 characters.".into());
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!(
                "A permission set name may contain only letters, digits and '-' (found {bad:?})."
            ));
        }
        Ok(Self(s.to_string()))
    }
}

impl Description {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.chars().count() > 1024 {
            return Err("A description has at most 1,024 characters.".into());
        }
        Ok(Self(s.to_string()))
    }
}

impl RelayState {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.chars().count() > 1024 {
            return Err("A relay state URL has at most 1,024 characters.".into());
        }
        let Some(rest) = s.strip_prefix("https://") else {
            return Err("A relay state is a console URL beginning with https://.".into());
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("That is not a valid https:// URL.".into());
        }
        Ok(Self(s.to_string()))
    }
}

/// Refuses an inline policy longer than [`MAX_INLINE_POLICY_CHARS`]. Whether it is a valid
/// policy is the server's policy engine's to say.
pub fn inline_policy_length(raw: &str) -> Result<(), String> {
    let n = raw.chars().count();
    if n > MAX_INLINE_POLICY_CHARS {
        return Err(format!(
            "An inline policy has at most 6,144 characters (this one has {n})."
        ));
    }
    Ok(())
}

/// Refuses more than [`MAX_SYSTEM_POLICIES`] names, and any name given twice.
pub fn system_policy_names(names: &[String]) -> Result<(), String> {
    if names.len() > MAX_SYSTEM_POLICIES {
        return Err(format!(
            "A permission set has at most {MAX_SYSTEM_POLICIES} system policies."
        ));
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(format!("The system policy {n} is listed twice."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" Alice ").unwrap().as_str(), "alice");
        assert!(Username::parse("a.b_c-d@corp").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("-x").is_err());
        assert!(Username::parse("a b").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn account_ids_are_sixteen_digits() {
        assert!(AccountId::parse("1234567890123456").is_ok());
        assert!(AccountId::parse("123456789012345").is_err());
        assert!(AccountId::parse("12345678901234567").is_err());
        assert!(AccountId::parse("12345678901234a6").is_err());
    }

    #[test]
    fn account_ids_have_their_providers_length() {
        use crate::cloud::Provider;
        assert!(AccountId::parse("123456789012").is_ok());
        assert!(AccountId::parse_for("123456789012", Provider::Aws).is_ok());
        let e = AccountId::parse_for("1234567890123456", Provider::Aws).unwrap_err();
        assert!(e.contains("12 digits"), "{e}");
        assert!(AccountId::parse_for("1234567890123456", Provider::Alibaba).is_ok());
        assert!(AccountId::parse_for("123456789012", Provider::Alibaba).is_err());
        assert!(AccountId::parse_for("123456789012", Provider::Local).is_err());
        assert!(AccountId::parse_for("12345678901", Provider::Aws).is_err());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("a@b.co").is_ok());
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("ab.co").is_err());
        assert!(Email::parse("a@@b.co").is_err());
        assert!(Email::parse("a b@c.co").is_err());
    }

    #[test]
    fn passwords_and_codes() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough pw").is_ok());
        assert_eq!(TotpCodeInput::parse("123 456").unwrap().as_str(), "123456");
        assert!(TotpCodeInput::parse("12345").is_err());
        assert!(TotpCodeInput::parse("12345a").is_err());
    }

    #[test]
    fn environments_and_groups() {
        assert_eq!(
            Environment::parse("Production").unwrap().as_str(),
            "production"
        );
        assert!(Environment::parse("prod env").is_err());
        assert!(GroupName::parse("gatehouse-admins").is_ok());
        assert!(GroupName::parse("a/b").is_err());
    }

    #[test]
    fn permission_set_rules() {
        assert!(PermissionSetName::parse("Admin-Prod-2").is_ok());
        assert!(PermissionSetName::parse("").is_err());
        assert!(PermissionSetName::parse("a_b").is_err());
        assert!(PermissionSetName::parse(&"a".repeat(33)).is_err());
        assert!(PermissionSetName::parse(&"a".repeat(32)).is_ok());
        assert!(SessionDuration::parse(899).is_err());
        assert!(SessionDuration::parse(900).is_ok());
        assert!(SessionDuration::parse(43_200).is_ok());
        assert!(SessionDuration::parse(43_201).is_err());
        assert!(RelayState::parse("https://ecs.console.aliyun.com/").is_ok());
        assert!(RelayState::parse("http://ecs.console.aliyun.com/").is_err());
        assert!(RelayState::parse("https:///x").is_err());
        assert!(Description::parse(&"d".repeat(1025)).is_err());
        assert!(inline_policy_length(&"x".repeat(6_144)).is_ok());
        assert!(inline_policy_length(&"x".repeat(6_145)).is_err());
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
        assert!(system_policy_names(&names(&["A", "B"])).is_ok());
        assert!(system_policy_names(&names(&["A", "A"])).is_err());
        assert!(system_policy_names(&names(&["x"; 21])).is_err());
    }
}
