//! The body shared by the fuzz targets and the proptest "fuzz" tests: parse
//! any text and run a fixed set of edits on it. It must never panic, and a
//! document that parsed must still parse after every edit that succeeded.

use serde_json::json;

use crate::doc::open;
use crate::format::Format;
use crate::path::Path;

/// Parses `text` as `format` and runs edits on it; panics only on a bug.
pub fn exercise(format: Format, text: &str) {
    let Ok(mut d) = open(format, "fuzz", text) else {
        return;
    };
    assert_eq!(
        d.text(),
        text,
        "an unedited document must render byte-identical"
    );
    let paths = [
        "global.image.tag",
        "a",
        "a.b",
        "global",
        "x[0]",
        "deployments.customEnvs",
        "A_B",
    ];
    for p in paths {
        let Ok(p) = Path::parse(p) else { continue };
        let _ = d.set(&p, &json!("v4.0.0"));
        let _ = d.set(&p, &json!({"k": [1, {"n": "x"}]}));
        let _ = d.comment_out(&p, "note");
        let _ = d.remove(&p);
        let _ = d.rename(&p, "renamed");
        let again = open(format, "fuzz", &d.text());
        assert!(
            again.is_ok(),
            "an edit left a document that does not parse: {:?}",
            again.err()
        );
    }
}
