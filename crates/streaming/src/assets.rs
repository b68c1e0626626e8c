//! The web page of `kvs serve`, compiled into the binary so it works offline: a table
//! from URL path to content type and bytes ([`asset`], [`ASSETS`]).
//!
//! The page is plain HTML, CSS and JavaScript with no build step; hls.js 1.7.4 is
//! vendored from npm (`npm pack hls.js@1`, `dist/hls.min.js`) with its licence
//! (Apache-2.0), served at `/vendor/`. This module serves nothing itself.

/// One file of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    /// URL path, e.g. `/app.js`.
    pub path: &'static str,
    /// `Content-Type` to answer with.
    pub content_type: &'static str,
    /// The file.
    pub bytes: &'static [u8],
}

/// Every file of the page; `/` is the page itself.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../assets/index.html"),
    },
    Asset {
        path: "/app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/app.js"),
    },
    Asset {
        path: "/style.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/style.css"),
    },
    Asset {
        path: "/vendor/hls.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/hls.min.js"),
    },
    Asset {
        path: "/vendor/hls.js.LICENSE",
        content_type: "text/plain; charset=utf-8",
        bytes: include_bytes!("../assets/vendor/hls.js.LICENSE"),
    },
];

/// The asset at `path` (`/index.html` is `/`; a query string must be stripped first).
///
/// ```
/// let page = kvs_streaming::asset("/").unwrap();
/// assert_eq!(page.content_type, "text/html; charset=utf-8");
/// assert!(kvs_streaming::asset("/vendor/hls.min.js").is_some());
/// assert!(kvs_streaming::asset("/nope").is_none());
/// ```
pub fn asset(path: &str) -> Option<&'static Asset> {
    let path = if path == "/index.html" { "/" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}
