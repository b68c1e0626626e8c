#!/usr/bin/env bash
# The command-line tools some tests check our output with, installed from Debian before the
# workspace's tests run, so that those tests run in CI instead of skipping: `ffmpeg` and
# `ffprobe` (they make H.264/H.265 clips and read back the MP4, MPEG-TS and HLS we write),
# `chromium`, the headless browser that plays the page of `kvs serve`, and GStreamer's
# `gst-launch-1.0` with matroskamux and x264enc (a producer pipeline `kvs put` reads). And `nasm`, before
# anything is built: openh264 assembles its SIMD code with it and decodes H.264 2.3x faster
# (without it, crates/media/build.rs warns), so the benchmarks measure the fast build.
# On a machine without them (a user's fresh clone) the same tests skip with a message.
# Sourced by .ci/run from the repository root.
export DEBIAN_FRONTEND=noninteractive
if ! command -v ffmpeg >/dev/null || ! command -v chromium >/dev/null || ! command -v nasm >/dev/null \
  || ! command -v gst-launch-1.0 >/dev/null; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ffmpeg chromium nasm \
    gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly >/dev/null
fi
ffmpeg -version | sed -n 1p
chromium --version
nasm -v
gst-launch-1.0 --version | sed -n 1p
