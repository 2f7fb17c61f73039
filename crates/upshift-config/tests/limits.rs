//! Hostile files: nesting far deeper than any configuration, and YAML
//! aliases that expand without end. Each is refused with a located parse
//! error naming the file and the limit, never a crash (these tests run on a
//! test thread's small stack, so an unbounded recursion aborts them).

use upshift_config::doc::limits::{MAX_ALIAS_NODES, MAX_DEPTH};
use upshift_config::doc::open;
use upshift_config::{ConfigError, Format};

/// The parse error `text` gets as `file`, as (line, column, message).
fn refused(format: Format, file: &str, text: &str) -> (usize, usize, String) {
    match open(format, file, text) {
        Err(e @ ConfigError::Parse { .. }) => {
            let shown = e.to_string();
            assert!(shown.starts_with(&format!("{file}:")), "{shown}");
            let ConfigError::Parse {
                line,
                column,
                message,
                ..
            } = e
            else {
                unreachable!()
            };
            (line, column, message)
        }
        Err(other) => panic!("{file}: not a parse error: {other}"),
        Ok(_) => panic!("{file}: accepted"),
    }
}

fn names_the_depth_limit(message: &str) {
    assert!(
        message.contains(&format!("deeper than {MAX_DEPTH} levels")),
        "{message}"
    );
}

fn json_arrays(n: usize) -> String {
    format!("{}{}\n", "[".repeat(n), "]".repeat(n))
}

#[test]
fn json_nested_20000_deep_is_refused_at_the_bracket_past_the_limit() {
    let (line, column, message) = refused(Format::Json, "deep.json", &json_arrays(20_000));
    names_the_depth_limit(&message);
    assert_eq!((line, column), (1, MAX_DEPTH + 1));

    let objects = format!(
        "{{\n{}1{}\n}}",
        "{\"a\": ".repeat(20_000),
        "}".repeat(20_000)
    );
    let (line, column, message) = refused(Format::Json, "objects.json", &objects);
    names_the_depth_limit(&message);
    assert_eq!(line, 2);
    assert_eq!(column, MAX_DEPTH * 6 - 5);
}

#[test]
fn json_at_the_limit_and_brackets_in_strings_and_comments_are_accepted() {
    open(Format::Json, "edge.json", &json_arrays(MAX_DEPTH)).expect("the limit itself is fine");
    let brackets = "[".repeat(1_000);
    let text = format!(
        "{{\n  // {brackets}\n  /* {brackets} */\n  \"a\": \"{brackets}\\\"{brackets}\",\n  'b': '{brackets}'\n}}\n"
    );
    let d = open(Format::Json, "strings.json", &text).expect("brackets in text do not nest");
    assert_eq!(d.value()["a"].as_str().unwrap().len(), 2_001);
}

/// Block mappings, each key's value one space further in.
fn yaml_mappings(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&" ".repeat(i));
        s.push_str("a:\n");
    }
    s.push_str(&" ".repeat(n));
    s.push_str("b: 1\n");
    s
}

#[test]
fn yaml_mappings_nested_10000_deep_are_refused_at_the_line_past_the_limit() {
    let (line, _, message) = refused(Format::Yaml, "deep.yaml", &yaml_mappings(10_000));
    names_the_depth_limit(&message);
    assert_eq!(line, MAX_DEPTH + 1);
    open(Format::Yaml, "edge.yaml", &yaml_mappings(MAX_DEPTH - 1))
        .expect("the limit itself is fine");

    let lists = format!("{}1\n", "- ".repeat(10_000));
    let (_, _, message) = refused(Format::Yaml, "lists.yaml", &lists);
    names_the_depth_limit(&message);

    let flow = format!("a: {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    refused(Format::Yaml, "flow.yaml", &flow);
}

/// "Billion laughs": nine levels of nine aliases each, a few hundred bytes
/// that expand to 9^9 strings.
fn alias_bomb() -> String {
    let mut s = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let uses = vec![format!("*{prev}"); 9].join(",");
        s.push_str(&format!("{name}: &{name} [{uses}]\n"));
    }
    s
}

#[test]
fn a_yaml_alias_bomb_is_refused_before_it_expands() {
    let bomb = alias_bomb();
    assert!(bomb.len() < 450, "{}", bomb.len());
    let (line, _, message) = refused(Format::Yaml, "bomb.yaml", &bomb);
    assert!(
        message.contains(&format!(
            "aliases expand to more than {MAX_ALIAS_NODES} nodes"
        )),
        "{message}"
    );
    // 9^5 strings are past the limit, 9^4 are not: line 6 holds `f`.
    assert_eq!(line, 6);
}

#[test]
fn an_alias_that_makes_the_document_too_deep_is_refused() {
    let anchored = format!("deep: &d {}1{}\n", "[".repeat(100), "]".repeat(100));
    let mut text = anchored.clone();
    let mut pad = String::new();
    for _ in 0..200 {
        text.push_str(&format!("{pad}x:\n"));
        pad.push(' ');
    }
    text.push_str(&format!("{pad}y: *d\n"));
    let (line, _, message) = refused(Format::Yaml, "alias.yaml", &text);
    assert!(
        message.contains("this alias makes the document"),
        "{message}"
    );
    names_the_depth_limit(&message);
    assert_eq!(line, 202);
}

#[test]
fn ordinary_yaml_anchors_and_merges_still_work() {
    let text = "defaults: &defaults\n  restart: always\n  env: [A, B]\nweb:\n  <<: *defaults\n  image: web\nworker:\n  <<: *defaults\n  image: worker\nlist: &l [1, 2, 3]\nagain: *l\n";
    let d = open(Format::Yaml, "compose.yaml", text).expect("anchors are fine");
    assert_eq!(d.value()["again"], serde_json::json!([1, 2, 3]));
}

#[test]
fn deep_toml_is_refused_not_a_crash() {
    let n = 20_000;
    let dotted = format!("{} = 1\n", vec!["a"; n].join("."));
    let header = format!("[{}]\nb = 1\n", vec!["a"; n].join("."));
    let inline = format!("a = {}1{}\n", "{b = ".repeat(n), "}".repeat(n));
    let arrays = format!("a = {}{}\n", "[".repeat(n), "]".repeat(n));
    for (file, text) in [
        ("dotted.toml", dotted),
        ("header.toml", header),
        ("inline.toml", inline),
        ("arrays.toml", arrays),
    ] {
        let (line, _, message) = refused(Format::Toml, file, &text);
        assert_eq!(line, 1, "{file}");
        assert!(message.contains("recursion limit"), "{file}: {message}");
    }
}
