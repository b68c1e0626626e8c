//! Which certificates HTTPS trusts besides the platform's roots: a PEM of CA certificates
//! (a local server's self-signed one, a company's CA), found once, read once and checked
//! here for every client of the workspace. The consumer's SDK client ([`Client`]) and the
//! producer's PutMedia client take the same bytes ([`Config::ca_pem`]).
//!
//! It builds no client and opens no connection: [`Client`] and `kvs-producer` do.
//!
//! [`Client`]: crate::Client
//! [`Config::ca_pem`]: crate::Config::ca_pem

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Error;

/// Environment variables naming a CA file, in the order they are looked at when no file
/// is given: `AWS_CA_BUNDLE` (what the AWS CLI and boto3 read, and what `kvs serve --tls`
/// prints), then `SSL_CERT_FILE` (OpenSSL's).
pub const CA_FILE_VARIABLES: [&str; 2] = ["AWS_CA_BUNDLE", "SSL_CERT_FILE"];

/// The certificates of a PEM, each checked to be usable as a root of trust. Refuses a PEM
/// with no certificate, a malformed one, or one that cannot be a trust anchor: the SDK's
/// HTTP client would otherwise panic on it when it opens its first connection.
///
/// ```
/// let error = kvs_consumer::tls::ca_certificates(b"not a PEM").unwrap_err();
/// assert!(error.to_string().contains("no PEM certificate"), "{error}");
/// ```
pub fn ca_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut certificates = Vec::new();
    for (i, cert) in CertificateDer::pem_slice_iter(pem).enumerate() {
        let cert = cert.map_err(|e| Error::Config(format!("CA certificate {}: {e}", i + 1)))?;
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| Error::Config(format!("CA certificate {}: {e}", i + 1)))?;
        certificates.push(cert);
    }
    if certificates.is_empty() {
        return Err(Error::Config("no PEM certificate (-----BEGIN CERTIFICATE-----) found".into()));
    }
    Ok(certificates)
}

/// Reads and checks a CA file ([`ca_certificates`]); errors name the file.
pub fn read_ca_file(path: &Path) -> Result<Vec<u8>, Error> {
    let pem = std::fs::read(path).map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))?;
    ca_certificates(&pem).map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))?;
    Ok(pem)
}

/// The CA file to trust: `flag` (a `--ca-file` option) when given, else the first of
/// [`CA_FILE_VARIABLES`] set and not empty (`env` reads a variable), with where it came
/// from.
pub fn ca_file(
    flag: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Option<(PathBuf, &'static str)> {
    if let Some(path) = flag {
        return Some((path.to_owned(), "--ca-file"));
    }
    CA_FILE_VARIABLES.iter().find_map(|&name| env(name).filter(|v| !v.is_empty()).map(|v| (v.into(), name)))
}

/// Says why, when `error` or one of its causes is a server certificate that TLS refused
/// (not signed by a trusted CA, expired, for another name). Such a failure comes again on
/// every try: callers end instead of retrying, with this text.
pub fn untrusted_certificate(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        // The TLS error travels inside io::Errors (two, through hyper-rustls), whose
        // `source` skips what they wrap: unwrap them.
        let mut inner: &(dyn std::error::Error + 'static) = e;
        while let Some(wrapped) = inner.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            inner = wrapped;
        }
        if let Some(rustls::Error::InvalidCertificate(why)) = inner.downcast_ref::<rustls::Error>() {
            return Some(format!(
                "the server's TLS certificate is not trusted ({why:?}): trust its CA with --ca-file, \
                 AWS_CA_BUNDLE or SSL_CERT_FILE (Config::ca_pem)"
            ));
        }
        next = e.source();
    }
    None
}

/// [`ca_file`] from the process environment, read and checked: the PEM to put in
/// [`Config::ca_pem`](crate::Config::ca_pem), or `None` when nothing names one.
pub fn ca_pem_from(flag: Option<&Path>) -> Result<Option<Vec<u8>>, Error> {
    let Some((path, from)) = ca_file(flag, |name| std::env::var_os(name)) else {
        return Ok(None);
    };
    read_ca_file(&path).map(Some).map_err(|e| match e {
        Error::Config(why) if from != "--ca-file" => Error::Config(format!("{why} (from {from})")),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_then_aws_ca_bundle_then_ssl_cert_file() {
        let env = |set: &'static [(&'static str, &'static str)]| {
            move |name: &str| set.iter().find(|(n, _)| *n == name).map(|(_, v)| OsString::from(v))
        };
        let both = env(&[("AWS_CA_BUNDLE", "/a.pem"), ("SSL_CERT_FILE", "/s.pem")]);
        assert_eq!(ca_file(Some(Path::new("/f.pem")), both), Some(("/f.pem".into(), "--ca-file")));
        assert_eq!(ca_file(None, both), Some(("/a.pem".into(), "AWS_CA_BUNDLE")));
        let ssl = env(&[("AWS_CA_BUNDLE", ""), ("SSL_CERT_FILE", "/s.pem")]);
        assert_eq!(ca_file(None, ssl), Some(("/s.pem".into(), "SSL_CERT_FILE")));
        assert_eq!(ca_file(None, env(&[])), None);
    }

    #[test]
    fn malformed_and_empty_pems_are_refused() {
        let cut = b"-----BEGIN CERTIFICATE-----\nMIIB\n";
        for bad in [&b""[..], b"hello", cut] {
            assert!(matches!(ca_certificates(bad), Err(Error::Config(_))), "{bad:?}");
        }
        let not_a_certificate = b"-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n";
        let error = ca_certificates(not_a_certificate).unwrap_err().to_string();
        assert!(error.contains("CA certificate 1"), "{error}");
        let missing = read_ca_file(Path::new("/nonexistent/ca.pem")).unwrap_err().to_string();
        assert!(missing.contains("/nonexistent/ca.pem"), "{missing}");
    }
}
