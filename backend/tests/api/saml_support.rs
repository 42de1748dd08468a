//! A real SAML IdP for tests: `e2e/saml/idp.py` (pysaml2 signing with Debian's xmlsec1) run
//! as a subprocess. Reusable over HTTP after the ACS lands: `mint` gives a fresh signed
//! `SAMLResponse` for a request ID, `corpus` the negative cases with the reason code each must
//! be refused with (or `ok:<NameID>` for a case that must verify and read that NameID), and
//! `replay_case` the one case the caller itself (its assertion-ID table) must refuse.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use gatehouse::federation::saml::{IdpSettings, SpSettings};
use serde::Deserialize;
use serde_json::{json, Value};

pub const IDP_ENTITY_ID: &str = "https://idp.test.example/saml";
pub const SP_ENTITY_ID: &str = "https://gatehouse.test.example/auth/saml/corp/metadata";
pub const ACS_URL: &str = "https://gatehouse.test.example/auth/saml/corp/acs";
pub const MFA_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract";

fn idp_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e/saml"))
}

pub fn python() -> PathBuf {
    let python = idp_dir().join(".venv/bin/python");
    assert!(
        python.exists(),
        "the SAML IdP virtualenv is missing at {}: run scripts/install-test.sh",
        python.display()
    );
    python
}

/// The throwaway IdP keys of this test run: `idp` (configured) and `other` (never configured).
pub struct Keys {
    pub dir: PathBuf,
    pub cert: String,
    pub other_cert: String,
}

pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("gatehouse-saml-idp-")
            .tempdir()
            .unwrap()
            .keep();
        let out = run(&["keys", dir.to_str().unwrap()], None);
        let v: Value = serde_json::from_str(&out).unwrap();
        Keys {
            dir,
            cert: v["cert"].as_str().unwrap().to_owned(),
            other_cert: v["other_cert"].as_str().unwrap().to_owned(),
        }
    })
}

/// Runs `idp.py <args>` with `stdin`, returns stdout; panics with stderr on failure.
pub fn run(args: &[&str], stdin: Option<&Value>) -> String {
    let mut child = Command::new(python())
        .arg("-W")
        .arg("ignore")
        .arg(idp_dir().join("idp.py"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start idp.py");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(v) = stdin {
            input.write_all(v.to_string().as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "idp.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn sp() -> SpSettings {
    SpSettings {
        entity_id: SP_ENTITY_ID.into(),
        acs_url: ACS_URL.into(),
    }
}

pub fn idp() -> IdpSettings {
    IdpSettings {
        entity_id: IDP_ENTITY_ID.into(),
        sso_url: "https://idp.test.example/sso".into(),
        certificates: vec![keys().cert.clone()],
        allow_sha1: false,
    }
}

/// What to mint: `sign` is "response", "assertion" or "both"; `sign_alg` "sha256" or "sha1".
#[derive(Debug, Clone)]
pub struct Mint<'a> {
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    pub in_response_to: Option<&'a str>,
    pub name_id: &'a str,
    pub attributes: BTreeMap<&'a str, Vec<&'a str>>,
    pub authn_context: &'a str,
    pub sign: &'a str,
    pub sign_alg: &'a str,
}

impl Default for Mint<'_> {
    fn default() -> Self {
        Mint {
            sp_entity_id: SP_ENTITY_ID,
            acs_url: ACS_URL,
            in_response_to: Some("_request-1"),
            name_id: "alice@example.com",
            attributes: BTreeMap::from([
                ("email", vec!["alice@example.com"]),
                ("displayName", vec!["Alice Example"]),
                ("groups", vec!["engineers", "approvers"]),
            ]),
            authn_context: MFA_CONTEXT,
            sign: "response",
            sign_alg: "sha256",
        }
    }
}

impl Mint<'_> {
    fn request(&self) -> Value {
        json!({
            "dir": keys().dir,
            "idp_entity_id": IDP_ENTITY_ID,
            "sp_entity_id": self.sp_entity_id,
            "acs_url": self.acs_url,
            "in_response_to": self.in_response_to,
            "name_id": self.name_id,
            "attributes": self.attributes,
            "authn_context": self.authn_context,
            "sign": self.sign,
            "sign_alg": self.sign_alg,
        })
    }
}

#[derive(Debug, Deserialize)]
pub struct Minted {
    pub b64: String,
    pub xml: String,
    pub assertion_id: Option<String>,
}

/// A fresh response signed by pysaml2 (`Server.create_authn_response`).
pub fn mint(m: &Mint<'_>) -> Minted {
    serde_json::from_str(&run(&["mint"], Some(&m.request()))).unwrap()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub name: String,
    pub b64: String,
    /// A `Refusal::code()`, or `ok:<NameID>` when the case must verify with that NameID.
    pub code: String,
}

/// The negative corpus built from valid responses of the given signing shape.
pub fn corpus(m: &Mint<'_>) -> Vec<Case> {
    serde_json::from_str(&run(&["corpus"], Some(&m.request()))).unwrap()
}

/// The replayed assertion: a valid response presented a second time. `verify_response` is pure
/// and accepts it again; the caller's assertion-ID table must refuse it with this code.
pub fn replay_case(valid_b64: &str) -> Case {
    Case {
        name: "replayed".into(),
        b64: valid_b64.into(),
        code: "saml_replayed".into(),
    }
}

pub fn idp_metadata(sso_url: &str) -> String {
    run(
        &[
            "metadata",
            keys().dir.to_str().unwrap(),
            IDP_ENTITY_ID,
            sso_url,
        ],
        None,
    )
}

/// Starts the IdP's HTTP mode on a free port; kill the child when done.
pub fn serve() -> (std::process::Child, String) {
    let mut child = Command::new(python())
        .arg("-W")
        .arg("ignore")
        .arg(idp_dir().join("idp.py"))
        .args(["serve", keys().dir.to_str().unwrap(), "0", IDP_ENTITY_ID])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start idp.py serve");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    (child, v["listening"].as_str().unwrap().to_owned())
}
