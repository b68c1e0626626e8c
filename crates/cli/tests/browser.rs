//! The page of `kvs serve` in a real browser: Debian's `chromium`, headless, driven over the
//! Chrome DevTools Protocol (a WebSocket and JSON; no crate that downloads a browser).
//!
//! `/?stream=cam` must open the camera's live player at once, muted and playing: the video's
//! `currentTime` advances, the browser decodes frames, and a screenshot of the video shows
//! the synthetic camera's colour bars where the camera draws them. Under `--credentials`
//! the same from the page address the server prints, whose token stands in for the
//! signatures a browser cannot make. Skips, saying so, where
//! `chromium` is not installed (CI installs it: `.ci/tools.sh`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

use crate::util::{Process, Served};

/// The camera's picture size and the colour bars it draws, left to right (75% bars, RGB;
/// `kvs_local::camera::BARS`), in the band between a quarter and three quarters of its height.
const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
const BARS: [[u8; 3]; 8] = [
    [191, 191, 191],
    [191, 191, 0],
    [0, 191, 191],
    [0, 191, 0],
    [191, 0, 191],
    [191, 0, 0],
    [0, 0, 191],
    [0, 0, 0],
];
/// Coding loss, the browser's colour conversion and its scaling move colours a little.
const TOLERANCE: i32 = 40;

/// A headless chromium with its DevTools endpoint, killed when dropped.
struct Browser {
    _process: Process,
    _profile: tempfile::TempDir,
    /// `127.0.0.1:PORT` of the DevTools HTTP endpoint.
    devtools: String,
}

impl Browser {
    /// `None` (after a note) where chromium is not installed.
    fn start() -> Option<Browser> {
        let profile = tempfile::tempdir().unwrap();
        let spawned = Command::new("chromium")
            .args([
                "--headless=new",
                // Root in a container has no user namespace for the sandbox.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--autoplay-policy=no-user-gesture-required",
                "--window-size=1280,1400",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                eprintln!("skipping: no chromium to drive ({e}); CI installs it (.ci/tools.sh)");
                return None;
            }
        };
        let stderr = child.stderr.take().unwrap();
        let process = Process(child);
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID"
        let url = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.split_once("DevTools listening on ws://").map(|(_, url)| url.to_owned()))
            .expect("chromium prints its DevTools address");
        let devtools = url.split('/').next().unwrap().to_owned();
        Some(Browser { _process: process, _profile: profile, devtools })
    }

    /// The DevTools session of the browser's first page.
    fn page(&self) -> Page {
        let targets: Value = serde_json::from_str(&http_get(&self.devtools, "/json/list")).unwrap();
        let url = targets
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .expect("a page target")
            .to_owned();
        let (socket, _) = tungstenite::connect(url).expect("DevTools WebSocket");
        Page { socket, next_id: 1 }
    }
}

/// One page, driven with DevTools commands.
struct Page {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Page {
    /// Sends a command and returns its result, skipping the events that come in between.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({ "id": id, "method": method, "params": params });
        self.socket.send(Message::text(command.to_string())).unwrap();
        loop {
            let Message::Text(text) = self.socket.read().unwrap() else { continue };
            let reply: Value = serde_json::from_str(&text).unwrap();
            if reply["id"] == id {
                assert!(reply["error"].is_null(), "{method}: {}", reply["error"]);
                return reply["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression (JSON-serialisable).
    /// A promise is awaited.
    fn eval(&mut self, expression: &str) -> Value {
        let params = json!({ "expression": expression, "returnByValue": true, "awaitPromise": true });
        let result = self.call("Runtime.evaluate", params);
        assert!(result["exceptionDetails"].is_null(), "{expression}: {}", result["exceptionDetails"]);
        result["result"]["value"].clone()
    }
}

/// The body of a plain HTTP/1.1 GET (DevTools' JSON endpoints), read to its
/// Content-Length: DevTools keeps the connection open whatever the request says.
fn http_get(addr: &str, path: &str) -> String {
    let mut socket = BufReader::new(TcpStream::connect(addr).unwrap());
    write!(socket.get_mut(), "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        socket.read_line(&mut line).unwrap();
        if line.trim_end().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    socket.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// What the page's video reports.
#[derive(Debug, Clone)]
struct Playback {
    current_time: f64,
    decoded_frames: u64,
    video_width: u64,
}

/// The video's state; `None` while the page is still loading.
fn playback(page: &mut Page) -> Option<Playback> {
    let state = page.eval(
        "(() => { const v = document.getElementById('video'); \
         const e = document.getElementById('player-error'); \
         if (!v || !e) return null; \
         return { t: v.currentTime, f: v.getVideoPlaybackQuality().totalVideoFrames, \
                  w: v.videoWidth, error: e.textContent }; })()",
    );
    if state.is_null() {
        return None;
    }
    assert_eq!(state["error"], "", "the page shows a playback error");
    Some(Playback {
        current_time: state["t"].as_f64().unwrap(),
        decoded_frames: state["f"].as_u64().unwrap(),
        video_width: state["w"].as_u64().unwrap(),
    })
}

/// Waits until the video plays: its time advances by a second and more frames are decoded.
/// The camera makes one fragment a second and a live HLS playlist starts a few fragments
/// behind, so this allows for start-up.
fn wait_for_playback(page: &mut Page) -> Playback {
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        let state = playback(page);
        if let Some(state) = state.as_ref().filter(|s| s.current_time > 0.0 && s.decoded_frames > 0) {
            break state.clone();
        }
        assert!(Instant::now() < deadline, "the video never started: {state:?}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let later = loop {
        std::thread::sleep(Duration::from_millis(250));
        let state = playback(page).expect("the page stays loaded");
        if state.current_time >= first.current_time + 1.0 {
            break state;
        }
        assert!(Instant::now() < deadline, "the video stopped at {first:?}: {state:?}");
    };
    assert!(later.decoded_frames > first.decoded_frames, "{first:?} then {later:?}");
    later
}

#[test]
fn the_page_plays_the_live_camera_with_its_colour_bars() {
    let Some(browser) = Browser::start() else { return };
    let server = Served::start(&["--camera", &format!("cam:{WIDTH}x{HEIGHT}@15")]);
    let mut page = browser.page();
    page.call("Page.enable", json!({}));
    page.call("Page.navigate", json!({ "url": format!("http://{}/?stream=cam", server.addr) }));
    let playing = wait_for_playback(&mut page);
    assert_eq!(playing.video_width, u64::from(WIDTH));

    // The picture: a screenshot of the video's box, sampled in the middle of each bar.
    page.eval(
        "(() => { const v = document.getElementById('video'); v.controls = false; v.scrollIntoView(); })()",
    );
    std::thread::sleep(Duration::from_millis(500));
    let rect = page.eval(
        "(() => { const r = document.getElementById('video').getBoundingClientRect(); \
         return { x: r.x, y: r.y, w: r.width, h: r.height }; })()",
    );
    let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| rect[k].as_f64().unwrap());
    let shot = page.call(
        "Page.captureScreenshot",
        json!({ "format": "png", "clip": { "x": x, "y": y, "width": w, "height": h, "scale": 1 } }),
    );
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
    let image = Screenshot::decode(&png);

    // The video keeps its aspect ratio inside its box (object-fit: contain).
    let scale = (f64::from(image.width) / f64::from(WIDTH)).min(f64::from(image.height) / f64::from(HEIGHT));
    let left = (f64::from(image.width) - f64::from(WIDTH) * scale) / 2.0;
    let top = (f64::from(image.height) - f64::from(HEIGHT) * scale) / 2.0;
    for (k, expected) in BARS.iter().enumerate() {
        let (bar_x, bar_y) = ((k as f64 + 0.5) * f64::from(WIDTH) / 8.0, f64::from(HEIGHT) / 2.0);
        let (px, py) = ((left + bar_x * scale) as u32, (top + bar_y * scale) as u32);
        let got = image.pixel(px, py);
        let close = got.iter().zip(expected).all(|(g, e)| (i32::from(*g) - i32::from(*e)).abs() <= TOLERANCE);
        assert!(close, "bar {k} at ({px}, {py}) of the screenshot: {got:?}, expected {expected:?}");
    }
}

/// A server that checks signatures prints the page's address with a token; opened with
/// `&stream=cam`, the page lists the streams, plays, and fetches thumbnails with it, and
/// takes the token out of the address bar.
#[test]
fn with_credentials_the_printed_page_address_plays() {
    let Some(browser) = Browser::start() else { return };
    let mut server = Served::start(&[
        "--camera",
        &format!("cam:{WIDTH}x{HEIGHT}@15"),
        "--credentials",
        "AKIDPAGE:page-secret",
    ]);
    let page_url = BufReader::new(&mut server.stderr)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("page: ").map(str::to_owned))
        .expect("kvs serve prints the page's address");
    assert!(page_url.starts_with(&format!("http://{}/?token=", server.addr)), "{page_url}");
    let mut page = browser.page();
    page.call("Page.enable", json!({}));
    page.call("Page.navigate", json!({ "url": format!("{page_url}&stream=cam") }));
    wait_for_playback(&mut page);

    assert_eq!(page.eval("location.search"), "?stream=cam");
    let listed = page.eval(
        "[document.getElementById('status').textContent, \
          [...document.querySelectorAll('#stream-rows tr')].map((tr) => tr.dataset.stream)]",
    );
    assert!(listed[0].as_str().unwrap().starts_with("updated"), "{listed}");
    assert_eq!(listed[1], json!(["cam"]));
    // GetImages through the page's own call, as its thumbnail strip makes it, over the last
    // seconds (points before the camera's first fragment would be NO_MEDIA).
    let images = page.eval(
        "api('/getImages', { StreamName: 'cam', ImageSelectorType: 'SERVER_TIMESTAMP', \
           StartTimestamp: Date.now() / 1000 - 4, EndTimestamp: Date.now() / 1000, \
           SamplingInterval: 500, Format: 'JPEG', MaxResults: 8 }) \
         .then((page) => page.Images.filter((image) => image.ImageContent).length)",
    );
    assert!(images.as_u64().unwrap() >= 1, "{images}");
    // Without the token (a new tab), the stream list is refused with a hint.
    let refused = page.eval(
        "fetch('/api/streams').then((r) => [r.status, r.headers.get('x-amzn-ErrorType').split(':')[0]])",
    );
    assert_eq!(refused, json!([403, "UnrecognizedClientException"]));
}

/// A decoded screenshot, RGB or RGBA.
struct Screenshot {
    width: u32,
    height: u32,
    channels: usize,
    pixels: Vec<u8>,
}

impl Screenshot {
    fn decode(png_bytes: &[u8]) -> Screenshot {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!(info.bit_depth, png::BitDepth::Eight);
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("a screenshot in {other:?}"),
        };
        pixels.truncate(info.buffer_size());
        Screenshot { width: info.width, height: info.height, channels, pixels }
    }

    /// The RGB of a pixel (alpha dropped: a screenshot is opaque).
    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let at = (y as usize * self.width as usize + x as usize) * self.channels;
        [self.pixels[at], self.pixels[at + 1], self.pixels[at + 2]]
    }
}
