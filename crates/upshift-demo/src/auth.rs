//! The `auth` service: issues tokens and checks them.
//!
//! - `POST /token` `{"user": "alice"}` → `{"token": "alice.<hex HMAC-SHA256(secret, user)>"}`
//! - `GET /check` with `Authorization: Bearer T` → 200 `{"user": "alice"}` or 401
//! - `GET /health` → 200 `ok <version>`
//!
//! A token carries its user in clear before the last `.`, so `/check` can
//! name the user; the MAC makes it unforgeable without the shared secret.

use crate::config::AuthConfig;
use crate::http::{serve, Answer, Incoming};
use crate::{Release, Result};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use std::path::Path;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, user: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(user.as_bytes());
    mac
}

/// The token for `user` under `secret`.
pub fn token(secret: &str, user: &str) -> String {
    let tag = mac(secret, user).finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("{user}.{hex}")
}

/// The user a valid token was issued to.
pub fn verify(secret: &str, token: &str) -> Option<String> {
    let (user, hex) = token.rsplit_once('.')?;
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let tag: Option<Vec<u8>> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok())
        .collect();
    mac(secret, user)
        .verify_slice(&tag?)
        .ok()
        .map(|_| user.to_string())
}

/// Answers one request.
pub fn handle(release: Release, secret: &str, req: &Incoming) -> Answer {
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/health") => Answer(200, format!("ok {release}")),
        ("POST", "/token") => {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            match body["user"].as_str() {
                Some(user) if !user.is_empty() && user.len() <= 64 => {
                    Answer(200, json!({ "token": token(secret, user) }).to_string())
                }
                _ => Answer(
                    400,
                    json!({ "error": "body must be {\"user\": \"name\"}" }).to_string(),
                ),
            }
        }
        ("GET", "/check") => match req.bearer.as_deref().and_then(|t| verify(secret, t)) {
            Some(user) => Answer(200, json!({ "user": user }).to_string()),
            None => Answer(
                401,
                json!({ "error": "missing or invalid token" }).to_string(),
            ),
        },
        _ => Answer(404, json!({ "error": "not found" }).to_string()),
    }
}

/// Runs the service in the foreground until SIGTERM.
pub fn run(config: &Path, release: Release) -> Result<()> {
    let cfg = AuthConfig::load(config, release)?;
    eprintln!("auth {release}: config {}", config.display());
    serve("auth", &cfg.listen, |req| handle(release, &cfg.secret, req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_under_their_secret() {
        let t = token("s", "a.b");
        assert_eq!(verify("s", &t).as_deref(), Some("a.b"));
        assert_eq!(verify("other", &t), None);
        assert_eq!(verify("s", &t.replace("a.b.", "c.")), None);
        assert_eq!(verify("s", "garbage"), None);
        assert_eq!(verify("s", "x.zz"), None);
    }
}
