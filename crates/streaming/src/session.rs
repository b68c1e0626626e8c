//! Streaming sessions: the opaque [`SessionToken`] a session URL carries, the
//! [`Session`] it names (stream, mode, selector, expiry, LIVE numbering) and the
//! [`SessionTable`] that issues, finds and expires them on a clock the caller passes.
//!
//! A token is 192 random bits from the operating system, hex-encoded: unguessable, and
//! safe in a URL query without escaping. It carries nothing itself; the table maps it to
//! its session. Nothing here reads the time, renders a playlist or touches HTTP.

use std::collections::HashMap;

use crate::error::Error;
use crate::fragment::{FragmentInfo, UnixMillis};
use crate::request::{DiscontinuityMode, PlaybackMode, Protocol, SessionSpec};
use crate::window::{LiveWindow, Window, WindowEntry, annotate, has_recent, in_range, replay_released, tail};

/// Random bytes in a token (192 bits).
const TOKEN_BYTES: usize = 24;
/// Sessions a table holds by default; past it, creation is `ClientLimitExceededException`.
pub const DEFAULT_SESSION_LIMIT: usize = 10_000;
/// An expired session is remembered this long, so its token is refused as expired rather
/// than unknown; the table forgets it sooner only when full.
const EXPIRED_MEMORY_MS: u64 = 10 * 60 * 1000;

/// [`TOKEN_BYTES`] from the operating system's random source, as lowercase hex.
pub(crate) fn random_hex() -> Result<String, Error> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The `SessionToken` of a session URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh token from the operating system's random source.
    pub fn random() -> Result<Self, Error> {
        random_hex().map(Self)
    }

    /// The token as it goes in a URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which fragment of its session a player asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentKey<'a> {
    /// By KVS fragment number (HLS: `FragmentNumber=`).
    Number(&'a str),
    /// By sequence number in the session (DASH: `$Number$`).
    Sequence(u64),
}

/// One streaming session.
#[derive(Debug, Clone)]
pub struct Session {
    token: SessionToken,
    stream_name: String,
    spec: SessionSpec,
    created: UnixMillis,
    expires_at: UnixMillis,
    live: LiveWindow,
}

impl Session {
    /// The token naming it.
    pub fn token(&self) -> &SessionToken {
        &self.token
    }

    /// The stream it plays (resolved from the request's name or ARN).
    pub fn stream_name(&self) -> &str {
        &self.stream_name
    }

    /// The validated request.
    pub fn spec(&self) -> &SessionSpec {
        &self.spec
    }

    /// When it stops answering.
    pub fn expires_at(&self) -> UnixMillis {
        self.expires_at
    }

    fn max_results(&self) -> usize {
        self.spec.max_results as usize
    }

    fn discontinuity_mode(&self) -> DiscontinuityMode {
        match self.spec.protocol {
            Protocol::Hls { discontinuity, .. } => discontinuity,
            Protocol::Dash { .. } => DiscontinuityMode::Never,
        }
    }

    /// Every fragment a ranged session has released by `now`, numbered, and whether the
    /// range is all out.
    fn released(&self, fragments: &[FragmentInfo], now: UnixMillis) -> (Vec<WindowEntry>, bool) {
        let Some(range) = self.spec.range else { return (Vec::new(), false) };
        let list = in_range(fragments, self.spec.source, range);
        let (count, complete) = match self.spec.mode {
            PlaybackMode::OnDemand => (list.len().min(self.max_results()), true),
            _ => {
                let count = replay_released(&list, self.max_results(), now.0.saturating_sub(self.created.0));
                let complete = range.end.is_some_and(|end| now >= end) && count == list.len();
                (count, complete)
            }
        };
        (annotate(&list[..count], self.spec.source, self.discontinuity_mode()), complete)
    }

    /// The fragments a playlist or manifest shows now. `fragments` must hold at least
    /// those the session can see (LIVE: the stream's newest; otherwise the range);
    /// passing all of the stream's is always correct.
    ///
    /// LIVE sessions remember what they showed, hence `&mut self`.
    pub fn window(&mut self, fragments: &[FragmentInfo], now: UnixMillis) -> Window {
        let n = self.max_results();
        match self.spec.mode {
            PlaybackMode::Live => {
                let mode = self.discontinuity_mode();
                self.live.admit(fragments, self.spec.source, mode, n);
                self.live.window(n)
            }
            PlaybackMode::OnDemand => {
                let (entries, _) = self.released(fragments, now);
                Window { entries, complete: true, origin: self.created, ..Window::default() }
            }
            PlaybackMode::LiveReplay => {
                let (entries, complete) = self.released(fragments, now);
                // The first fragments are released at once: date media time 0 so that
                // they are all available at creation.
                let initial: u64 = entries.iter().take(n).map(|e| e.fragment.duration_ms).sum();
                tail(entries, n, complete, self.created.minus(initial))
            }
        }
    }

    /// The fragment a player asks for, if the session shows (or just showed) it: a
    /// session serves no media outside its own. Errors with `ResourceNotFoundException`.
    pub fn resolve(
        &mut self,
        fragments: &[FragmentInfo],
        key: FragmentKey<'_>,
        now: UnixMillis,
    ) -> Result<WindowEntry, Error> {
        let matches = |e: &WindowEntry| match key {
            FragmentKey::Number(n) => e.fragment.fragment_number == n,
            FragmentKey::Sequence(s) => e.sequence == s,
        };
        let found = match self.spec.mode {
            PlaybackMode::Live => {
                let mode = self.discontinuity_mode();
                self.live.admit(fragments, self.spec.source, mode, self.max_results());
                self.live.find(matches).cloned()
            }
            _ => self.released(fragments, now).0.into_iter().find(matches),
        };
        found.ok_or_else(|| {
            Error::ResourceNotFound("the requested fragment is not part of this session".into())
        })
    }
}

/// The sessions a server has issued.
///
/// Call order: [`SessionTable::create`] on `GetHLSStreamingSessionURL` /
/// `GetDASHStreamingSessionURL`; [`SessionTable::get_mut`] on every player request,
/// then [`Session::window`] (playlists) or [`Session::resolve`] (fragments). Expired
/// sessions are refused from their expiry on and forgotten later.
///
/// ```
/// use kvs_streaming::{Error, FragmentInfo, HlsSessionRequest, SessionTable, UnixMillis};
///
/// let now = UnixMillis(1_700_000_000_000);
/// let fragments = vec![FragmentInfo {
///     fragment_number: "91343852333181432392682062607743920146236843326".into(),
///     producer: now.minus(2_000),
///     server: now.minus(1_000),
///     duration_ms: 2_000,
/// }];
/// let spec = HlsSessionRequest { stream_name: Some("cam".into()), ..Default::default() }.validate(now)?;
///
/// let mut table = SessionTable::default();
/// let token = table.create("cam", spec, &fragments, now)?;
/// let window = table.get_mut(token.as_str(), now)?.window(&fragments, now);
/// assert_eq!(window.entries.len(), 1);
///
/// // Expires defaults to 300 s.
/// let later = now.plus(300_000);
/// assert_eq!(table.get_mut(token.as_str(), later).unwrap_err(), Error::SessionExpired);
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug)]
pub struct SessionTable {
    sessions: HashMap<String, Session>,
    limit: usize,
}

impl Default for SessionTable {
    fn default() -> Self {
        Self::with_limit(DEFAULT_SESSION_LIMIT)
    }
}

impl SessionTable {
    /// A table holding at most `limit` sessions.
    pub fn with_limit(limit: usize) -> Self {
        Self { sessions: HashMap::new(), limit }
    }

    /// Sessions held, expired ones not yet forgotten included.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// No session held.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Opens a session on `stream_name` (the stream `spec.stream` names, resolved by the
    /// server), refusing, as AWS does, a LIVE session on a stream with no fragment in
    /// the last 30 s and a ranged one with no fragment in its range
    /// (`ResourceNotFoundException`).
    pub fn create(
        &mut self,
        stream_name: &str,
        spec: SessionSpec,
        fragments: &[FragmentInfo],
        now: UnixMillis,
    ) -> Result<SessionToken, Error> {
        match spec.range {
            None if !has_recent(fragments, now) => {
                return Err(Error::ResourceNotFound(format!(
                    "stream {stream_name} has no fragment in the last 30 seconds"
                )));
            }
            Some(range) if in_range(fragments, spec.source, range).is_empty() => {
                return Err(Error::ResourceNotFound(format!(
                    "stream {stream_name} has no fragment in the requested range"
                )));
            }
            _ => {}
        }
        self.forget_expired(now, EXPIRED_MEMORY_MS);
        if self.sessions.len() >= self.limit {
            self.forget_expired(now, 0);
        }
        if self.sessions.len() >= self.limit {
            return Err(Error::TooManySessions { limit: self.limit });
        }
        let token = SessionToken::random()?;
        let expires_at = now.plus(u64::from(spec.expires_secs) * 1000);
        tracing::debug!(stream = stream_name, mode = ?spec.mode, "streaming session created");
        let session = Session {
            token: token.clone(),
            stream_name: stream_name.to_owned(),
            spec,
            created: now,
            expires_at,
            live: LiveWindow::default(),
        };
        self.sessions.insert(token.0.clone(), session);
        Ok(token)
    }

    /// The session of `token`, refused with `NotAuthorizedException` when unknown
    /// ([`Error::UnknownSession`]) or expired ([`Error::SessionExpired`]).
    pub fn get_mut(&mut self, token: &str, now: UnixMillis) -> Result<&mut Session, Error> {
        let session = self.sessions.get_mut(token).ok_or(Error::UnknownSession)?;
        if now >= session.expires_at {
            return Err(Error::SessionExpired);
        }
        Ok(session)
    }

    /// Forgets sessions expired for `grace_ms` or longer.
    fn forget_expired(&mut self, now: UnixMillis, grace_ms: u64) {
        self.sessions.retain(|_, s| now < s.expires_at.plus(grace_ms));
    }
}
