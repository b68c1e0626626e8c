//! Matroska tags as KVS uses them: every SimpleTag in order, the typed KVS tags read from
//! them, fragment numbers, timestamps, and in-band AWS errors.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use bytes::Bytes;

use crate::element::{Children, read_string};
use crate::{Error, ids};

/// One `SimpleTag`: a name and a string (or binary) value, exactly as the producer or KVS
/// wrote it. Nested SimpleTags are flattened into the list after their parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleTag {
    /// `TagName`.
    pub name: String,
    /// `TagString`, if present.
    pub value: Option<String>,
    /// `TagBinary`, if present.
    pub binary: Option<Bytes>,
}

/// Tag names written by KVS. Both spellings seen in the wild are accepted.
pub mod names {
    /// Fragment number (GetMedia).
    pub const FRAGMENT_NUMBER: &str = "AWS_KINESISVIDEO_FRAGMENT_NUMBER";
    /// Server timestamp (GetMedia).
    pub const SERVER_TIMESTAMP: &str = "AWS_KINESISVIDEO_SERVER_TIMESTAMP";
    /// Server timestamp (archive spelling).
    pub const SERVER_SIDE_TIMESTAMP: &str = "AWS_KINESISVIDEO_SERVER_SIDE_TIMESTAMP";
    /// Producer timestamp (GetMedia).
    pub const PRODUCER_TIMESTAMP: &str = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP";
    /// Producer timestamp (archive spelling).
    pub const PRODUCER_SIDE_TIMESTAMP: &str = "AWS_KINESISVIDEO_PRODUCER_SIDE_TIMESTAMP";
    /// How far behind the live edge the fragment was sent.
    pub const MILLIS_BEHIND_NOW: &str = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW";
    /// Token to resume after this fragment; marks the fragment's end.
    pub const CONTINUATION_TOKEN: &str = "AWS_KINESISVIDEO_CONTINUATION_TOKEN";
    /// In-band error code.
    pub const ERROR_CODE: &str = "AWS_KINESISVIDEO_ERROR_CODE";
    /// In-band error id.
    pub const ERROR_ID: &str = "AWS_KINESISVIDEO_ERROR_ID";
    /// In-band error code (documented spelling).
    pub const EXCEPTION_ERROR_CODE: &str = "AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE";
    /// In-band error message (documented spelling).
    pub const EXCEPTION_MESSAGE: &str = "AWS_KINESISVIDEO_EXCEPTION_MESSAGE";
}

/// A KVS fragment number: a decimal string of 1 to 128 digits, ordered numerically.
///
/// ```
/// use kvs_mkv::FragmentNumber;
/// let a: FragmentNumber = "99".parse().unwrap();
/// let b: FragmentNumber = "100".parse().unwrap();
/// assert!(a < b); // as strings, "99" > "100"
/// assert!("12a".parse::<FragmentNumber>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FragmentNumber(String);

/// Longest fragment number accepted.
pub const MAX_FRAGMENT_NUMBER_DIGITS: usize = 128;

/// A string that is not a valid fragment number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a fragment number (1-128 decimal digits): {0:?}")]
pub struct InvalidFragmentNumber(pub String);

impl FragmentNumber {
    /// The digits, leading zeros removed (a lone `0` is kept).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value, where it fits in a `u128` (fragment numbers of AWS are 48 digits: it
    /// does not).
    pub fn to_u128(&self) -> Option<u128> {
        self.0.parse().ok()
    }
}

impl FromStr for FragmentNumber {
    type Err = InvalidFragmentNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > MAX_FRAGMENT_NUMBER_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidFragmentNumber(s.chars().take(140).collect()));
        }
        let trimmed = s.trim_start_matches('0');
        Ok(Self(if trimmed.is_empty() { "0".into() } else { trimmed.into() }))
    }
}

impl Ord for FragmentNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for FragmentNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for FragmentNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A KVS timestamp tag: seconds since the Unix epoch with a decimal fraction, as a string
/// (`"1511374566.235"`). Keeps the text as sent and its value in milliseconds.
///
/// ```
/// use kvs_mkv::Timestamp;
/// let t: Timestamp = "1511374566.235".parse().unwrap();
/// assert_eq!(t.unix_millis(), 1_511_374_566_235);
/// assert_eq!(Timestamp::from_unix_millis(1_511_374_566_235).as_str(), "1511374566.235");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp {
    text: String,
    millis: i64,
}

/// A string that is not a KVS timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a timestamp in seconds: {0:?}")]
pub struct InvalidTimestamp(pub String);

impl Timestamp {
    /// The timestamp as KVS writes it, from milliseconds since the epoch.
    pub fn from_unix_millis(millis: i64) -> Self {
        let sign = if millis < 0 { "-" } else { "" };
        let abs = millis.unsigned_abs();
        Self { text: format!("{sign}{}.{:03}", abs / 1000, abs % 1000), millis }
    }

    /// Milliseconds since the Unix epoch (fractions below a millisecond are dropped).
    pub fn unix_millis(&self) -> i64 {
        self.millis
    }

    /// The text as it was sent.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || InvalidTimestamp(s.chars().take(64).collect());
        let (negative, body) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if secs.is_empty() || secs.len() > 15 || !digits(secs) || !digits(frac) {
            return Err(bad());
        }
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        let mut millis_text: String = frac.chars().take(3).collect();
        while millis_text.len() < 3 {
            millis_text.push('0');
        }
        let millis = secs * 1000 + millis_text.parse::<i64>().map_err(|_| bad())?;
        Ok(Self { text: s.to_owned(), millis: if negative { -millis } else { millis } })
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The KVS tags of a fragment, typed. A tag that is absent or unreadable is `None`; the
/// raw text stays in the fragment's full tag list either way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KvsTags {
    /// `AWS_KINESISVIDEO_FRAGMENT_NUMBER`.
    pub fragment_number: Option<FragmentNumber>,
    /// `AWS_KINESISVIDEO_SERVER_TIMESTAMP` or `..._SERVER_SIDE_TIMESTAMP`.
    pub server_timestamp: Option<Timestamp>,
    /// `AWS_KINESISVIDEO_PRODUCER_TIMESTAMP` or `..._PRODUCER_SIDE_TIMESTAMP`.
    pub producer_timestamp: Option<Timestamp>,
    /// `AWS_KINESISVIDEO_MILLIS_BEHIND_NOW`.
    pub millis_behind_now: Option<u64>,
    /// `AWS_KINESISVIDEO_CONTINUATION_TOKEN`.
    pub continuation_token: Option<String>,
}

impl KvsTags {
    /// Reads the KVS tags out of a fragment's SimpleTags; the first of each name wins.
    pub fn from_tags(tags: &[SimpleTag]) -> Self {
        let mut kvs = Self::default();
        for tag in tags {
            let Some(value) = tag.value.as_deref() else { continue };
            match tag.name.as_str() {
                names::FRAGMENT_NUMBER => set(&mut kvs.fragment_number, value.parse().ok()),
                names::SERVER_TIMESTAMP | names::SERVER_SIDE_TIMESTAMP => {
                    set(&mut kvs.server_timestamp, value.parse().ok())
                }
                names::PRODUCER_TIMESTAMP | names::PRODUCER_SIDE_TIMESTAMP => {
                    set(&mut kvs.producer_timestamp, value.parse().ok())
                }
                names::MILLIS_BEHIND_NOW => set(&mut kvs.millis_behind_now, value.trim().parse().ok()),
                names::CONTINUATION_TOKEN => set(&mut kvs.continuation_token, Some(value.to_owned())),
                _ => {}
            }
        }
        kvs
    }
}

fn set<T>(slot: &mut Option<T>, value: Option<T>) {
    if slot.is_none() {
        *slot = value;
    }
}

/// An error that KVS sent inside the media stream (HTTP 200) instead of a fragment.
///
/// The codes AWS documents: `3002` (error writing to the stream), `4000` (requested
/// fragment not found), `4500`-`4506` (the stream's KMS key: access denied, disabled,
/// invalid, unavailable, not found) and `5000` (internal error). GetMedia sends a
/// description in `AWS_KINESISVIDEO_ERROR_CODE` and the number in `AWS_KINESISVIDEO_ERROR_ID`;
/// GetMediaForFragmentList sends the number in `AWS_KINESISVIDEO_EXCEPTION_ERROR_CODE` and a
/// description in `AWS_KINESISVIDEO_EXCEPTION_MESSAGE`, after the fragment's number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AwsError {
    /// Stream offset of the fragment that carried the error.
    pub offset: u64,
    /// `AWS_KINESISVIDEO_ERROR_CODE` or `..._EXCEPTION_ERROR_CODE`.
    pub code: String,
    /// `AWS_KINESISVIDEO_ERROR_ID`, if sent.
    pub id: Option<String>,
    /// `AWS_KINESISVIDEO_EXCEPTION_MESSAGE`, if sent.
    pub message: Option<String>,
    /// Every SimpleTag of the error fragment, in order.
    pub tags: Vec<SimpleTag>,
}

impl AwsError {
    /// Builds the error if the tags carry an error code.
    pub fn from_tags(offset: u64, tags: &[SimpleTag]) -> Option<Self> {
        let find = |names: &[&str]| {
            tags.iter()
                .find(|t| names.contains(&t.name.as_str()))
                .map(|t| t.value.clone().unwrap_or_default())
        };
        let code = find(&[names::ERROR_CODE, names::EXCEPTION_ERROR_CODE])?;
        Some(Self {
            offset,
            code,
            id: find(&[names::ERROR_ID]),
            message: find(&[names::EXCEPTION_MESSAGE]),
            tags: tags.to_vec(),
        })
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KVS error {}", self.code)?;
        if let Some(id) = &self.id {
            write!(f, " (id {id})")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for AwsError {}

/// The SimpleTags of a whole `Tags` element (header included), in order.
///
/// ```
/// use kvs_mkv::{EbmlWriter, parse_tags};
/// let mut w = EbmlWriter::new();
/// w.simple_tags(&[("A", "1"), ("B", "2")]);
/// let tags = parse_tags(&w.into_bytes()).unwrap();
/// assert_eq!((tags[1].name.as_str(), tags[1].value.as_deref()), ("B", Some("2")));
/// ```
pub fn parse_tags(element: &Bytes) -> Result<Vec<SimpleTag>, Error> {
    let header = match crate::element::read_header(element) {
        crate::element::HeaderRead::Done(h) if h.id == ids::TAGS => h,
        crate::element::HeaderRead::Done(h) => {
            return Err(Error::Malformed { id: h.id, offset: 0, reason: "not a Tags element" });
        }
        _ => return Err(Error::Truncated { id: ids::TAGS, offset: 0 }),
    };
    let end = header.size.map_or(element.len() as u64, |s| header.len as u64 + s);
    if end > element.len() as u64 {
        return Err(Error::Truncated { id: ids::TAGS, offset: 0 });
    }
    let mut out = Vec::new();
    parse_tags_element(element, header.len..end as usize, 0, &mut out)?;
    Ok(out)
}

/// Appends the SimpleTags of a whole `Tags` element (`element` = header + data) to `out`.
pub(crate) fn parse_tags_element(
    element: &Bytes,
    data: std::ops::Range<usize>,
    base: u64,
    out: &mut Vec<SimpleTag>,
) -> Result<(), Error> {
    for tag in Children::new(element, data, base) {
        let tag = tag?.whole(base)?;
        if tag.header.id != ids::TAG {
            continue;
        }
        for simple in Children::new(element, tag.data.clone(), base) {
            let simple = simple?.whole(base)?;
            if simple.header.id == ids::SIMPLE_TAG {
                parse_simple_tag(element, simple.data, base, out, 0)?;
            }
        }
    }
    Ok(())
}

fn parse_simple_tag(
    buf: &Bytes,
    data: std::ops::Range<usize>,
    base: u64,
    out: &mut Vec<SimpleTag>,
    depth: usize,
) -> Result<(), Error> {
    if depth > 8 {
        return Err(Error::TooDeep { offset: base + data.start as u64, limit: 8 });
    }
    let slot = out.len();
    out.push(SimpleTag { name: String::new(), value: None, binary: None });
    for child in Children::new(buf, data, base) {
        let child = child?.whole(base)?;
        let body = &buf[child.data.clone()];
        match child.header.id {
            ids::TAG_NAME => out[slot].name = read_string(body),
            ids::TAG_STRING => out[slot].value = Some(read_string(body)),
            ids::TAG_BINARY => out[slot].binary = Some(buf.slice(child.data)),
            ids::SIMPLE_TAG => parse_simple_tag(buf, child.data, base, out, depth + 1)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragment_numbers_order_numerically() {
        let n = |s: &str| s.parse::<FragmentNumber>().unwrap();
        assert!(
            n("91343852333181432392682062607743920146159169392")
                < n("91343852333181432427344383709766881962776549716")
        );
        assert!(n("9") < n("10"));
        assert_eq!(n("007"), n("7"));
        assert_eq!(n("0").as_str(), "0");
        assert!("".parse::<FragmentNumber>().is_err());
        assert!("1".repeat(129).parse::<FragmentNumber>().is_err());
        assert!("1".repeat(128).parse::<FragmentNumber>().is_ok());
        assert_eq!(n("340282366920938463463374607431768211455").to_u128(), Some(u128::MAX));
    }

    #[test]
    fn timestamps_keep_text_and_value() {
        let t: Timestamp = "1511374566.2".parse().unwrap();
        assert_eq!(t.unix_millis(), 1_511_374_566_200);
        assert_eq!(t.as_str(), "1511374566.2");
        let t: Timestamp = "1511374566".parse().unwrap();
        assert_eq!(t.unix_millis(), 1_511_374_566_000);
        for bad in ["", "abc", "1.2.3", "1e5", "99999999999999999999"] {
            assert!(bad.parse::<Timestamp>().is_err(), "{bad}");
        }
    }

    #[test]
    fn both_error_spellings() {
        let tag = |n: &str, v: &str| SimpleTag { name: n.into(), value: Some(v.into()), binary: None };
        let e = AwsError::from_tags(
            5,
            &[tag(names::ERROR_CODE, "Requested fragment is not found"), tag(names::ERROR_ID, "4000")],
        )
        .unwrap();
        assert_eq!((e.code.as_str(), e.id.as_deref()), ("Requested fragment is not found", Some("4000")));
        let e = AwsError::from_tags(
            0,
            &[tag(names::EXCEPTION_ERROR_CODE, "4000"), tag(names::EXCEPTION_MESSAGE, "too big")],
        )
        .unwrap();
        assert_eq!(e.to_string(), "KVS error 4000: too big");
        assert!(AwsError::from_tags(0, &[tag(names::FRAGMENT_NUMBER, "1")]).is_none());
    }
}
