//! SigV4 verification of incoming requests, when the server is given credentials.
//!
//! The signature is recomputed with the `aws-sigv4` crate (the one the SDKs sign with)
//! over the headers the client says it signed, and compared. Never logs a secret or a
//! signature.
//!
//! The body's hash, as AWS treats it: a body read whole (every JSON call, and a PutMedia
//! not signed with `UNSIGNED-PAYLOAD`) must match `x-amz-content-sha256` when the header
//! is sent, and is hashed into the canonical request when it is not (botocore's
//! `SigV4Auth` signs so). `UNSIGNED-PAYLOAD` is accepted only for PutMedia, whose body is
//! a stream that cannot be hashed before it is used ([`Payload::Unsigned`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::Credentials;
use crate::api::errors::ErrorType;

/// The service name KVS signs with.
const SERVICE: &str = "kinesisvideo";
/// Largest clock difference accepted, as AWS.
const MAX_SKEW: Duration = Duration::from_secs(15 * 60);

/// The `x-amz-content-sha256` value of a body not hashed.
pub(crate) const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Why a request was refused: AWS's error type and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthError {
    /// The error type.
    pub error_type: ErrorType,
    /// Message for the body.
    pub message: String,
}

fn refuse(error_type: ErrorType, message: impl Into<String>) -> AuthError {
    AuthError { error_type, message: message.into() }
}

/// The body a signature covers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// The whole body, read before the call is served.
    Bytes(&'a [u8]),
    /// A PutMedia body streamed as it comes, signed with `UNSIGNED-PAYLOAD`.
    Unsigned,
}

/// What a request says about its signature.
struct Authorization<'a> {
    access_key_id: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (key, value) = part.trim().split_once('=')?;
        match key {
            "Credential" => credential = Some(value),
            "SignedHeaders" => signed = Some(value),
            "Signature" => signature = Some(value),
            _ => {}
        }
    }
    let mut scope = credential?.split('/');
    let access_key_id = scope.next()?;
    let _date = scope.next()?;
    let region = scope.next()?;
    let service = scope.next()?;
    Some(Authorization {
        access_key_id,
        region,
        service,
        signed_headers: signed?.split(';').collect(),
        signature: signature?,
    })
}

/// Parses `x-amz-date` (`20240102T030405Z`).
fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Checks a request's signature over its headers and `payload`.
pub(crate) fn verify(
    credentials: &Credentials,
    region: &str,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    payload: Payload<'_>,
) -> Result<(), AuthError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let Some(auth) = header("authorization") else {
        return Err(refuse(ErrorType::MissingAuthenticationToken, "Missing Authentication Token"));
    };
    let auth = parse_authorization(auth).ok_or_else(|| {
        refuse(ErrorType::IncompleteSignature, "Authorization header is not a SigV4 signature")
    })?;
    if auth.access_key_id != credentials.access_key_id {
        return Err(refuse(
            ErrorType::UnrecognizedClient,
            "The security token included in the request is invalid.",
        ));
    }
    if auth.region != region || auth.service != SERVICE {
        return Err(refuse(
            ErrorType::InvalidSignature,
            format!("Credential should be scoped to {region}/{SERVICE}"),
        ));
    }
    let time = header("x-amz-date")
        .and_then(parse_amz_date)
        .ok_or_else(|| refuse(ErrorType::IncompleteSignature, "x-amz-date missing or malformed"))?;
    let now = SystemTime::now();
    let skew = now.duration_since(time).or_else(|_| time.duration_since(now)).unwrap_or_default();
    if skew > MAX_SKEW {
        return Err(refuse(
            ErrorType::InvalidSignature,
            "Signature expired: the request time is too far from the server time",
        ));
    }
    let Some(host) = header("host") else {
        return Err(refuse(ErrorType::IncompleteSignature, "Host header missing"));
    };
    if !auth.signed_headers.contains(&"host") {
        return Err(refuse(ErrorType::IncompleteSignature, "the host header must be signed"));
    }
    let mut signed = Vec::with_capacity(auth.signed_headers.len());
    for name in &auth.signed_headers {
        let Some(value) = header(name) else {
            return Err(refuse(ErrorType::IncompleteSignature, format!("signed header {name} missing")));
        };
        signed.push((*name, value));
    }
    let stated = header("x-amz-content-sha256");
    let payload_hash = match payload {
        Payload::Unsigned if stated == Some(UNSIGNED_PAYLOAD) => UNSIGNED_PAYLOAD.to_owned(),
        Payload::Unsigned => {
            return Err(refuse(
                ErrorType::InvalidSignature,
                "a streamed body must be signed with x-amz-content-sha256: UNSIGNED-PAYLOAD",
            ));
        }
        Payload::Bytes(_) if stated == Some(UNSIGNED_PAYLOAD) => {
            return Err(refuse(
                ErrorType::InvalidSignature,
                "UNSIGNED-PAYLOAD is accepted for PutMedia only: sign the body's SHA-256",
            ));
        }
        Payload::Bytes(body) => {
            let actual = hex::encode(Sha256::digest(body));
            if stated.is_some_and(|stated| stated != actual) {
                return Err(refuse(
                    ErrorType::InvalidSignature,
                    "x-amz-content-sha256 does not match the body",
                ));
            }
            actual
        }
    };
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.clone(),
        None,
        None,
        "kvs-local",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| refuse(ErrorType::InternalFailure, e.to_string()))?
        .into();
    let uri = format!("http://{host}{path_and_query}");
    let request =
        SignableRequest::new(method, uri, signed.into_iter(), SignableBody::Precomputed(payload_hash))
            .map_err(|_| refuse(ErrorType::InvalidSignature, "request cannot be signed"))?;
    let expected = sign(request, &params)
        .map_err(|_| refuse(ErrorType::InvalidSignature, "request cannot be signed"))?;
    if !constant_time_eq(expected.signature().as_bytes(), auth.signature.as_bytes()) {
        return Err(refuse(
            ErrorType::InvalidSignature,
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amz_dates_parse() {
        let t = parse_amz_date("20210511T154045Z").unwrap();
        assert_eq!(t.duration_since(UNIX_EPOCH).unwrap().as_secs(), 1_620_747_645);
        for bad in ["", "20211311T154045Z", "20210511 154045Z", "2021051XT154045Z"] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn authorization_headers_parse() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20210511/us-east-1/kinesisvideo/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc",
        )
        .unwrap();
        assert_eq!(
            (a.access_key_id, a.region, a.service, a.signature),
            ("AKID", "us-east-1", "kinesisvideo", "abc")
        );
        assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
        assert!(parse_authorization("Basic abc").is_none());
    }
}
