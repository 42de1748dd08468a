//! Federated sign-in: identity providers (SAML 2.0 and OIDC), their administration, and
//! the flows that turn a verified assertion or ID token into a Gatehouse session.

pub mod saml;
