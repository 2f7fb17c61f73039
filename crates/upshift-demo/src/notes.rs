//! The `notes` service: a notes API that checks every request's token with
//! the auth service.
//!
//! - `GET /notes` → the caller's notes, `[{"id", "owner", "title", "body"}]`
//! - `POST /notes` `{"title": "...", "body": "..."}` → 201 with the note
//!   (1.0.0 has no titles and drops it)
//! - `GET /health` → 200 `ok <version> schema <n>` when the database is at
//!   the schema this release expects and auth answers; 503 with the reason
//!   otherwise.

use crate::config::NotesConfig;
use crate::http::{self, serve, Answer, Incoming};
use crate::schema::Db;
use crate::{schema, Release, Result};
use serde_json::json;
use std::path::Path;

/// Runs the service in the foreground until SIGTERM. Refuses to start on a
/// database this release does not understand (see [`schema::prepare`]).
pub fn run(config: &Path, release: Release) -> Result<()> {
    let cfg = NotesConfig::load(config, release)?;
    eprintln!(
        "notes {release}: config {}, database {}",
        config.display(),
        cfg.storage.describe()
    );
    let mut conn = schema::open(&cfg.storage)?;
    let version = schema::prepare(&mut conn, release).map_err(|e| {
        crate::Error::new(format!("notes {release}: {}: {e}", cfg.storage.describe()))
    })?;
    eprintln!("notes {release}: database at schema version {version}");
    serve("notes", &cfg.listen, |req| {
        handle(release, &cfg, &mut conn, req)
    })
}

/// Answers one request.
pub fn handle(release: Release, cfg: &NotesConfig, conn: &mut Db, req: &Incoming) -> Answer {
    if let Err(e) = conn.reconnect_if_closed(&cfg.storage) {
        return Answer(503, json!({"error": e.message}).to_string());
    }
    let result = match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/health") => return health(release, cfg, conn),
        ("GET", "/notes") => caller(cfg, req).and_then(|user| {
            let notes = schema::list(conn, Some(&user)).map_err(internal)?;
            Ok(Answer(
                200,
                serde_json::to_string(&notes).expect("notes serialize"),
            ))
        }),
        ("POST", "/notes") => caller(cfg, req).and_then(|user| {
            let body: serde_json::Value = serde_json::from_str(&req.body).unwrap_or_default();
            let Some(text) = body["body"].as_str() else {
                return Err(Answer(
                    400,
                    json!({"error": "body must be {\"title\": ..., \"body\": ...}"}).to_string(),
                ));
            };
            let title = body["title"].as_str().unwrap_or("");
            let note = schema::insert(conn, &user, title, text).map_err(internal)?;
            Ok(Answer(
                201,
                serde_json::to_string(&note).expect("note serializes"),
            ))
        }),
        _ => Err(Answer(404, json!({"error": "not found"}).to_string())),
    };
    result.unwrap_or_else(|a| a)
}

fn internal(e: crate::Error) -> Answer {
    eprintln!("notes: {e}");
    Answer(500, json!({"error": e.message}).to_string())
}

/// The user the request's token belongs to, as auth says.
fn caller(cfg: &NotesConfig, req: &Incoming) -> Result<String, Answer> {
    let reply =
        http::get(&format!("{}/check", cfg.auth_url), req.bearer.as_deref()).map_err(|e| {
            Answer(
                503,
                json!({"error": format!("auth unavailable: {e}")}).to_string(),
            )
        })?;
    match reply.status {
        200 => serde_json::from_str::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|v| v["user"].as_str().map(String::from))
            .ok_or_else(|| {
                Answer(
                    502,
                    json!({"error": "auth answered without a user"}).to_string(),
                )
            }),
        401 => Err(Answer(
            401,
            json!({"error": "missing or invalid token"}).to_string(),
        )),
        s => Err(Answer(
            502,
            json!({"error": format!("auth answered {s}")}).to_string(),
        )),
    }
}

fn health(release: Release, cfg: &NotesConfig, conn: &mut Db) -> Answer {
    let want = release.schema();
    match schema::version(conn) {
        Ok(Some(v)) if v == want => {}
        Ok(v) => {
            let v = v.map_or("none".into(), |v| v.to_string());
            return Answer(
                503,
                format!("unhealthy: database schema version {v}, {release} expects {want}"),
            );
        }
        Err(e) => return Answer(503, format!("unhealthy: {e}")),
    }
    match http::get(&format!("{}/health", cfg.auth_url), None) {
        Ok(r) if r.status == 200 => Answer(200, format!("ok {release} schema {want}")),
        Ok(r) => Answer(
            503,
            format!("unhealthy: auth at {} answered {}", cfg.auth_url, r.status),
        ),
        Err(e) => Answer(503, format!("unhealthy: auth does not answer: {e}")),
    }
}
