//! Fuzz the Json parser and editor: any input either fails to parse with an
//! error, or survives every built-in edit without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upshift_config::Format;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        upshift_config::fuzzing::exercise(Format::Json, text);
    }
});
