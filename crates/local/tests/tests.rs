//! Integration tests: the server on an ephemeral loopback port, driven only through the
//! official AWS SDK clients over real HTTP (and a plain HTTP client for PutMedia, which
//! the SDKs do not have). What comes back is checked with `kvs-mkv`.

// Shared helpers: SDK clients, body reading, fragment splitting.
mod util;
// MP4 read back with mp4-atom, and ffprobe where installed.
mod mp4util;
// Plain GETs as players make them.
mod fetch;

// CreateStream, DescribeStream, ListStreams, DeleteStream, GetDataEndpoint.
mod control;
// GetMedia: every StartSelector, live delivery, AWS layout, real captures.
mod get_media;
// ListFragments pagination and ranges, GetMediaForFragmentList.
mod archive;
// Rate and connection limits, errors, injected faults, in-band errors.
mod limits;
// PutMedia over chunked HTTP: acknowledgements, AWS's validation and error codes, the
// bytes held per connection, IDLE, faults; SigV4 and body hashes.
mod put_media;
// Connections: header read and idle timeouts, the connection cap.
mod connections;
// HTTPS: the SDK over TLS, the handshake under the cap, the certificate kept.
mod tls;
// Many live streams replayed from one input: looping, re-stamping, spreading.
mod replay;
// The directory store across a restart: torn writes, interrupted and failed deletes,
// a corrupt stream.json, two directories with one stream name.
mod restart;
// 3 live readers on 4 streams, bounded in time.
mod soak;
// GetClip: progressive MP4 of a range, through the archived-media client.
mod clip;
// HLS (fMP4, TS) and DASH sessions followed as a player follows them.
mod streaming;
// GetImages: paging, the camera's pictures, sizes, NO_MEDIA / MEDIA_ERROR, validation.
mod images;
// The web page: its bundled files and the stream list it polls.
mod page;
