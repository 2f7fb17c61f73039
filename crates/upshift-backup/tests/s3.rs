//! An S3 bucket against a real S3-compatible server (moto, started by the
//! testkit on loopback). The bucket is filled, inspected and damaged with an
//! independent client (boto3, installed with moto), so upshift's requests and
//! metadata handling are checked against a reference implementation.

mod common;

use std::path::Path;
use std::process::Command;

use common::{manifest, tags};
use upshift_backup::{NoProgress, Repository};
use upshift_core::manifest::Manifest;
use upshift_testkit::Moto;

const ACCESS: &str = "AKIAUPSHIFTTEST0001";
const SECRET: &str = "very-secret-key-value-0123456789";

/// boto3 operations on the bucket: `setup`, `damage`, `state` (JSON of every
/// object: size, SHA-256, content type, kept headers and user metadata),
/// `wipe` (delete every object and the bucket).
const CLIENT: &str = r#"
import sys, json, hashlib, os
import boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=os.environ["EP"], region_name="us-east-1",
                  aws_access_key_id="x", aws_secret_access_key="y")
B = os.environ["BUCKET"]
cmd = sys.argv[1]
if cmd == "setup":
    s3.create_bucket(Bucket=B)
    s3.put_object(Bucket=B, Key="a.txt", Body=b"hello\n", ContentType="text/plain; charset=utf-8",
                  Metadata={"owner": "alice", "purpose": "upgrade test"})
    s3.put_object(Bucket=B, Key="dir/b.bin", Body=os.urandom(200 * 1024),
                  ContentType="application/octet-stream", CacheControl="max-age=60",
                  ContentDisposition="attachment; filename=b.bin")
    s3.put_object(Bucket=B, Key="dir/sub/c.json", Body=b'{"k": 1}', ContentType="application/json",
                  Metadata={"x": "1", "y": "two"}, ContentEncoding="identity")
    s3.put_object(Bucket=B, Key="sp ace/é+%.txt", Body=b"odd key\n")
    s3.put_object(Bucket=B, Key="nested", Body=b"file named like a directory")
    s3.put_object(Bucket=B, Key="nested/x", Body=b"inside")
    s3.put_object(Bucket=B, Key="empty", Body=b"")
    s3.upload_fileobj(__import__("io").BytesIO(os.urandom(11 * 1024 * 1024)), B, "big/multipart.bin",
                      ExtraArgs={"ContentType": "application/x-artifact", "Metadata": {"build": "42"}},
                      Config=TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
elif cmd == "damage":
    s3.delete_object(Bucket=B, Key="dir/b.bin")
    s3.put_object(Bucket=B, Key="a.txt", Body=b"HELLO\n", ContentType="text/plain; charset=utf-8",
                  Metadata={"owner": "alice", "purpose": "upgrade test"})
    s3.copy_object(Bucket=B, Key="dir/sub/c.json", CopySource={"Bucket": B, "Key": "dir/sub/c.json"},
                   MetadataDirective="REPLACE", ContentType="text/plain", Metadata={"x": "changed"})
    s3.put_object(Bucket=B, Key="added/since.txt", Body=b"new object")
elif cmd == "state":
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=B):
        for o in page.get("Contents", []):
            r = s3.get_object(Bucket=B, Key=o["Key"])
            body = r["Body"].read()
            out[o["Key"]] = {
                "size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                "content_type": r.get("ContentType"), "metadata": r.get("Metadata"),
                "cache_control": r.get("CacheControl"), "disposition": r.get("ContentDisposition"),
                "encoding": r.get("ContentEncoding"),
            }
    print(json.dumps(out, sort_keys=True, indent=1))
elif cmd == "wipe":
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=B):
        for o in page.get("Contents", []):
            s3.delete_object(Bucket=B, Key=o["Key"])
    s3.delete_bucket(Bucket=B)
"#;

struct Client<'a> {
    script: std::path::PathBuf,
    moto: &'a Moto,
    bucket: &'a str,
}

impl Client<'_> {
    fn run(&self, cmd: &str) -> String {
        let out = Command::new("python3")
            .arg(&self.script)
            .arg(cmd)
            .env("EP", self.moto.endpoint())
            .env("BUCKET", self.bucket)
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "boto3 {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

fn bucket_manifest(dir: &Path, endpoint: &str, bucket: &str) -> Manifest {
    std::fs::write(dir.join("s3.secret"), format!("{SECRET}\n")).unwrap();
    // SAFETY: nextest runs each test in its own process; set before threads start.
    unsafe { std::env::set_var("UPSHIFT_TEST_S3_ACCESS", ACCESS) };
    manifest(&format!(
        "[stores.artifacts]\nkind = \"s3\"\nendpoint = \"{endpoint}\"\nbucket = \"{bucket}\"\n\
         region = \"us-east-1\"\naccess_key = \"env:UPSHIFT_TEST_S3_ACCESS\"\nsecret_key = \"file:s3.secret\"\n"
    ))
}

#[test]
fn backup_damage_restore_bucket() {
    upshift_testkit::require("python3", "python3 with boto3 (installed with moto)");
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let client = Client {
        script,
        moto: &moto,
        bucket: "artifacts",
    };
    client.run("setup");
    let before = client.run("state");
    assert!(before.contains("big/multipart.bin") && before.contains("\"owner\": \"alice\""));

    let m = bucket_manifest(dir.path(), &moto.endpoint(), "artifacts");
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let snap = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();
    let report = repo.verify(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    let detail = &report.stores["artifacts"].detail;
    // 8 objects; every one but the multipart upload checked by MD5.
    assert!(
        detail.starts_with("8 objects,") && detail.contains("7 checked by MD5"),
        "{detail}"
    );

    client.run("damage");
    assert_ne!(client.run("state"), before);
    let restored = repo.restore(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert_eq!(client.run("state"), before);
    let what = &restored.stores["artifacts"];
    assert!(
        what.contains("3 objects uploaded again (1 missing, 2 changed)")
            && what.contains("1 added since deleted")
            && what.contains("5 unchanged"),
        "{what}"
    );
    // c.json's metadata-only change counts as changed; a second restore rewrites nothing.
    let again = repo.restore(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(
        again.stores["artifacts"].contains("0 objects uploaded again")
            && again.stores["artifacts"].contains("8 unchanged"),
        "{:?}",
        again.stores
    );

    // The bucket itself gone: restore creates it and puts everything back.
    client.run("wipe");
    let r = repo.restore(&snap.id, &m, dir.path(), &NoProgress).unwrap();
    assert!(
        r.stores["artifacts"].contains("(created)"),
        "{:?}",
        r.stores
    );
    assert_eq!(client.run("state"), before);

    // restic sees the objects as files of the snapshot.
    let ls = Command::new("restic")
        .args(["-r", repo.path().to_str().unwrap(), "ls", &snap.id])
        .env(
            "RESTIC_PASSWORD_FILE",
            upshift_backup::default_key_path(repo.path()),
        )
        .output()
        .expect("restic");
    let ls = String::from_utf8_lossy(&ls.stdout);
    assert!(
        ls.contains("/stores/artifacts/objects/dir%2Fsub%2Fc.json")
            && ls.contains("/stores/artifacts/index.json"),
        "{ls}"
    );
}

#[test]
fn second_backup_adds_only_changed_data() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let client = Client {
        script,
        moto: &moto,
        bucket: "reuse",
    };
    client.run("setup");
    let m = bucket_manifest(dir.path(), &moto.endpoint(), "reuse");
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let first = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();
    client.run("damage");
    let second = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap();
    assert!(first.data_added > 11 * 1024 * 1024, "{first:?}");
    // Only the changed objects and the index are new data.
    assert!(second.data_added < 64 * 1024, "{second:?}");
    let report = repo
        .verify(&second.id, &m, dir.path(), &NoProgress)
        .unwrap();
    assert!(report.ok(), "{:?}", report.problems());
    assert!(
        report.stores["artifacts"].detail.starts_with("8 objects,"),
        "{:?}",
        report.stores
    );
}

#[test]
fn unreachable_server_fails_without_showing_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let port = upshift_testkit::free_port();
    let m = bucket_manifest(dir.path(), &format!("http://127.0.0.1:{port}"), "gone");
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let err = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("store `artifacts`: S3: bucket gone"),
        "{text}"
    );
    for secret in [ACCESS, SECRET, "X-Amz-Signature", "X-Amz-Credential"] {
        assert!(!text.contains(secret), "{secret} shown in: {text}");
    }
    assert!(repo.snapshots().unwrap().is_empty());
}

#[test]
fn missing_secret_key_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        "[stores.artifacts]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:9\"\nbucket = \"b\"\naccess_key = \"env:UPSHIFT_TEST_S3_UNSET_ACCESS\"\nsecret_key = \"file:nope.secret\"\n",
    );
    let repo = Repository::for_manifest(&m, dir.path()).unwrap();
    let err = repo
        .backup(&m, dir.path(), &tags("1.0.0"), &NoProgress)
        .unwrap_err();
    assert!(err.is_bad_input(), "{err}");
    assert!(
        err.to_string().contains("UPSHIFT_TEST_S3_UNSET_ACCESS"),
        "{err}"
    );
}
