//! The maintenance page as HTTP: a small self-contained HTML page (inline
//! CSS, nothing fetched from elsewhere, readable on a phone) and its
//! `503` head.

use std::time::SystemTime;

use super::notice::Notice;

/// The full answer to a request (`head_only` for `HEAD`: the same head,
/// no body), as of `now`.
pub fn response(notice: &Notice, now: SystemTime, head_only: bool) -> Vec<u8> {
    let retry = notice.retry_after(now);
    let refresh = notice.refresh(now);
    let body = html(notice, now);
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         Retry-After: {retry}\r\n\
         Refresh: {refresh}\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Whether a request's head asks for the head only.
pub fn is_head(request: &[u8]) -> bool {
    request.starts_with(b"HEAD ")
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;\
font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f4f5f7;color:#1f2933}\
main{max-width:34rem;margin:1.5rem;padding:2rem 1.75rem;background:#fff;border-radius:12px;\
box-shadow:0 1px 3px rgba(0,0,0,.12);border-top:6px solid #3b6fd6}\
.product{margin:0;color:#52606d;font-size:.9rem;text-transform:uppercase;letter-spacing:.06em}\
h1{margin:.25rem 0 1rem;font-size:1.6rem;line-height:1.25;overflow-wrap:anywhere}\
.message{white-space:pre-line;overflow-wrap:anywhere}\
.back{font-weight:600}\
.refresh{margin-bottom:0;color:#616e7c;font-size:.85rem}\
@media (prefers-color-scheme:dark){body{background:#1a1d21;color:#e4e7eb}\
main{background:#25292e}.product,.refresh{color:#9aa5b1}}";

/// The page's HTML.
pub fn html(notice: &Notice, now: SystemTime) -> String {
    let refresh = notice.refresh(now);
    let name = escape(&notice.installation);
    format!(
        "<!doctype html>\n\
<html lang=\"en\">\n\
<head>\n\
<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"refresh\" content=\"{refresh}\">\n\
<title>{name} is being upgraded</title>\n\
<style>{STYLE}</style>\n\
</head>\n\
<body>\n\
<main>\n\
<p class=\"product\">{product}</p>\n\
<h1>{name} is being upgraded</h1>\n\
<p class=\"message\">{message}</p>\n\
<p class=\"back\">{back}</p>\n\
<p class=\"refresh\">This page reloads itself every {refresh} seconds and shows the service as soon as it answers again.</p>\n\
</main>\n\
</body>\n\
</html>\n",
        product = escape(&notice.product),
        message = escape(&notice.message),
        back = escape(&notice.back(now).sentence()),
    )
}

/// `s` as HTML text or attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::super::notice::{Window, MESSAGE_LIMIT};
    use super::*;

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn hostile_text_is_escaped() {
        let n = Notice::new(
            "<b>prod</b>",
            "A & B",
            Some("<script>alert('x')</script> \"quoted\""),
            60,
        );
        let page = html(&n, UNIX_EPOCH);
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<b>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &quot;quoted&quot;"),
            "{page}"
        );
        assert!(page.contains("<h1>&lt;b&gt;prod&lt;/b&gt; is being upgraded</h1>"));
        assert!(page.contains("A &amp; B"));
        // Only the page's own tags remain.
        assert_eq!(
            page.matches('<').count(),
            html(&Notice::new("p", "p", Some("m"), 60), UNIX_EPOCH)
                .matches('<')
                .count()
        );
    }

    #[test]
    fn a_huge_message_keeps_the_page_small() {
        let huge = "<".repeat(1 << 20);
        let n = Notice::new("demo", "Demo", Some(&huge), 60);
        let page = html(&n, UNIX_EPOCH);
        assert!(
            page.len() < MESSAGE_LIMIT * 4 + 4096,
            "{} bytes",
            page.len()
        );
        assert!(page.ends_with("</html>\n"));
    }

    #[test]
    fn the_head_says_503_when_and_html() {
        let mut n = Notice::new("demo", "Demo", Some("soon"), 60);
        let opened = UNIX_EPOCH + Duration::from_secs(1_796_220_000);
        n.window = Some(Window {
            opened,
            estimate: Some(Duration::from_secs(600)),
        });
        let now = opened + Duration::from_secs(120);
        let out = text(response(&n, now, false));
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nRetry-After: 480\r\n"), "{head}");
        assert!(head.contains("\r\nRefresh: 30\r\n"), "{head}");
        assert!(
            head.contains("\r\nContent-Type: text/html; charset=utf-8\r\n"),
            "{head}"
        );
        assert!(
            head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
            "{head}"
        );
        assert!(
            body.contains("<meta http-equiv=\"refresh\" content=\"30\">"),
            "{body}"
        );
        assert!(
            body.contains("Expected back around 14:10 UTC, in about 8 minutes."),
            "{body}"
        );
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "nothing external"
        );
    }

    #[test]
    fn head_gets_the_head_only() {
        let n = Notice::new("demo", "Demo", None, 60);
        assert!(is_head(b"HEAD /anything HTTP/1.1\r\n\r\n"));
        assert!(!is_head(b"GET / HTTP/1.1\r\n\r\n"));
        let full = text(response(&n, UNIX_EPOCH, false));
        let head = text(response(&n, UNIX_EPOCH, true));
        assert!(full.starts_with(&head));
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        assert!(
            head.contains("Content-Length: "),
            "the length GET would have"
        );
        assert!(!head.contains("<html"));
    }
}
