//! The default H.264 backend: Cisco's openh264, compiled from source by the `openh264`
//! crate (no system packages). Owns only the decoder calls; which access units reach it,
//! and what becomes of the pictures, is decided in `video`.

use openh264::OpenH264API;
use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::formats::YUVSource;

use crate::Error;
use crate::colour::YuvPlanes;
use crate::video::{Backend, Output};

/// openh264 in no-flush mode: pictures come out in presentation order, the last ones at
/// [`Backend::flush`].
pub(crate) struct OpenH264 {
    decoder: Decoder,
}

impl OpenH264 {
    pub(crate) fn new() -> Result<Self, Error> {
        let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
        let decoder = Decoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| Error::Decoder(e.to_string()))?;
        Ok(Self { decoder })
    }
}

fn planes<'a>(yuv: &'a openh264::decoder::DecodedYUV<'a>) -> YuvPlanes<'a> {
    let (width, height) = yuv.dimensions();
    YuvPlanes { width, height, y: yuv.y(), u: yuv.u(), v: yuv.v(), strides: yuv.strides() }
}

impl Backend for OpenH264 {
    fn decode(
        &mut self,
        access_unit: &[u8],
        _tag: usize,
        out: &mut dyn FnMut(Output<'_>),
    ) -> Result<(), Error> {
        match self.decoder.decode(access_unit) {
            Ok(Some(yuv)) => out(Output { planes: planes(&yuv), tag: None, signalling: None }),
            Ok(None) => {}
            Err(e) => return Err(Error::CorruptFrame(e.to_string())),
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut dyn FnMut(Output<'_>)) -> Result<(), Error> {
        let pictures = self.decoder.flush_remaining().map_err(|e| Error::Decoder(e.to_string()))?;
        for yuv in &pictures {
            out(Output { planes: planes(yuv), tag: None, signalling: None });
        }
        drop(pictures);
        // openh264 is left in an end-of-stream state by a flush (later pictures fail with
        // "out of memory" or "no parameter sets" on real captures): start afresh. The next
        // fragment starts at an IDR, before which the parameter sets are always repeated.
        *self = Self::new()?;
        Ok(())
    }
}
