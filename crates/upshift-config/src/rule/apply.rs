//! Applying one rule to a document.

use regex::Regex;
use serde_json::{Map, Value};

use super::condition::{expand, json_of};
use super::{Leave, OnConflict, Op, Rule};
use crate::doc::{self, CommentedOut, Document};
use crate::error::{ConfigError, EditError};
use crate::migrate::Context;
use crate::path::{Path, Seg};
use crate::value::{get, missing_paths, scalar_text};

/// What the rules applied so far produced besides the edits.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Descriptions of the rules that changed something or spoke.
    pub applied: Vec<String>,
    /// Things the operator must know.
    pub warnings: Vec<String>,
    /// Commands the operator must run (secret values never appear).
    pub commands: Vec<String>,
    /// Values that must never be printed.
    pub secrets: Vec<String>,
    /// Files to create next to the configuration: (path, secret contents).
    pub files: Vec<(String, String)>,
}

fn path(rule: &Rule, p: &str) -> Result<Path, ConfigError> {
    Path::parse(p).map_err(|e| match e {
        ConfigError::BadPath { path, message } => ConfigError::BadPath {
            path,
            message: format!("{message} (rule `{rule}`)"),
        },
        other => other,
    })
}

/// Runs an edit, naming the rule and path when it fails.
fn edit<T>(
    rule: &Rule,
    d: &dyn Document,
    p: &Path,
    r: Result<T, EditError>,
) -> Result<T, ConfigError> {
    r.map_err(|e| e.into_config(&rule.to_string(), &p.to_string(), d.format().name()))
}

/// Writes every key of `src` that the value at `at` lacks (its own keys win).
fn fill_missing(
    rule: &Rule,
    d: &mut Box<dyn Document>,
    at: &Path,
    src: &Value,
) -> Result<bool, ConfigError> {
    let existing = get(d.value(), at).cloned();
    match existing {
        None | Some(Value::Null) => {
            let r = d.set(at, src);
            edit(rule, d.as_ref(), at, r)?;
            Ok(true)
        }
        Some(cur @ Value::Object(_)) => {
            let mut changed = false;
            for (rel, v) in missing_paths(src, &cur) {
                let p = at.join(&rel);
                let r = d.set(&p, &v);
                edit(rule, d.as_ref(), &p, r)?;
                changed = true;
            }
            Ok(changed)
        }
        Some(_) => Ok(false),
    }
}

/// Applies `rule` to `d`, recording what happened in `out`.
pub fn apply(
    rule: &Rule,
    d: &mut Box<dyn Document>,
    ctx: &Context,
    out: &mut Outcome,
) -> Result<(), ConfigError> {
    if let Some(c) = &rule.when {
        if !c.holds(d.value(), ctx) {
            return Ok(());
        }
    }
    let desc = rule.to_string();
    let before = d.value().clone();
    let mut spoke = false;
    match &rule.op {
        Op::Move {
            from,
            to,
            on_conflict,
            leave,
        } => {
            let (f, t) = (path(rule, from)?, path(rule, to)?);
            let Some(src) = get(d.value(), &f).cloned() else {
                return Ok(());
            };
            let target = get(d.value(), &t).cloned();
            match (target, on_conflict) {
                (None | Some(Value::Null), _) | (Some(_), OnConflict::Overwrite) => {
                    let r = d.set(&t, &src);
                    edit(rule, d.as_ref(), &t, r)?;
                }
                (Some(_), OnConflict::Merge) => {
                    fill_missing(rule, d, &t, &src)?;
                }
                (Some(_), OnConflict::KeepTarget) => {
                    out.warnings.push(format!(
                        "`{to}` is already set; kept it and dropped `{from}` (rule: {desc})"
                    ));
                    spoke = true;
                }
                (Some(_), OnConflict::Fail) => {
                    return Err(ConfigError::Conflict {
                        rule: desc,
                        path: to.clone(),
                    })
                }
            }
            let note = format!("upshift: moved to `{to}`");
            let r = match leave {
                Leave::Remove => d.remove(&f).map(|_| None),
                Leave::CommentOut => d.comment_out(&f, &note),
            };
            if edit(rule, d.as_ref(), &f, r)? == Some(CommentedOut::Removed) {
                out.warnings.push(format!(
                    "{} cannot hold comments: `{from}` was removed instead of commented out",
                    d.format()
                ));
            }
        }
        Op::Rename { path: p, to } => {
            let p = path(rule, p)?;
            let mut target = p.parent();
            target.0.push(Seg::Key(to.clone()));
            if get(d.value(), &p).is_some() {
                if get(d.value(), &target).is_some() {
                    out.warnings.push(format!(
                        "`{target}` is already set; kept it and left `{p}` alone (rule: {desc})"
                    ));
                    spoke = true;
                } else {
                    let r = d.rename(&p, to);
                    edit(rule, d.as_ref(), &p, r)?;
                }
            }
        }
        Op::Set { path: p, value } => {
            let p = path(rule, p)?;
            let v = json_of(value, ctx);
            if get(d.value(), &p) != Some(&v) {
                let r = d.set(&p, &v);
                edit(rule, d.as_ref(), &p, r)?;
            }
        }
        Op::Transform {
            path: p,
            pattern,
            replacement,
        } => {
            let p = path(rule, p)?;
            let re = Regex::new(pattern).map_err(|e| ConfigError::BadRule {
                origin: desc.clone(),
                index: 0,
                message: e.to_string(),
            })?;
            if let Some(text) = get(d.value(), &p)
                .filter(|v| !v.is_object() && !v.is_array())
                .and_then(scalar_text)
            {
                if re.is_match(&text) {
                    let new = re
                        .replace(&text, expand(replacement, ctx).as_str())
                        .into_owned();
                    if new != text {
                        let r = d.set(&p, &Value::String(new));
                        edit(rule, d.as_ref(), &p, r)?;
                    }
                }
            }
        }
        Op::Remove { path: p, warning } => {
            let p = path(rule, p)?;
            let r = d.remove(&p);
            if edit(rule, d.as_ref(), &p, r)? {
                if let Some(w) = warning {
                    out.warnings
                        .push(format!("removed `{p}`: {}", expand(w, ctx)));
                }
            }
        }
        Op::CommentOut { path: p, note } => {
            let p = path(rule, p)?;
            let r = d.comment_out(&p, &format!("upshift: {}", expand(note, ctx)));
            match edit(rule, d.as_ref(), &p, r)? {
                Some(CommentedOut::Removed) => {
                    out.warnings.push(format!(
                        "{} cannot hold comments: `{p}` was removed ({})",
                        d.format(),
                        expand(note, ctx)
                    ));
                }
                Some(CommentedOut::Commented) | None => {}
            }
        }
        Op::DefaultIfAbsent { path: p, value } => {
            let p = path(rule, p)?;
            let v = json_of(value, ctx);
            if v.is_object() {
                fill_missing(rule, d, &p, &v)?;
            } else if get(d.value(), &p).is_none() {
                let r = d.set(&p, &v);
                edit(rule, d.as_ref(), &p, r)?;
            }
        }
        Op::PinChangedDefault { path: p, old, .. } => {
            let p = path(rule, p)?;
            if get(d.value(), &p).is_none() {
                let r = d.set(&p, &json_of(old, ctx));
                edit(rule, d.as_ref(), &p, r)?;
            }
        }
        Op::ToSecretRef {
            secret,
            username,
            password,
            email,
            server,
            server_from,
            target,
            env_prefix,
        } => {
            let (u, pw, t) = (
                path(rule, username)?,
                path(rule, password)?,
                path(rule, target)?,
            );
            let em = email.as_deref().map(|e| path(rule, e)).transpose()?;
            let user_v = get(d.value(), &u).and_then(scalar_text);
            let pass_v = get(d.value(), &pw).and_then(scalar_text);
            if user_v.is_none() && pass_v.is_none() {
                return Ok(());
            }
            out.secrets
                .extend(user_v.iter().chain(pass_v.iter()).cloned());
            let email_v = em
                .as_ref()
                .and_then(|e| get(d.value(), e))
                .and_then(scalar_text);
            out.secrets.extend(email_v.iter().cloned());
            let server_v = server_from
                .as_deref()
                .and_then(|s| Path::parse(s).ok())
                .and_then(|s| get(d.value(), &s).and_then(scalar_text))
                .and_then(|s| s.split('/').next().map(str::to_string))
                .or_else(|| server.clone());
            for p in [Some(&u), Some(&pw), em.as_ref()].into_iter().flatten() {
                let r = d.remove(p);
                edit(rule, d.as_ref(), p, r)?;
            }
            let reference = Value::Object(Map::from_iter([(
                "name".to_string(),
                Value::String(secret.clone()),
            )]));
            let refs = match get(d.value(), &t) {
                Some(Value::Array(a)) if a.contains(&reference) => None,
                Some(Value::Array(a)) => {
                    Some(Value::Array(a.iter().cloned().chain([reference]).collect()))
                }
                _ => Some(Value::Array(vec![reference])),
            };
            if let Some(refs) = refs {
                let r = d.set(&t, &refs);
                edit(rule, d.as_ref(), &t, r)?;
            }
            let pre = env_prefix.clone().unwrap_or_else(|| "REGISTRY".into());
            let mut cmd = format!("kubectl create secret docker-registry {secret} --docker-username=\"${{{pre}_USERNAME}}\" --docker-password=\"${{{pre}_PASSWORD}}\"");
            if email_v.is_some() {
                cmd.push_str(&format!(" --docker-email=\"${{{pre}_EMAIL}}\""));
            }
            if let Some(s) = server_v {
                cmd.push_str(&format!(" --docker-server={s}"));
            }
            out.commands.push(cmd);
            out.warnings.push(format!(
                "create the image pull secret `{secret}` before upgrading: export {pre}_USERNAME and {pre}_PASSWORD with the credentials that were in `{username}`/`{password}` (not shown here; they are in your backup of this file), then run the command listed under commands"
            ));
            spoke = true;
        }
        Op::SecretToFile { path: p, file, key } => {
            let (sp, kp) = (path(rule, p)?, path(rule, key)?);
            let Some(value) = get(d.value(), &sp).and_then(scalar_text) else {
                return Ok(());
            };
            out.secrets.push(value.clone());
            let r = d.remove(&sp);
            edit(rule, d.as_ref(), &sp, r)?;
            let r = d.set(&kp, &Value::String(file.clone()));
            edit(rule, d.as_ref(), &kp, r)?;
            out.files.push((file.clone(), value));
            spoke = true;
        }
        Op::MergeFrom { keep } => {
            let Some((src_name, src_text)) = &ctx.merge_source else {
                return Ok(());
            };
            let fmt = d.format();
            let mut merged = doc::open(fmt, src_name, src_text)?;
            for k in keep {
                let p = path(rule, k)?;
                match get(d.value(), &p).cloned() {
                    Some(v) => {
                        let r = merged.set(&p, &v);
                        edit(rule, merged.as_ref(), &p, r)?;
                    }
                    None => {
                        let r = merged.remove(&p);
                        edit(rule, merged.as_ref(), &p, r)?;
                    }
                }
            }
            *d = merged;
            spoke = true;
        }
        Op::Require { message } => {
            return Err(ConfigError::Required {
                rule: rule.action(),
                message: expand(message, ctx),
            });
        }
        Op::Warn { message } => {
            out.warnings.push(expand(message, ctx));
            spoke = true;
        }
    }
    if spoke || d.value() != &before {
        out.applied.push(desc);
    }
    Ok(())
}
