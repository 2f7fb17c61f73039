//! `kind = "s3"`: an S3 bucket (Mender's artifact storage, for one). Every object is
//! stored as one file of the snapshot, streamed from `GET` (with `If-Match`
//! on the ETag listed, so an object rewritten mid-backup fails the backup
//! rather than mixing versions), and an index (`index.json`) records each
//! object's key, size, ETag, last-modified time and metadata (content type,
//! `Cache-Control`, `Content-Encoding`, `Content-Disposition`,
//! `Content-Language`, `Expires`, user metadata `x-amz-meta-*`).
//!
//! An object's snapshot file carries the object's size and last-modified
//! time, so rustic's parent-snapshot matching skips unchanged objects on the
//! next backup without downloading them (only `HEAD` is sent for them).
//!
//! Requests are signed (SigV4, presigned URLs) with `rusty-s3` and sent with
//! `ureq` (blocking, rustls). The secret key, the access key and the signed
//! URLs (which carry the access key and a signature) never reach an error.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use md5::{Digest, Md5};
use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde::{Deserialize, Serialize};
use upshift_core::manifest::{Store, StoreKind};

use super::{Part, Planned, Planning, StoreSource, Stored, Tools};
use crate::command::Failures;
use crate::error::{BackupError, Result};
use crate::meta::StoreMeta;
use crate::secret;
use crate::verify::StoreCheck;

/// `kind = "s3"`.
pub(crate) struct Source;

impl StoreSource for Source {
    fn kind(&self) -> StoreKind {
        StoreKind::S3
    }

    /// None: S3 is spoken over HTTP directly.
    fn required_tools(&self) -> Tools {
        &[]
    }

    fn plan(&self, p: &Planning) -> Result<Planned> {
        plan(p.name, p.store, p.base_dir)
    }

    fn verify(&self, s: &Stored, meta: &StoreMeta) -> Result<StoreCheck> {
        let StoreMeta::S3 {
            index,
            objects_dir,
            objects,
            bytes,
            ..
        } = meta
        else {
            return Err(s.other_kind(self.kind(), meta));
        };
        verify(s, index, objects_dir, (*objects, *bytes))
    }

    fn restore(&self, s: &Stored, meta: &StoreMeta) -> Result<String> {
        let StoreMeta::S3 {
            index, objects_dir, ..
        } = meta
        else {
            return Err(s.other_kind(self.kind(), meta));
        };
        let s3 = S3::from_store(s.name, s.store()?, s.base_dir)?;
        restore(s, &s3, index, objects_dir)
    }
}

/// How long a signed request stays valid.
const SIGNED_FOR: Duration = Duration::from_secs(3600);

/// Single-request `PUT` limit of S3 (multipart uploads are not implemented).
const MAX_PUT: u64 = 5 * 1024 * 1024 * 1024;

/// Standard headers kept with an object besides its content type.
const KEPT_HEADERS: [&str; 5] = [
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// One object as recorded in the snapshot's index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ObjectInfo {
    pub(crate) key: String,
    /// The file name under the store's `objects/` directory in the snapshot.
    pub(crate) file: String,
    pub(crate) size: u64,
    /// The ETag without quotes (the content's MD5 for single-part uploads).
    pub(crate) etag: String,
    /// RFC 3339, as listed by the server.
    pub(crate) last_modified: String,
    pub(crate) content_type: Option<String>,
    /// Kept standard headers (lower-case name → value).
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, String>,
    /// User metadata: `x-amz-meta-NAME` → value, keyed by NAME (lower case).
    #[serde(default)]
    pub(crate) metadata: BTreeMap<String, String>,
}

impl ObjectInfo {
    /// The content's MD5 (hex), when the ETag is one (not a multipart ETag).
    pub(crate) fn md5(&self) -> Option<&str> {
        let plain = self.etag.len() == 32 && self.etag.bytes().all(|b| b.is_ascii_hexdigit());
        plain.then_some(self.etag.as_str())
    }

    /// Same content and metadata (the key and last-modified time aside).
    pub(crate) fn same_as(&self, other: &ObjectInfo) -> bool {
        self.size == other.size
            && self.etag == other.etag
            && self.content_type == other.content_type
            && self.headers == other.headers
            && self.metadata == other.metadata
    }
}

/// The snapshot's index of one bucket store.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Index {
    pub(crate) endpoint: String,
    pub(crate) bucket: String,
    pub(crate) objects: Vec<ObjectInfo>,
}

/// A connection to one bucket.
pub(crate) struct S3 {
    store: String,
    bucket: Bucket,
    endpoint: String,
    credentials: Option<Credentials>,
    agent: ureq::Agent,
    /// Values scrubbed from every message (access key, secret key).
    secrets: Vec<String>,
}

impl std::fmt::Debug for S3 {
    /// Names the bucket; credentials are never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3 {}/{}", self.endpoint, self.bucket.name())
    }
}

/// Response headers, lower-case names.
type Headers = BTreeMap<String, String>;

impl S3 {
    pub(crate) fn from_store(name: &str, store: &Store, base_dir: &Path) -> Result<S3> {
        let bucket_name = store
            .bucket
            .clone()
            .ok_or_else(|| BackupError::bad_store(name, "an s3 store needs `bucket`"))?;
        let region = store
            .region
            .clone()
            .unwrap_or_else(|| "us-east-1".to_string());
        let (endpoint, style) = match &store.endpoint {
            Some(e) => (e.clone(), UrlStyle::Path),
            None => (
                format!("https://s3.{region}.amazonaws.com"),
                UrlStyle::VirtualHost,
            ),
        };
        let url = url::Url::parse(&endpoint).map_err(|e| {
            BackupError::bad_store(name, format!("`endpoint` {endpoint:?} is not a URL: {e}"))
        })?;
        let bucket = Bucket::new(url, style, bucket_name.clone(), region).map_err(|e| {
            BackupError::bad_store(
                name,
                format!("bucket {bucket_name:?} at {endpoint:?}: {e} (the endpoint must be http:// or https:// with a host)"),
            )
        })?;
        let access = store
            .access_key
            .as_ref()
            .map(|r| secret::resolve(name, "access_key", r, base_dir))
            .transpose()?;
        let secret_key = store
            .secret_key
            .as_ref()
            .map(|r| secret::resolve(name, "secret_key", r, base_dir))
            .transpose()?;
        let (credentials, secrets) = match (access, secret_key) {
            (Some(a), Some(s)) => (Some(Credentials::new(a.clone(), s.clone())), vec![a, s]),
            (None, None) => (None, Vec::new()),
            _ => {
                return Err(BackupError::bad_store(
                    name,
                    "give both `access_key` and `secret_key`, or neither (anonymous access)",
                ))
            }
        };
        let agent = ureq::Agent::new_with_config(
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(10)))
                .timeout_recv_response(Some(Duration::from_secs(120)))
                .max_redirects(0)
                .build(),
        );
        Ok(S3 {
            store: name.to_string(),
            bucket,
            endpoint,
            credentials,
            agent,
            secrets,
        })
    }

    pub(crate) fn bucket_name(&self) -> &str {
        self.bucket.name()
    }

    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// An error about `what`, with every secret and signed URL removed.
    fn err(&self, what: &str, url: Option<&url::Url>, message: &str) -> BackupError {
        let mut message = message.to_string();
        if let Some(u) = url {
            let mut bare = u.clone();
            bare.set_query(None);
            message = message.replace(u.as_str(), bare.as_str());
            if let Some(q) = u.query() {
                message = message.replace(q, "***");
            }
        }
        for s in self.secrets.iter().filter(|s| !s.is_empty()) {
            message = message.replace(s.as_str(), "***");
        }
        BackupError::S3 {
            store: self.store.clone(),
            message: format!("bucket {}: {what}: {message}", self.bucket.name()),
        }
    }

    /// Sends a signed request; non-2xx answers become errors with the S3
    /// error code and message (the body's other fields are not shown).
    fn send(
        &self,
        what: &str,
        method: &str,
        url: &url::Url,
        headers: &[(String, String)],
        body: Option<(&mut dyn Read, u64)>,
    ) -> Result<ureq::http::Response<ureq::Body>> {
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(url.as_str());
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let sent = match body {
            Some((reader, len)) => {
                let req = req
                    .header("content-length", len.to_string())
                    .body(ureq::SendBody::from_reader(reader))
                    .map_err(|e| self.err(what, Some(url), &e.to_string()))?;
                self.agent.run(req)
            }
            None => {
                let req = req
                    .body(())
                    .map_err(|e| self.err(what, Some(url), &e.to_string()))?;
                self.agent.run(req)
            }
        };
        let mut resp = sent.map_err(|e| self.err(what, Some(url), &e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = if method == "HEAD" {
            String::new()
        } else {
            resp.body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .unwrap_or_default()
        };
        let code = xml_field(&body, "Code");
        let msg = xml_field(&body, "Message");
        let detail = match (code, msg) {
            (Some(c), Some(m)) => format!("HTTP {status}: {c}: {m}"),
            (Some(c), None) => format!("HTTP {status}: {c}"),
            _ => format!("HTTP {status}"),
        };
        Err(self.err(what, Some(url), &detail))
    }

    /// Every key with its size, ETag and last-modified time (paginated).
    fn list(&self) -> Result<Vec<(String, u64, String, String)>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = ListObjectsV2::new(&self.bucket, self.credentials.as_ref());
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let mut resp = self.send("listing objects", "GET", &url, &[], None)?;
            let text = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_string()
                .map_err(|e| self.err("listing objects", Some(&url), &e.to_string()))?;
            let parsed = ListObjectsV2::parse_response(&text).map_err(|e| {
                self.err("listing objects", None, &format!("unreadable listing: {e}"))
            })?;
            for c in parsed.contents {
                out.push((
                    c.key,
                    c.size.unwrap_or(0),
                    unquote(c.etag.as_deref().unwrap_or("")),
                    c.last_modified.unwrap_or_default(),
                ));
            }
            match parsed.next_continuation_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        Ok(out)
    }

    /// Every object with its metadata (`LIST`, then `HEAD` per object).
    pub(crate) fn inventory(&self) -> Result<Vec<ObjectInfo>> {
        let mut out = Vec::new();
        for (key, size, etag, last_modified) in self.list()? {
            check_key(&self.store, &key)?;
            let url = self
                .bucket
                .head_object(self.credentials.as_ref(), &key)
                .sign(SIGNED_FOR);
            let resp = self.send(&format!("HEAD {key}"), "HEAD", &url, &[], None)?;
            let h = headers(&resp);
            let mut info = info_from_headers(&key, &h);
            // The listing's values: a HEAD racing a rewrite would be caught by If-Match.
            info.size = size;
            info.etag = etag;
            info.last_modified = last_modified;
            out.push(info);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// A reader over the object's content, as it was when listed: `If-Match`
    /// on the ETag makes a rewritten object fail instead of mixing versions.
    fn get(&self, info: &ObjectInfo) -> Result<ureq::Body> {
        let url = self
            .bucket
            .get_object(self.credentials.as_ref(), &info.key)
            .sign(SIGNED_FOR);
        let hdr = [("if-match".to_string(), format!("\"{}\"", info.etag))];
        let resp = self
            .send(&format!("GET {}", info.key), "GET", &url, &hdr, None)
            .map_err(|e| match e {
                BackupError::S3 { store, message } if message.contains("412") => BackupError::S3 {
                    store,
                    message: format!(
                        "{message} (object {} changed during the backup; stop the services writing to the bucket and back up again)",
                        info.key
                    ),
                },
                e => e,
            })?;
        Ok(resp.into_body())
    }

    /// Uploads `len` bytes from `body` as object `info.key` with `info`'s metadata.
    /// Returns the new ETag.
    pub(crate) fn put(&self, info: &ObjectInfo, body: &mut dyn Read, len: u64) -> Result<String> {
        let what = format!("PUT {}", info.key);
        if len > MAX_PUT {
            return Err(self.err(
                &what,
                None,
                "objects over 5 GiB need a multipart upload, which upshift does not do yet",
            ));
        }
        let mut sent: Vec<(String, String)> = Vec::new();
        if let Some(ct) = &info.content_type {
            sent.push(("content-type".into(), ct.clone()));
        }
        for (k, v) in &info.headers {
            sent.push((k.clone(), v.clone()));
        }
        for (k, v) in &info.metadata {
            sent.push((format!("x-amz-meta-{k}"), v.clone()));
        }
        let mut action = self.bucket.put_object(self.credentials.as_ref(), &info.key);
        for (k, v) in &sent {
            action.headers_mut().insert(k.clone(), v.clone());
        }
        let url = action.sign(SIGNED_FOR);
        let resp = self.send(&what, "PUT", &url, &sent, Some((body, len)))?;
        Ok(headers(&resp)
            .get("etag")
            .map(|e| unquote(e))
            .unwrap_or_default())
    }

    pub(crate) fn delete(&self, key: &str) -> Result<()> {
        let url = self
            .bucket
            .delete_object(self.credentials.as_ref(), key)
            .sign(SIGNED_FOR);
        self.send(&format!("DELETE {key}"), "DELETE", &url, &[], None)
            .map(drop)
    }

    /// True when the bucket exists (`HEAD` bucket: 404 → false).
    pub(crate) fn bucket_exists(&self) -> Result<bool> {
        let url = self
            .bucket
            .head_bucket(self.credentials.as_ref())
            .sign(SIGNED_FOR);
        match self.send("HEAD bucket", "HEAD", &url, &[], None) {
            Ok(_) => Ok(true),
            Err(BackupError::S3 { message, .. }) if message.contains("HTTP 404") => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn create_bucket(&self) -> Result<()> {
        let Some(credentials) = self.credentials.as_ref() else {
            return Err(self.err(
                "creating the bucket",
                None,
                "the bucket does not exist and creating it needs `access_key` and `secret_key`",
            ));
        };
        let url = self.bucket.create_bucket(credentials).sign(SIGNED_FOR);
        // Outside us-east-1, S3 wants the region in the body.
        let body = match self.bucket.region() {
            "us-east-1" => String::new(),
            region => format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            ),
        };
        let len = body.len() as u64;
        let mut reader = body.as_bytes();
        self.send(
            "creating the bucket",
            "PUT",
            &url,
            &[],
            Some((&mut reader, len)),
        )
        .map(drop)
    }
}

/// Refuses keys that a URL cannot address (see rusty-s3's "Object keys").
fn check_key(store: &str, key: &str) -> Result<()> {
    if key.is_empty() || key.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(BackupError::S3 {
            store: store.to_string(),
            message: format!("object key {key:?} has a `.` or `..` segment, which S3 URLs cannot address; rename it"),
        });
    }
    Ok(())
}

fn headers(resp: &ureq::http::Response<ureq::Body>) -> Headers {
    resp.headers()
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect()
}

fn info_from_headers(key: &str, h: &Headers) -> ObjectInfo {
    ObjectInfo {
        key: key.to_string(),
        file: file_name(key),
        size: h
            .get("content-length")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        etag: unquote(h.get("etag").map_or("", String::as_str)),
        last_modified: String::new(),
        content_type: h.get("content-type").cloned(),
        headers: KEPT_HEADERS
            .iter()
            .filter_map(|k| Some((k.to_string(), h.get(*k)?.clone())))
            .collect(),
        metadata: h
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("x-amz-meta-")?.to_string(), v.clone())))
            .collect(),
    }
}

fn unquote(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

/// The text of the first `<name>…</name>` element (S3 error bodies).
fn xml_field(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].to_string())
}

/// The snapshot file name of a key: `/` and every byte outside
/// `[A-Za-z0-9._-]` percent-encoded, so keys map one-to-one onto names in
/// one flat directory (keys `a` and `a/b` may both exist in a bucket).
pub(crate) fn file_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    if out == "." || out == ".." {
        out = out.replace('.', "%2E");
    }
    out
}

/// Snapshot paths of a store: the index and the objects directory.
pub(crate) fn index_path(name: &str) -> PathBuf {
    Path::new("/stores").join(name).join("index.json")
}

pub(crate) fn objects_dir(name: &str) -> PathBuf {
    Path::new("/stores").join(name).join("objects")
}

/// Lists the bucket (this also proves it is reachable) and plans one part
/// per object plus the index.
fn plan(name: &str, store: &Store, base_dir: &Path) -> Result<Planned> {
    let s3 = Arc::new(S3::from_store(name, store, base_dir)?);
    let objects = s3.inventory()?;
    let index = Index {
        endpoint: s3.endpoint().to_string(),
        bucket: s3.bucket_name().to_string(),
        objects,
    };
    let bytes: u64 = index.objects.iter().map(|o| o.size).sum();
    let meta = StoreMeta::S3 {
        bucket: index.bucket.clone(),
        index: index_path(name).display().to_string(),
        objects_dir: objects_dir(name).display().to_string(),
        objects: index.objects.len() as u64,
        bytes,
    };
    let mut parts = vec![Part::Bytes {
        dest: index_path(name),
        data: serde_json::to_vec_pretty(&index).expect("index serialises"),
    }];
    let dir = objects_dir(name);
    for info in index.objects {
        parts.push(Part::Object {
            dest: dir.join(&info.file),
            s3: s3.clone(),
            info,
        });
    }
    Ok((parts, meta))
}

/// Opens an object for the archiver: the body is checked against the listed
/// size and (for single-part ETags) MD5; a mismatch or a failed request is
/// recorded in `failures`, which discards the snapshot.
pub(crate) fn open_object(
    s3: &S3,
    info: &ObjectInfo,
    failures: Failures,
) -> Result<Box<dyn Read + Send>> {
    let body = s3.get(info)?;
    Ok(Box::new(ObjectReader {
        inner: Box::new(body.into_reader()),
        store: s3.store.clone(),
        key: info.key.clone(),
        size: info.size,
        md5: info.md5().map(str::to_string),
        read: 0,
        hasher: Md5::new(),
        failures,
        done: false,
    }))
}

struct ObjectReader {
    inner: Box<dyn Read + Send>,
    store: String,
    key: String,
    size: u64,
    md5: Option<String>,
    read: u64,
    hasher: Md5,
    failures: Failures,
    done: bool,
}

impl ObjectReader {
    fn fail(&mut self, message: String) -> std::io::Error {
        self.done = true;
        self.failures
            .lock()
            .expect("failures lock")
            .push(BackupError::S3 {
                store: self.store.clone(),
                message: message.clone(),
            });
        std::io::Error::other(message)
    }
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => return Err(self.fail(format!("reading object {}: {e}", self.key))),
        };
        if n > 0 || buf.is_empty() {
            self.hasher.update(&buf[..n]);
            self.read += n as u64;
            return Ok(n);
        }
        if self.read != self.size {
            return Err(self.fail(format!(
                "object {}: read {} bytes, listed {}",
                self.key, self.read, self.size
            )));
        }
        let got = hex(&std::mem::take(&mut self.hasher).finalize());
        if let Some(want) = self.md5.clone() {
            if got != want {
                return Err(self.fail(format!(
                    "object {}: content MD5 {got} does not match its ETag {want}",
                    self.key
                )));
            }
        }
        self.done = true;
        Ok(0)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The last-modified time as a timestamp (for rustic's change detection).
pub(crate) fn mtime(info: &ObjectInfo) -> Option<rustic_core::jiff::Timestamp> {
    info.last_modified.parse().ok()
}

/// Reads a store's index from the snapshot.
fn read_index(s: &Stored, path: &str) -> Result<Index> {
    let mut buf = Vec::new();
    s.dump(path, &mut buf)?;
    serde_json::from_slice(&buf).map_err(|e| BackupError::Repository {
        repo: s.repo.path.clone(),
        message: format!("the bucket index {path} is unreadable: {e}"),
    })
}

/// A writer that counts and hashes what goes through it.
#[derive(Default)]
struct Hashing {
    len: u64,
    md5: Md5,
}

impl std::io::Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.md5.update(buf);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Verifies a bucket store inside the snapshot: the index agrees with the
/// recorded object count and total size, every object's file is there with
/// the listed size, and its content's MD5 matches its ETag (single-part
/// uploads; multipart ETags are not an MD5 of the content, those objects
/// are checked by size and by the repository's blob hashes).
fn verify(s: &Stored, index_path: &str, objects_dir: &str, want: (u64, u64)) -> Result<StoreCheck> {
    let index = read_index(s, index_path)?;
    let count = index.objects.len() as u64;
    let bytes: u64 = index.objects.iter().map(|o| o.size).sum();
    let mut problems = Vec::new();
    if (count, bytes) != want {
        problems.push(format!(
            "the index lists {count} objects, {bytes} bytes; recorded {} objects, {} bytes",
            want.0, want.1
        ));
    }
    let mut by_md5 = 0;
    for o in &index.objects {
        let path = format!("{objects_dir}/{}", o.file);
        let mut h = Hashing::default();
        if let Err(e) = s.dump(&path, &mut h) {
            problems.push(format!("object {}: {e}", o.key));
            continue;
        }
        if h.len != o.size {
            problems.push(format!(
                "object {}: {} bytes in the snapshot, listed {}",
                o.key, h.len, o.size
            ));
            continue;
        }
        if let Some(want) = o.md5() {
            let got = hex(&h.md5.finalize());
            if got != want {
                problems.push(format!(
                    "object {}: MD5 {got} does not match its ETag {want}",
                    o.key
                ));
                continue;
            }
            by_md5 += 1;
        }
    }
    Ok(if problems.is_empty() {
        StoreCheck {
            ok: true,
            detail: format!(
                "{count} objects, {bytes} bytes, as recorded; {by_md5} checked by MD5 against their ETag, {} (multipart) by size",
                count - by_md5
            ),
        }
    } else {
        StoreCheck {
            ok: false,
            detail: problems.join("; "),
        }
    })
}

/// Puts the bucket back as the snapshot holds it: objects that are missing
/// or differ (size, ETag, content type, kept headers or user metadata) are
/// uploaded again with their metadata; objects added since are deleted;
/// the rest is left alone. A missing bucket is created first.
fn restore(s: &Stored, s3: &S3, index_path: &str, objects_dir: &str) -> Result<String> {
    let index = read_index(s, index_path)?;
    let created = if s3.bucket_exists()? {
        false
    } else {
        s3.create_bucket()?;
        true
    };
    let mut current: BTreeMap<String, ObjectInfo> = s3
        .inventory()?
        .into_iter()
        .map(|o| (o.key.clone(), o))
        .collect();
    let (mut missing, mut changed, mut unchanged) = (0, 0, 0);
    let tmp = tempfile::tempdir()
        .map_err(|e| BackupError::io("cannot create", std::env::temp_dir(), e))?;
    let tmp_path = tmp.path().join("object");
    for o in &index.objects {
        match current.remove(&o.key) {
            Some(c) if c.same_as(o) => {
                unchanged += 1;
                continue;
            }
            Some(_) => changed += 1,
            None => missing += 1,
        }
        let mut f = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp_path)
            .map_err(|e| BackupError::io("cannot create", &tmp_path, e))?;
        s.dump(&format!("{objects_dir}/{}", o.file), &mut f)?;
        let len = std::io::Seek::seek(&mut f, std::io::SeekFrom::Current(0))
            .map_err(|e| BackupError::io("cannot read", &tmp_path, e))?;
        std::io::Seek::rewind(&mut f).map_err(|e| BackupError::io("cannot read", &tmp_path, e))?;
        let etag = s3.put(o, &mut f, len)?;
        if let Some(want) = o.md5() {
            if etag != want {
                return Err(s3.err(
                    &format!("PUT {}", o.key),
                    None,
                    &format!("the server reports ETag {etag} after the upload, the snapshot recorded {want}"),
                ));
            }
        }
    }
    let added: Vec<String> = current.into_keys().collect();
    for key in &added {
        s3.delete(key)?;
    }
    Ok(format!(
        "bucket {}{}: {} objects uploaded again ({missing} missing, {changed} changed), {} added since deleted, {unchanged} unchanged",
        s3.bucket_name(),
        if created { " (created)" } else { "" },
        missing + changed,
        added.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_one_to_one_and_flat() {
        assert_eq!(file_name("a/b.txt"), "a%2Fb.txt");
        assert_eq!(file_name("a%2Fb.txt"), "a%252Fb.txt");
        assert_eq!(file_name("."), "%2E");
        assert_eq!(file_name(".."), "%2E%2E");
        assert_eq!(file_name("sp ace/é"), "sp%20ace%2F%C3%A9");
        assert!(!file_name("x/../y").contains('/'));
    }

    #[test]
    fn md5_only_for_single_part_etags() {
        let mut o = info_from_headers("k", &Headers::new());
        o.etag = "9e107d9d372bb6826bd81d3542a419d6".into();
        assert!(o.md5().is_some());
        o.etag = "9e107d9d372bb6826bd81d3542a419d6-3".into();
        assert!(o.md5().is_none());
    }

    #[test]
    fn errors_hide_signed_urls_and_secrets() {
        let s3 = S3 {
            store: "art".into(),
            bucket: Bucket::new(
                url::Url::parse("http://127.0.0.1:9").unwrap(),
                UrlStyle::Path,
                "b",
                "us-east-1",
            )
            .unwrap(),
            endpoint: "http://127.0.0.1:9".into(),
            credentials: Some(Credentials::new("AKIDEXAMPLE", "s3cr3t-value")),
            agent: ureq::Agent::new_with_defaults(),
            secrets: vec!["AKIDEXAMPLE".into(), "s3cr3t-value".into()],
        };
        let url = s3
            .bucket
            .get_object(s3.credentials.as_ref(), "k")
            .sign(SIGNED_FOR);
        assert!(url.as_str().contains("AKIDEXAMPLE"));
        let e = s3.err(
            "GET k",
            Some(&url),
            &format!("connection refused: {url} with s3cr3t-value"),
        );
        let text = e.to_string();
        assert!(!text.contains("AKIDEXAMPLE"), "{text}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(!text.contains("X-Amz-Signature"), "{text}");
        assert!(text.contains("127.0.0.1:9/b/k"), "{text}");
        let real = s3.delete("k").unwrap_err().to_string();
        assert!(
            !real.contains("AKIDEXAMPLE") && !real.contains("Signature"),
            "{real}"
        );
        assert!(!format!("{s3:?}").contains("s3cr3t"));
    }
}
