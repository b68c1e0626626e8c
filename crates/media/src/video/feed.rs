//! Gives a fragment's prepared frames to the codec and matches each picture that comes
//! out to the frame it belongs to: by the tag carried through the codec when the backend
//! has one, else in presentation order. Selected pictures go to the sink; frames the
//! selection does not need and no picture refers to are never fed.

use std::cell::Cell;

use super::plan::{Plan, Prepared};
use super::track::Active;
use super::{FrameError, Output, Picture, Selection, Stats, VideoOptions};
use crate::Error;
use crate::colour::Colour;
use crate::nal::Signalling;

/// Frames given to the codec whose pictures have not come out yet, and where the ones
/// that do come out go.
pub(super) struct Feeder<'a, S> {
    plan: &'a Plan<'a>,
    selection: &'a Selection,
    forced: Option<Colour>,
    signalling: Signalling,
    converted: &'a Cell<u64>,
    /// Fed frames not yet handed out, as (display, decode) positions.
    pending: Vec<(usize, usize)>,
    pictures: u64,
    sink: S,
}

impl<'a, S: FnMut(Picture<'_>)> Feeder<'a, S> {
    pub fn new(
        plan: &'a Plan<'a>,
        options: &'a VideoOptions,
        signalling: Signalling,
        converted: &'a Cell<u64>,
        sink: S,
    ) -> Self {
        Self {
            plan,
            selection: &options.selection,
            forced: options.colour,
            signalling,
            converted,
            pending: Vec::new(),
            pictures: 0,
            sink,
        }
    }

    /// Feeds `frames` (decode order) to the backend, skipping those the selection allows.
    pub fn feed(
        &mut self,
        active: &mut Active,
        frames: &[Prepared],
        stats: &mut Stats,
        errors: &mut Vec<FrameError>,
    ) {
        for p in frames {
            if self.skips(p) {
                match self.selection {
                    Selection::Keyframes => stats.skipped_non_keyframes += 1,
                    _ => stats.skipped_non_reference += 1,
                }
                continue;
            }
            let unit = match &p.unit {
                Ok(unit) => unit,
                Err(e) => {
                    stats.errors += 1;
                    let error = match e {
                        Error::CorruptFrame(message) => Error::CorruptFrame(message.clone()),
                        other => Error::CorruptFrame(other.to_string()),
                    };
                    errors.push(FrameError {
                        index: Some(p.display),
                        timestamp_ns: Some(p.timestamp_ns),
                        error,
                    });
                    continue;
                }
            };
            stats.decoded += 1;
            self.pending.push((p.display, p.decode));
            if let Err(error) = active.backend.decode(unit, p.decode, &mut |o| self.deliver(o)) {
                // A picture that failed never comes out: forget it so the next ones match.
                if let Some(i) = self.pending.iter().position(|&(_, d)| d == p.decode) {
                    self.pending.swap_remove(i);
                }
                stats.errors += 1;
                tracing::debug!(%error, index = p.display, "frame failed to decode");
                errors.push(FrameError { index: Some(p.display), timestamp_ns: Some(p.timestamp_ns), error });
            }
        }
    }

    /// Ends the fragment: flushes the pictures the codec still holds, if any, and reports
    /// the selected frames that never came out. Without a flush the decoder keeps its
    /// references for a next fragment that goes on from this one.
    pub fn finish(mut self, active: &mut Active, stats: &mut Stats, errors: &mut Vec<FrameError>) {
        active.continuable = self.pending.is_empty();
        if !self.pending.is_empty()
            && let Err(error) = active.backend.flush(&mut |o| self.deliver(o))
        {
            errors.push(FrameError { index: None, timestamp_ns: None, error });
        }
        stats.pictures += self.pictures;
        for &(display, decode) in &self.pending {
            if self.plan.selected(decode) {
                stats.errors += 1;
                let timestamp_ns = Some(self.plan.frames()[decode].timestamp_ns);
                errors.push(FrameError { index: Some(display), timestamp_ns, error: Error::NoPicture });
            }
        }
    }

    /// Whether the frame need not be given to the codec at all.
    fn skips(&self, p: &Prepared) -> bool {
        match self.selection {
            Selection::Keyframes => !p.idr,
            _ => !self.plan.selected(p.decode) && p.non_reference,
        }
    }

    /// Matches a picture to its frame and hands it to the sink when selected.
    fn deliver(&mut self, output: Output<'_>) {
        self.pictures += 1;
        let slot = match output.tag {
            Some(tag) => self.pending.iter().position(|&(_, d)| d == tag),
            None => self.pending.iter().enumerate().min_by_key(|(_, p)| **p).map(|(i, _)| i),
        };
        let Some(slot) = slot else {
            tracing::warn!("the decoder handed out a picture no frame accounts for");
            return;
        };
        let (_, decode) = self.pending.swap_remove(slot);
        if !self.plan.selected(decode) {
            return;
        }
        let s = output.signalling.unwrap_or(self.signalling);
        let colour = self
            .forced
            .unwrap_or_else(|| Colour::from_signalling(s.matrix, s.full_range, output.planes.height));
        let info = self.plan.info(decode);
        (self.sink)(Picture { info, planes: output.planes, colour, converted: self.converted });
    }
}
