//! ADTS headers (ISO/IEC 13818-7, 6.2): how MPEG-TS carries raw AAC frames, each with
//! the 7-byte header that says its profile, rate, channels and length.

use crate::codec::AacConfig;

/// Bytes of an ADTS header without CRC.
pub(crate) const HEADER_LEN: usize = 7;

/// The longest frame an ADTS header can describe (13-bit length, header included).
const MAX_FRAME_LEN: usize = (1 << 13) - 1;

/// The header for a raw AAC frame of `payload_len` bytes.
pub(crate) fn header(aac: &AacConfig, payload_len: usize) -> Result<[u8; HEADER_LEN], &'static str> {
    // ADTS has 2 bits for the profile: object types 1 (Main) to 4 (LTP) only.
    if !(1..=4).contains(&aac.object_type) {
        return Err("ADTS carries only AAC Main, LC, SSR and LTP");
    }
    if aac.frequency_index > 12 {
        return Err("ADTS needs a standard sampling rate");
    }
    if !(1..=7).contains(&aac.channels) {
        return Err("ADTS needs a channel configuration of 1 to 7");
    }
    let len = payload_len + HEADER_LEN;
    if len > MAX_FRAME_LEN {
        return Err("AAC frame too long for ADTS");
    }
    let (profile, rate, channels) = (aac.object_type - 1, aac.frequency_index, aac.channels);
    Ok([
        0xFF,
        // MPEG-4, layer 0, no CRC.
        0xF1,
        (profile << 6) | (rate << 2) | (channels >> 2),
        ((channels & 3) << 6) | (len >> 11) as u8,
        (len >> 3) as u8,
        (((len & 7) as u8) << 5) | 0x1F,
        // Buffer fullness 0x7FF (variable rate), one raw data block.
        0xFC,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lc_48k_stereo_header() {
        let aac = AacConfig {
            asc: vec![0x11, 0x90],
            object_type: 2,
            frequency_index: 3,
            sample_rate: 48000,
            channels: 2,
        };
        // As FFmpeg writes it for a 200-byte frame (207 bytes with the header).
        assert_eq!(header(&aac, 200).unwrap(), [0xFF, 0xF1, 0x4C, 0x80, 0x19, 0xFF, 0xFC]);
        let he = AacConfig { object_type: 5, ..aac.clone() };
        assert!(header(&he, 200).is_err());
        assert!(header(&aac, 9000).is_err());
    }
}
