//! The one error envelope every API error uses: `{"error": {"code", "message", "fields"}}`,
//! and [`ErrorCode`], the one list of the `code`s it carries.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// A stable machine-readable `code`, a sentence for people, and per-field faults for forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// Declares [`ErrorCode`] from one list of `Variant = "wire_string"` pairs, so the variant,
/// its string and its place in [`ErrorCode::ALL`] cannot drift apart.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, )+) => {
        /// The stable `code` of an error envelope, as the server sends it: each is a
        /// snake_case string on the wire. The HTTP status that goes with each is decided in
        /// one place, the backend's `ApiError::status_and_code`.
        ///
        /// Only codes the server sends are here. Failures the SPA finds on its own side (no
        /// answer at all, an answer it cannot read) have no wire string and the server must
        /// never send them, so they stay in the SPA's client (`frontend/src/api.rs`), where
        /// they wrap this enum; listing them here would let the backend put them in an
        /// envelope and would add strings to the contract that it never uses.
        ///
        /// A code this build does not know (from a newer server) parses as
        /// [`ErrorCode::Unknown`] with its text, and serializes back unchanged.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )+
            /// A code this build does not know, kept as sent. Read codes with
            /// [`ErrorCode::parse`] rather than building this variant: a known string
            /// wrapped here would not compare equal to its own variant.
            Unknown(String),
        }

        impl ErrorCode {
            /// Every known code, in declaration order ([`ErrorCode::Unknown`] aside).
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code as it is on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $code,)+
                    ErrorCode::Unknown(code) => code,
                }
            }
        }
    };
}

error_codes! {
    /// The body is not JSON, or not the expected shape.
    InvalidJson = "invalid_json",
    /// A query or path parameter is malformed.
    InvalidQuery = "invalid_query",
    /// No valid session.
    Unauthenticated = "unauthenticated",
    /// Wrong username or password (which one is not said).
    InvalidCredentials = "invalid_credentials",
    /// Password right, the account has TOTP, no code was sent.
    TotpRequired = "totp_required",
    /// The TOTP code is wrong, or was already used.
    InvalidTotp = "invalid_totp",
    /// Signed in, but not allowed to do this.
    Forbidden = "forbidden",
    /// Missing or wrong CSRF token, or a foreign `Origin`.
    CsrfFailed = "csrf_failed",
    /// This needs a fresh MFA check (step-up) first.
    MfaRequired = "mfa_required",
    /// The user is disabled.
    AccountDisabled = "account_disabled",
    /// No such item, or no such API path.
    NotFound = "not_found",
    /// The path exists, the method does not.
    MethodNotAllowed = "method_not_allowed",
    /// The item already exists, or is still in use.
    Conflict = "conflict",
    /// The body is over the limit.
    PayloadTooLarge = "payload_too_large",
    /// The body is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type",
    /// The JSON parsed, some field is invalid; the envelope's `fields` say which.
    ValidationFailed = "validation_failed",
    /// Too many failed sign-ins; `Retry-After` says when to try again.
    RateLimited = "rate_limited",
    /// The database cannot be reached.
    Unavailable = "unavailable",
    /// More requests of this kind than the server can work on at once; `Retry-After` says
    /// when to try again.
    Overloaded = "overloaded",
    /// Nobody approves or rejects their own access request.
    SelfApproval = "self_approval",
    /// Not eligible for this permission set on this account.
    NotEligible = "not_eligible",
    /// No one could approve this request: no approval policy covers it, or too few approvers.
    Unapprovable = "unapprovable",
    /// The access request's state does not allow this.
    InvalidState = "invalid_state",
    /// The account's cloud refused the call; the message names the cause and carries the
    /// cloud's own code and RequestId.
    CloudRefused = "cloud_refused",
    /// The account's cloud could not be reached, or answered something that is not its API.
    CloudUnavailable = "cloud_unavailable",
    /// Our fault; the details are in the server log only.
    Internal = "internal",
}

impl ErrorCode {
    /// Reads a code from the wire: a known string gives its variant, any other string
    /// [`ErrorCode::Unknown`] with that text.
    pub fn parse(code: &str) -> Self {
        Self::ALL
            .iter()
            .find(|known| known.as_str() == code)
            .cloned()
            .unwrap_or_else(|| Self::Unknown(code.to_string()))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(Self::parse(&code))
    }
}

/// One invalid field of a request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{ErrorBody, ErrorCode, ErrorEnvelope, FieldError};

    #[test]
    fn every_code_round_trips_through_serde_as_its_string() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(code.to_string(), code.as_str());
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, code);
            assert_eq!(&ErrorCode::parse(code.as_str()), code);
        }
    }

    #[test]
    fn the_wire_strings_are_the_documented_ones() {
        let strings: Vec<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
        assert_eq!(
            strings,
            [
                "invalid_json",
                "invalid_query",
                "unauthenticated",
                "invalid_credentials",
                "totp_required",
                "invalid_totp",
                "forbidden",
                "csrf_failed",
                "mfa_required",
                "account_disabled",
                "not_found",
                "method_not_allowed",
                "conflict",
                "payload_too_large",
                "unsupported_media_type",
                "validation_failed",
                "rate_limited",
                "unavailable",
                "overloaded",
                "self_approval",
                "not_eligible",
                "unapprovable",
                "invalid_state",
                "cloud_refused",
                "cloud_unavailable",
                "internal",
            ]
        );
    }

    #[test]
    fn no_two_codes_share_a_string() {
        let distinct: HashSet<&str> = ErrorCode::ALL.iter().map(ErrorCode::as_str).collect();
        assert_eq!(distinct.len(), ErrorCode::ALL.len());
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(
                !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{s} is not snake_case"
            );
        }
    }

    #[test]
    fn an_unknown_code_is_kept_and_sent_back_unchanged() {
        let code: ErrorCode = serde_json::from_str("\"quota_exceeded\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown("quota_exceeded".into()));
        assert_eq!(code.as_str(), "quota_exceeded");
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"quota_exceeded\"");

        let wire = r#"{"error":{"code":"quota_exceeded","message":"Over quota."}}"#;
        let envelope: ErrorEnvelope = serde_json::from_str(wire).unwrap();
        assert_eq!(serde_json::to_string(&envelope).unwrap(), wire);
    }

    #[test]
    fn the_envelope_is_serialized_as_before() {
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: ErrorCode::ValidationFailed,
                message: "Some fields are invalid.".into(),
                fields: vec![FieldError::new("name", "Enter a name.")],
            },
        };
        assert_eq!(
            serde_json::to_string(&envelope).unwrap(),
            r#"{"error":{"code":"validation_failed","message":"Some fields are invalid.","fields":[{"field":"name","message":"Enter a name."}]}}"#
        );
        let bare = ErrorEnvelope {
            error: ErrorBody {
                code: ErrorCode::NotFound,
                message: "No such item.".into(),
                fields: Vec::new(),
            },
        };
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"error":{"code":"not_found","message":"No such item."}}"#
        );
    }
}
