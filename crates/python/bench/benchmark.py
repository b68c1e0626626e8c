"""Throughput of kvs_consumer from Python against the same work done in Rust alone.

    python crates/python/bench/benchmark.py [--samples DIR] [--seconds 1.0] [--quick]

For each capture in kvs-samples it reports, in fragments/s and MB/s:
  rust      splitting and counting frames in Rust only (`_native._rust_split`, no Python
            objects): the engine's own speed;
  python    `for f in FragmentReader(BytesIO(data))` with `f.frame_count()`: what a Python
            user gets, 64 KiB reads through a Python stream object;
  dom       the same plus `f.dom` and `KvsFragementProcessor.get_fragment_tags(f.dom)`,
            what the sample's callback does for every fragment.
and, for the H.264 captures, frames/s decoded and converted to RGB:
  rust/N    `kvs_media::FrameDecoder` in Rust only (`_native._rust_frames`), every Nth frame;
  python/N  `f.frames(every=N)` for each fragment: numpy arrays, as Python gets them.
Build with `pip install ./crates/python` (release) before trusting the numbers.
"""

import argparse
import io
import os
import pathlib
import sys
import time

from kvs_consumer import FragmentReader, KvsFragementProcessor, _native

FILES = ["output_get_media.mkv", "kinesis_video_renderer_example_output.mkv", "test_mixed_tags.mkv"]
# H.264 captures to decode.
VIDEO = ["output_get_media.mkv", "kinesis_video_renderer_example_output.mkv", "vogels_330.mkv"]


def rate(work, seconds):
    """Runs `work()` repeatedly for about `seconds`; returns (runs per second, result)."""
    result = work()
    runs, start = 0, time.perf_counter()
    while True:
        work()
        runs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return runs / elapsed, result


def python_split(data):
    fragments = frames = 0
    for f in FragmentReader(io.BytesIO(data)):
        fragments += 1
        frames += f.frame_count()
    return fragments, frames


def python_dom(data):
    processor = KvsFragementProcessor()
    fragments = 0
    for f in FragmentReader(io.BytesIO(data)):
        processor.get_fragment_tags(f.dom)
        fragments += 1
    return fragments, 0


def python_frames(data, every):
    fragments = frames = 0
    for f in FragmentReader(io.BytesIO(data)):
        fragments += 1
        frames += len(f.frames(every=every))
    return fragments, frames


def main():
    default = os.environ.get("KVS_SAMPLES") or str(pathlib.Path(__file__).resolve().parents[3].parent / "shared" / "kvs-samples")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", default=default)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="one capture, one frame ratio: checks the script runs")
    args = parser.parse_args()
    files, video, ratios = (FILES[:1], VIDEO[:1], (10,)) if args.quick else (FILES, VIDEO, (1, 10))
    samples = pathlib.Path(args.samples)
    if not samples.is_dir():
        print(f"kvs-samples not found at {samples}", file=sys.stderr)
        return 1
    print(f"{'file':44} {'mode':7} {'fragments/s':>12} {'frames/s':>12} {'MB/s':>9}")
    for name in files:
        data = (samples / name).read_bytes()
        modes = [
            ("rust", lambda: _native._rust_split(data)),
            ("python", lambda: python_split(data)),
            ("dom", lambda: python_dom(data)),
        ]
        for mode, work in modes:
            per_second, (fragments, frames) = rate(work, args.seconds)
            print(
                f"{name:44} {mode:7} {fragments * per_second:12.0f} {frames * per_second:12.0f}"
                f" {len(data) * per_second / 1e6:9.0f}"
            )
    for name in video:
        data = (samples / name).read_bytes()
        for every in ratios:
            modes = [
                (f"rust/{every}", lambda: _native._rust_frames(data, every)),
                (f"python/{every}", lambda: python_frames(data, every)),
            ]
            for mode, work in modes:
                per_second, (fragments, frames) = rate(work, args.seconds)
                print(
                    f"{name:44} {mode:7} {fragments * per_second:12.1f} {frames * per_second:12.1f}"
                    f" {len(data) * per_second / 1e6:9.1f}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
