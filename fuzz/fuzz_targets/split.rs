//! Fuzzes the splitter and everything a fragment can be asked for. The first byte picks
//! the chunk size, so chunking is fuzzed too.
//!
//! Seed the corpus from the real captures:
//! `mkdir -p corpus/split && cp ../../shared/kvs-samples/*.mkv corpus/split/`
//! then `cargo fuzz run split corpus/split`.
#![no_main]

use bytes::Bytes;
use kvs_mkv::{Event, FragmentSplitter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, data)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1) * 7;
    let input = Bytes::copy_from_slice(data);
    let mut splitter = FragmentSplitter::new();
    let mut total = 0u64;
    let mut check = |splitter: &mut FragmentSplitter| {
        while let Some(event) = splitter.poll() {
            match event {
                Event::Fragment(f) => {
                    total += f.bytes().len() as u64;
                    let _ = f.frames_lossy();
                    let _ = f.tracks();
                    let _ = f.tree().to_string();
                    if let Ok(playable) = f.to_playable_mkv() {
                        let _ = kvs_mkv::Fragment::from_bytes(Bytes::from(playable));
                    }
                }
                Event::Skipped(s) => total += s.len,
                _ => {}
            }
        }
    };
    for start in (0..input.len()).step_by(chunk) {
        splitter.feed(input.slice(start..(start + chunk).min(input.len())));
        check(&mut splitter);
    }
    splitter.finish();
    check(&mut splitter);
    // Every input byte is accounted for (AWS error fragments aside).
    assert!(total <= input.len() as u64);
});
