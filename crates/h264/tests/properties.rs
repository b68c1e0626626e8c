use std::borrow::Cow;

use kvs_h264::h265::HevcDecoderConfig;
use kvs_h264::{
    AvcDecoderConfig, BitReader, HighProfileFields, LengthSize, NalHeader, Sps, allow_frame_num_gaps,
    annex_b_to_avcc, avcc_to_annex_b, escape, split_annex_b, split_avcc, unescape, write_avcc,
};
use proptest::prelude::*;

/// A conforming NAL unit: a header byte with the forbidden bit clear and a type other
/// than 0, then an escaped payload ending in a non-zero byte (as its stop bit makes it).
fn nal_unit() -> impl Strategy<Value = Vec<u8>> {
    (1u8..0x80, prop::collection::vec(any::<u8>(), 0..64), 1u8..).prop_map(|(header, mut rbsp, last)| {
        rbsp.push(last);
        let mut nal = vec![if header & 0x1F == 0 { header | 1 } else { header }];
        nal.extend_from_slice(&escape(&rbsp));
        nal
    })
}

fn parameter_sets(max: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(nal_unit(), 0..max)
}

fn avc_config() -> impl Strategy<Value = AvcDecoderConfig> {
    let high = (0u8..4, 0u8..8, 0u8..8, parameter_sets(3)).prop_map(|(c, l, ch, ext)| HighProfileFields {
        chroma_format: c,
        bit_depth_luma_minus8: l,
        bit_depth_chroma_minus8: ch,
        sps_ext: ext,
    });
    (
        prop_oneof![Just(66u8), Just(77), Just(100), Just(122)],
        any::<u8>(),
        any::<u8>(),
        prop_oneof![Just(1usize), Just(2), Just(4)],
        parameter_sets(4),
        parameter_sets(4),
        prop::option::of(high),
    )
        .prop_map(|(profile, compat, level, size, sps, pps, high)| AvcDecoderConfig {
            profile_indication: profile,
            profile_compatibility: compat,
            level_indication: level,
            length_size: LengthSize::new(size).unwrap(),
            sps,
            pps,
            // The fields exist only for the High profiles.
            high: high.filter(|_| matches!(profile, 100 | 122)),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_any_parser(data in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = NalHeader::of(&data);
        let _ = kvs_h264::h265::NalHeader::of(&data);
        let _ = split_annex_b(&data).count();
        for size in 1..=4 {
            let size = LengthSize::new(size).unwrap();
            let _ = split_avcc(&data, size).count();
            let _ = avcc_to_annex_b(&data, size, &mut Vec::new());
            let _ = annex_b_to_avcc(&data, size, &mut Vec::new());
        }
        let _ = AvcDecoderConfig::parse(&data);
        let _ = HevcDecoderConfig::parse(&data);
        let _ = unescape(&data);
        let _ = escape(&data);
        let mut r = BitReader::new(&data);
        while r.ue().is_ok() || r.se().is_ok() || r.bits(7).is_ok() {}
        // As an SPS: its header byte made an SPS one, so the body is parsed.
        let mut sps = data.clone();
        if let Some(h) = sps.first_mut() {
            *h = 0x67;
        }
        let _ = Sps::parse(&sps);
        if let Ok(Cow::Owned(rewritten)) = allow_frame_num_gaps(&sps) {
            prop_assert!(Sps::parse(&rewritten).is_ok() == Sps::parse(&sps).is_ok());
            prop_assert!(matches!(allow_frame_num_gaps(&rewritten), Ok(Cow::Borrowed(_))));
        }
    }

    #[test]
    fn avcc_to_annex_b_and_back_is_byte_exact(nals in prop::collection::vec(nal_unit(), 0..8), size in 1usize..=4) {
        let size = LengthSize::new(size).unwrap();
        let mut avcc = Vec::new();
        let refs: Vec<&[u8]> = nals.iter().map(Vec::as_slice).collect();
        prop_assume!(write_avcc(&mut avcc, refs.iter().copied(), size).is_ok());
        let mut annex_b = Vec::new();
        avcc_to_annex_b(&avcc, size, &mut annex_b).unwrap();
        prop_assert_eq!(split_annex_b(&annex_b).collect::<Vec<_>>(), refs.clone());
        let mut back = Vec::new();
        annex_b_to_avcc(&annex_b, size, &mut back).unwrap();
        prop_assert_eq!(&back, &avcc);
        let mut again = Vec::new();
        avcc_to_annex_b(&back, size, &mut again).unwrap();
        prop_assert_eq!(again, annex_b);
    }

    #[test]
    fn a_built_record_parses_back_to_itself(config in avc_config()) {
        let record = config.to_bytes().unwrap();
        prop_assert_eq!(AvcDecoderConfig::parse(&record).unwrap(), config.clone());
        prop_assert_eq!(AvcDecoderConfig::parse(&record).unwrap().to_bytes().unwrap(), record);
    }

    #[test]
    fn escape_and_unescape_are_inverse(rbsp in prop::collection::vec(prop_oneof![Just(0u8), Just(1), Just(3), any::<u8>()], 0..128)) {
        let escaped = escape(&rbsp);
        prop_assert_eq!(unescape(&escaped), rbsp);
        prop_assert!(!escaped.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2));
        prop_assert_eq!(escape(&unescape(&escaped)), escaped);
    }
}
