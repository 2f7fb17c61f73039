//! A client that writes notes through the demo's HTTP API while a test
//! runs, keeping what the notes service acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use upshift_demo::http;

use super::demo::Demo;

/// A client that writes notes until stopped, keeping the marks of the
/// notes the service acknowledged (201).
pub struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    /// When each acknowledgement arrived (ms since the epoch), in order.
    times: Arc<Mutex<Vec<i64>>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(demo: &Demo, prefix: String) -> Writer {
        let auth = format!("http://{}", demo.public_address("auth"));
        let notes = format!("http://{}/notes", demo.public_address("notes"));
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let times = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, acked, times) = (stop.clone(), acked.clone(), times.clone());
            std::thread::spawn(move || {
                let mut token: Option<String> = None;
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let Some(t) = token.clone().or_else(|| get_token(&auth)) else {
                        std::thread::sleep(Duration::from_millis(20));
                        continue;
                    };
                    token = Some(t.clone());
                    n += 1;
                    let title = format!("{prefix}-{n}");
                    let body = serde_json::json!({"title": "soak", "body": title}).to_string();
                    match http::post(&notes, Some(&t), &body) {
                        Ok(r) if r.status == 201 => {
                            acked.lock().unwrap().push(title);
                            times.lock().unwrap().push(now_ms());
                        }
                        Ok(r) if r.status == 401 => token = None,
                        _ => {}
                    }
                    // Pacing, not synchronisation: a write every ~10 ms.
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        Writer {
            stop,
            acked,
            times,
            thread: Some(thread),
        }
    }

    pub fn count(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Waits (with a deadline) until `more` writes beyond now are acknowledged.
    pub fn wait_for_more(&self, more: usize) {
        let want = self.count() + more;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.count() < want {
            assert!(
                Instant::now() < deadline,
                "no write was acknowledged for 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn finish(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.acked.lock().unwrap().clone()
    }
}

impl Writer {
    /// Stops, and returns the notes acknowledged before `at_ms` (ms since
    /// the epoch), and all of them.
    pub fn finish_split(self, at_ms: i64) -> (Vec<String>, Vec<String>) {
        let times = self.times.clone();
        let all = self.finish();
        let times = times.lock().unwrap().clone();
        let before = all
            .iter()
            .zip(times)
            .filter(|(_, t)| *t < at_ms)
            .map(|(n, _)| n.clone())
            .collect();
        (before, all)
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn get_token(auth: &str) -> Option<String> {
    let r = http::post(&format!("{auth}/token"), None, r#"{"user": "soak"}"#).ok()?;
    let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    v["token"].as_str().map(str::to_string)
}

/// The bodies of every note the running release exports (the writer
/// puts its unique mark there: 1.0.0 keeps no titles).
pub fn titles(demo: &Demo) -> Vec<String> {
    let all: serde_json::Value = serde_json::from_str(&demo.export()).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap_or("").to_string())
        .collect()
}
