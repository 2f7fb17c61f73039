//! Properties: no rules leave any file byte-identical; a rule applied twice
//! equals it applied once.

mod common;

use proptest::prelude::*;
use upshift_config::{migrate, Context, Format, Rule};

/// Block-style YAML built from random keys, values, comments and blanks.
fn yaml_doc() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "global", "image", "tag", "enabled", "gui", "httpPort", "mongodb", "nats", "url", "a", "b",
    ]);
    let val = prop::sample::select(vec![
        "true",
        "false",
        "80",
        "\"mender-3.7.7\"",
        "mender-3.7.7",
        "'x'",
        "~",
        "[]",
        "{}",
        "v1 # c",
    ]);
    let line = (
        0usize..3,
        key,
        prop::option::of(val),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(depth, k, v, comment, blank)| {
            if blank {
                return String::new();
            }
            let pad = "  ".repeat(depth);
            if comment {
                return format!("{pad}# note {k}");
            }
            match v {
                Some(v) => format!("{pad}{k}: {v}"),
                None => format!("{pad}{k}:"),
            }
        });
    (
        prop::collection::vec(line, 0..25),
        prop::bool::ANY,
        prop::bool::ANY,
    )
        .prop_map(|(lines, final_nl, crlf)| {
            let sep = if crlf { "\r\n" } else { "\n" };
            let mut s = lines.join(sep);
            if final_nl {
                s.push_str(sep);
            }
            s
        })
}

fn rule(src: &str) -> Rule {
    Rule::from_table(&toml::from_str(src).expect("toml")).expect("rule")
}

fn sample_rules() -> Vec<Rule> {
    let mut v = vec![
        rule("op = \"set\"\npath = \"global.enterprise\"\nvalue = true"),
        rule("op = \"remove\"\npath = \"gui.httpPort\""),
        rule("op = \"comment_out\"\npath = \"global.image\"\nnote = \"n\""),
        rule("op = \"transform\"\npath = \"global.image.tag\"\npattern = '^mender-(.*)$'\nreplacement = 'v$1'"),
        rule("op = \"default_if_absent\"\npath = \"nats\"\nvalue = { enabled = false, url = \"x\" }"),
        rule("op = \"pin_changed_default\"\npath = \"mongodb.enabled\"\nold = false\nnew = true"),
        rule("op = \"move\"\nfrom = \"global.image\"\nto = \"default.image\"\non_conflict = \"merge\"\nleave = \"comment_out\""),
        rule("op = \"rename\"\npath = \"a\"\nto = \"b\""),
    ];
    v.extend(
        common::rules("mender", "3.7.7", "4.0.0")
            .into_iter()
            .filter(|r| !matches!(r.op, upshift_config::rule::Op::Require { .. })),
    );
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_rules_leave_any_text_byte_identical(text in yaml_doc()) {
        if let Ok(m) = migrate(Format::Yaml, "v.yml", &text, &[], &Context::default()) {
            prop_assert_eq!(&m.text, &text);
            prop_assert!(m.diff.is_empty());
        }
    }

    #[test]
    fn no_rules_leave_any_string_byte_identical_in_every_format(text in "\\PC{0,200}") {
        for f in [Format::Yaml, Format::Json, Format::Toml, Format::Env] {
            if let Ok(m) = migrate(f, "f", &text, &[], &Context::default()) {
                prop_assert_eq!(&m.text, &text);
            }
        }
    }

    #[test]
    fn a_rule_twice_equals_it_once(text in yaml_doc(), which in 0usize..30) {
        let rules = sample_rules();
        let r = &rules[which % rules.len()];
        let cx = common::ctx("3.7.7", "4.0.0", &[]);
        if let Ok(once) = migrate(Format::Yaml, "v.yml", &text, std::slice::from_ref(r), &cx) {
            let twice = migrate(Format::Yaml, "v.yml", &once.text, std::slice::from_ref(r), &cx);
            prop_assert!(twice.is_ok(), "second application failed: {:?}", twice.err());
            if let Ok(twice) = twice {
                prop_assert_eq!(once.text, twice.text);
            }
        }
    }
}
