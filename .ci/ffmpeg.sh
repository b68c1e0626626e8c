#!/usr/bin/env bash
# Builds, tests and lints kvs-media with its `ffmpeg` feature (H.265, AAC, FFmpeg H.264).
# Installs what the feature needs from Debian: the FFmpeg development libraries that
# ffmpeg-next links against, pkg-config to find them, libclang for bindgen, and the
# ffmpeg tool (with libx264/libx265) that the tests use to make H.264 and H.265 clips.
# nasm is optional: when it is on PATH before openh264-sys2 is first built, openh264 uses
# its assembly and decodes about twice as fast (the default build needs none of this).
# Called by CI from the repository root.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
    libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev \
    pkg-config clang libclang-dev ffmpeg nasm

cargo test -p kvs-media --features ffmpeg
cargo clippy -p kvs-media --features ffmpeg --all-targets -- -D warnings

# FFmpeg beside openh264 in the same run: the decode benchmark in quick mode.
cargo bench -p kvs-media --features ffmpeg --bench decode -- --quick --noplot
