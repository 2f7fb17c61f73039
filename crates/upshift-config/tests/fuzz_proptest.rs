//! The fuzz targets' body run under proptest, so that `cargo nextest` covers
//! every parser path even where `cargo fuzz` (nightly) is not available.

use proptest::prelude::*;
use upshift_config::fuzzing::exercise;
use upshift_config::Format;

const FORMATS: [Format; 4] = [Format::Yaml, Format::Json, Format::Toml, Format::Env];

/// Text made of the characters that matter to these formats.
fn structured() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "a", "b", ":", ": ", "\n", "  ", "- ", "#", " # c", "\"", "'", "{", "}", "[", "]", ",",
        "=", "x[0]", "global", "image", "tag", "\r\n", "|", ">", "&a", "*a", "!t", "---", "\t",
        "true", "1.5", "[a]", "[[t]]", "export ", "é",
    ]);
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn structured_inputs_never_panic(text in structured()) {
        for f in FORMATS {
            exercise(f, &text);
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,300}") {
        for f in FORMATS {
            exercise(f, &text);
        }
    }
}
