//! Edits in each format keep untouched bytes; bad input is located.

mod common;

use serde_json::json;
use upshift_config::doc::open;
use upshift_config::{migrate, ConfigError, Context, Format, Path, Rule};

fn rule(src: &str) -> Rule {
    let t: toml::Table = toml::from_str(src).expect("rule toml");
    Rule::from_table(&t).expect("rule is valid")
}

fn p(s: &str) -> Path {
    Path::parse(s).expect("path")
}

#[test]
fn yaml_set_replaces_only_the_value_and_keeps_quotes_and_comments() {
    let src = "a:\n  # why\n  b: \"x\" # trailing\n  c: 1\n";
    let mut d = open(Format::Yaml, "f.yml", src).unwrap();
    d.set(&p("a.b"), &json!("y")).unwrap();
    assert_eq!(d.text(), "a:\n  # why\n  b: \"y\" # trailing\n  c: 1\n");
    d.set(&p("a.d.e"), &json!([{"name": "web", "value": "v"}]))
        .unwrap();
    assert_eq!(d.text(), "a:\n  # why\n  b: \"y\" # trailing\n  c: 1\n  d:\n    e:\n      - name: web\n        value: v\n");
}

#[test]
fn yaml_indentless_lists_and_list_items_are_addressed() {
    let src = "envs:\n- name: A\n  value: \"1\"\n- name: B\n  value: \"2\"\nnext: true\n";
    let mut d = open(Format::Yaml, "f.yml", src).unwrap();
    assert_eq!(
        upshift_config::value::get(d.value(), &p("envs[1].value")),
        Some(&json!("2"))
    );
    d.set(&p("envs[1].value"), &json!("3")).unwrap();
    assert_eq!(d.text(), src.replace("\"2\"", "\"3\""));
    assert!(d.remove(&p("envs[0]")).unwrap());
    assert_eq!(d.text(), "envs:\n- name: B\n  value: \"3\"\nnext: true\n");
}

#[test]
fn yaml_removing_the_last_child_leaves_an_empty_mapping_not_null() {
    let mut d = open(
        Format::Yaml,
        "f.yml",
        "global:\n  image:\n    tag: x\nz: 1\n",
    )
    .unwrap();
    d.comment_out(&p("global.image"), "note").unwrap();
    assert_eq!(
        d.text(),
        "global: {}\n  # note\n  # image:\n  #   tag: x\nz: 1\n"
    );
    assert_eq!(d.value()["global"], json!({}));
    d.set(&p("global.enterprise"), &json!(true)).unwrap();
    assert_eq!(d.value()["global"], json!({"enterprise": true}));
}

#[test]
fn yaml_keeps_crlf_and_a_missing_final_newline() {
    let mut d = open(Format::Yaml, "f.yml", "a: 1\r\nb: 2").unwrap();
    d.set(&p("c"), &json!("x y")).unwrap();
    assert_eq!(d.text(), "a: 1\r\nb: 2\r\nc: x y");
}

#[test]
fn yaml_flow_style_is_refused_not_corrupted() {
    let src = "global: {image: {tag: x}}\n";
    let mut d = open(Format::Yaml, "f.yml", src).unwrap();
    assert!(d.set(&p("global.image.tag"), &json!("y")).is_err());
    assert_eq!(d.text(), src);
}

#[test]
fn json_edits_keep_comments_and_order() {
    let src = "{\n  // c\n  \"a\": {\"b\": 1},\n  \"z\": true\n}\n";
    let mut d = open(Format::Json, "f.json", src).unwrap();
    d.set(&p("a.b"), &json!(2)).unwrap();
    d.set(&p("a.c.d"), &json!("x")).unwrap();
    assert!(
        d.text().starts_with("{\n  // c\n  \"a\": {"),
        "{}",
        d.text()
    );
    assert_eq!(
        d.value(),
        &json!({"a": {"b": 2, "c": {"d": "x"}}, "z": true})
    );
    assert!(d.remove(&p("z")).unwrap());
    assert_eq!(d.value(), &json!({"a": {"b": 2, "c": {"d": "x"}}}));
}

#[test]
fn toml_edits_keep_comments() {
    let src = "# top\n[server]\nport = 80 # old\nname = \"x\"\n";
    let mut d = open(Format::Toml, "f.toml", src).unwrap();
    d.set(&p("server.port"), &json!(8090)).unwrap();
    assert_eq!(
        d.text(),
        "# top\n[server]\nport = 8090 # old\nname = \"x\"\n"
    );
    d.set(&p("db.url"), &json!("u")).unwrap();
    assert_eq!(d.value()["db"]["url"], "u");
    assert!(d.remove(&p("server.name")).unwrap());
    assert!(d.text().starts_with("# top\n[server]\nport = 8090 # old\n"));
}

#[test]
fn env_edits_keep_other_lines() {
    let src = "# db\nexport DB_HOST=db\nDB_PASS=\"p w\"\n\nPORT=80\n";
    let mut d = open(Format::Env, ".env", src).unwrap();
    assert_eq!(d.value()["DB_PASS"], "p w");
    d.set(&p("PORT"), &json!(8090)).unwrap();
    d.set(&p("NEW"), &json!("a b")).unwrap();
    d.comment_out(&p("DB_HOST"), "moved").unwrap();
    assert_eq!(
        d.text(),
        "# db\n# moved\n# export DB_HOST=db\nDB_PASS=\"p w\"\n\nPORT=8090\nNEW=\"a b\"\n"
    );
    assert!(d.set(&p("a.b"), &json!(1)).is_err());
}

#[test]
fn parse_errors_name_line_and_column() {
    let cases = [
        (Format::Yaml, "f.yml", "a:\n  b: 1\n c: [\n", 3),
        (Format::Json, "f.json", "{\n  \"a\": 1,\n  \"b\" 2\n}", 3),
        (Format::Toml, "f.toml", "a = 1\nb = = 2\n", 2),
        (Format::Env, ".env", "A=1\nnot an assignment\n", 2),
    ];
    for (f, name, text, want_line) in cases {
        match open(f, name, text) {
            Err(ConfigError::Parse {
                line, column, file, ..
            }) => {
                assert_eq!(file, name);
                assert_eq!(line, want_line, "{f}: {text:?}");
                assert!(column >= 1);
            }
            Err(other) => panic!("{f}: unexpected error {other}"),
            Ok(_) => panic!("{f}: {text:?} should not parse"),
        }
    }
}

#[test]
fn a_path_through_a_scalar_names_rule_and_path() {
    let r = rule("op = \"set\"\npath = \"gui.httpPort.value\"\nvalue = 1\n");
    let err = migrate(
        Format::Yaml,
        "v.yml",
        "gui:\n  httpPort: 80\n",
        &[r],
        &Context::default(),
    )
    .unwrap_err();
    match &err {
        ConfigError::PathConflict { rule, path, at } => {
            assert!(rule.contains("set `gui.httpPort.value`"));
            assert_eq!(path, "gui.httpPort.value");
            assert_eq!(at, "gui.httpPort");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("not a mapping"));
}

#[test]
fn bad_rules_are_rejected_with_a_reason() {
    for (src, want) in [
        ("op = \"explode\"\npath = \"a\"", "unknown variant"),
        ("path = \"a\"", "missing `op`"),
        ("op = \"set\"\npath = \"a..b\"\nvalue = 1", "empty key"),
        (
            "op = \"transform\"\npath = \"a\"\npattern = \"(\"\nreplacement = \"x\"",
            "bad pattern",
        ),
        ("op = \"require\"\nmessage = \"m\"", "needs a `when`"),
        (
            "op = \"set\"\npath = \"a\"\nvalue = 1\nwhen = { path = \"a\", bogus = 1 }",
            "unknown field",
        ),
    ] {
        let t: toml::Table = toml::from_str(src).unwrap();
        let e = Rule::from_table(&t).unwrap_err();
        assert!(e.contains(want), "{src}: {e}");
    }
}

#[test]
fn move_policies() {
    let src = "old:\n  a: 1\n  b: 2\nnew:\n  a: 9\n";
    let m = |policy: &str| {
        let r = rule(&format!(
            "op = \"move\"\nfrom = \"old\"\nto = \"new\"\non_conflict = \"{policy}\""
        ));
        migrate(Format::Yaml, "v.yml", src, &[r], &Context::default())
    };
    let merged = m("merge").unwrap();
    assert_eq!(merged.text, "new:\n  a: 9\n  b: 2\n");
    let kept = m("keep_target").unwrap();
    assert_eq!(kept.text, "new:\n  a: 9\n");
    assert!(kept.warnings[0].contains("already set"));
    assert_eq!(m("overwrite").unwrap().text, "new:\n  a: 1\n  b: 2\n");
    assert!(matches!(m("fail"), Err(ConfigError::Conflict { .. })));
}

#[test]
fn require_stops_with_its_message() {
    let r = rule("op = \"require\"\nmessage = \"set the url\"\nwhen = { path = \"p.enabled\", equals = true }");
    let e = migrate(
        Format::Yaml,
        "v.yml",
        "p:\n  enabled: true\n",
        std::slice::from_ref(&r),
        &Context::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("set the url"));
    assert!(migrate(
        Format::Yaml,
        "v.yml",
        "p:\n  enabled: false\n",
        &[r],
        &Context::default()
    )
    .is_ok());
}

#[test]
fn storage_proxy_enabled_without_its_settings_is_refused() {
    let src = "api_gateway:\n  storage_proxy:\n    enabled: true\n";
    let e = migrate(
        Format::Yaml,
        "v.yml",
        src,
        &common::rules("mender", "3.7.7", "4.0.0"),
        &common::ctx("3.7.7", "4.0.0", &[]),
    )
    .unwrap_err();
    assert!(matches!(e, ConfigError::Required { .. }), "{e}");
    assert!(e.to_string().contains("DEPLOYMENTS_STORAGE_PROXY_URI"));
}

#[test]
fn every_rule_describes_itself_in_one_line() {
    let set = upshift_core::catalog::CatalogSet::built_in();
    for c in set.iter() {
        assert!(upshift_config::catalog::check_catalog(c).is_ok());
        for r in &c.releases {
            for t in &r.config_rules {
                let line = Rule::from_table(t).unwrap().to_string();
                assert!(!line.is_empty() && !line.contains('\n'), "{line}");
            }
        }
    }
}

#[test]
fn json_values_and_keys_with_backslashes_and_control_characters_round_trip() {
    for value in [
        "C:\\new\\table",
        "quote \" and \\\" both",
        "tab\tline\nend\u{1}",
    ] {
        let mut d = open(Format::Json, "f.json", "{\"a\": {\"b\": 1}}").unwrap();
        d.set(&p("a.b"), &json!(value)).unwrap();
        d.set(&p("a.c"), &json!({ value: value })).unwrap();
        d.set(&p("z"), &json!(value)).unwrap();
        let reread: serde_json::Value = serde_json::from_str(&d.text()).unwrap();
        assert_eq!(reread["a"]["b"], json!(value), "{}", d.text());
        assert_eq!(reread["a"]["c"][value], json!(value), "{}", d.text());
        assert_eq!(reread["z"], json!(value), "{}", d.text());
    }
}

/// A renamed key keeps the comments above it and its value as written,
/// in every format (the comment is what an operator wrote about the key).
#[test]
fn a_rename_keeps_the_comment_above_the_key() {
    let rename = upshift_config::Rule::from_table(
        &toml::from_str("op = \"rename\"\npath = \"guestbook.port\"\nto = \"listen_port\"")
            .unwrap(),
    )
    .unwrap();
    let text = "[guestbook]\n# the TCP port on 127.0.0.1\nport = 18437 # fixed\nname = \"g\"\n";
    let m = upshift_config::migrate(
        upshift_config::Format::Toml,
        "config.toml",
        text,
        &[rename],
        &upshift_config::Context::default(),
    )
    .unwrap();
    assert!(
        m.text
            .contains("# the TCP port on 127.0.0.1\nlisten_port = 18437"),
        "{}",
        m.text
    );
    assert!(!m.text.contains("\nport ="), "{}", m.text);
    assert!(m.text.contains("# fixed"), "{}", m.text);
}
