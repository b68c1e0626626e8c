// The page of `kvs serve`: the stream table, a live HLS player, a fragment timeline to
// replay from, and a strip of GetImages thumbnails. Plain browser JavaScript, no build
// step. It talks to the server on the same origin with the requests the AWS SDKs send
// (JSON POSTs, timestamps in epoch seconds) plus one page endpoint, /api/streams.
// A server that checks signatures prints the page's address with a token (/?token=…),
// which the page sends instead of a signature, since a browser cannot sign.
"use strict";

const STREAMS_PATH = "/api/streams";
const STREAMS_EVERY_MS = 2000;
const TIMELINE_SPAN_MS = 3600 * 1000;
const TIMELINE_EVERY_MS = 10000;
const THUMBS_SPAN_MS = 60 * 1000; // GetImages takes at most 300 s
const THUMBS_COUNT = 10;
const THUMBS_EVERY_MS = 15000;
const ON_DEMAND_SPAN_MS = 10 * 60 * 1000;
const SESSION_RETRY_MS = 2000;

// The token is kept for this tab and taken out of the address bar, so that a link or a
// screenshot of the page does not carry it.
const PAGE_TOKEN = (() => {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  if (!token) return sessionStorage.getItem("kvs-page-token");
  sessionStorage.setItem("kvs-page-token", token);
  params.delete("token");
  const query = params.toString();
  history.replaceState(null, "", location.pathname + (query ? `?${query}` : ""));
  return token;
})();
const TOKEN_HEADERS = PAGE_TOKEN ? { "x-kvs-page-token": PAGE_TOKEN } : {};

const $ = (id) => document.getElementById(id);
const video = $("video");
const state = { stream: null, hls: null, fragments: [], timers: [], retry: null };

// A JSON POST as the SDKs make it; AWS errors come back as {Message} with x-amzn-ErrorType.
async function api(path, body) {
  return answer(
    await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...TOKEN_HEADERS },
      body: JSON.stringify(body),
    }),
  );
}

// The JSON of an answer, or an Error saying AWS's error type and message.
async function answer(response) {
  const text = await response.text();
  const json = text ? JSON.parse(text) : {};
  if (!response.ok) {
    const type = (response.headers.get("x-amzn-ErrorType") || "").split(":")[0];
    throw new Error(`${type || response.status}: ${json.Message || json.message || text}`);
  }
  return json;
}

const seconds = (ms) => ms / 1000;

function formatBytes(perSecond) {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)} MB/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(0)} kB/s`;
  return `${perSecond.toFixed(0)} B/s`;
}

function formatTime(ms) {
  return ms == null ? "—" : new Date(ms).toLocaleTimeString();
}

function formatLag(ms) {
  return ms == null ? "—" : `${(ms / 1000).toFixed(1)} s`;
}

function setStatus(text) {
  $("status").textContent = text;
}

function showError(text) {
  const p = $("player-error");
  p.textContent = text || "";
  p.hidden = !text;
}

// --- Stream table -------------------------------------------------------------------

async function refreshStreams() {
  try {
    const response = await fetch(STREAMS_PATH, { headers: TOKEN_HEADERS }).catch((e) => {
      throw new Error(`server unreachable (${e.message})`);
    });
    const { streams } = await answer(response);
    renderStreams(streams);
    setStatus(`updated ${new Date().toLocaleTimeString()}`);
  } catch (e) {
    setStatus(e.message);
  }
}

function renderStreams(streams) {
  const rows = $("stream-rows");
  rows.replaceChildren(
    ...streams.map((s) => {
      const tr = document.createElement("tr");
      tr.dataset.stream = s.name;
      tr.classList.toggle("selected", s.name === state.stream);
      const cells = [
        s.name,
        String(s.fragments),
        formatTime(s.last_fragment_ms),
        formatLag(s.lag_ms),
        `${formatBytes(s.ingest_bytes_per_second)} · ${s.fragments_per_second.toFixed(2)} frag/s`,
      ];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      tr.addEventListener("click", () => select(s.name));
      return tr;
    }),
  );
  $("no-streams").hidden = streams.length > 0;
}

// --- Player -------------------------------------------------------------------------

function play(url, label) {
  showError("");
  $("player-mode").textContent = label;
  if (state.hls) {
    state.hls.destroy();
    state.hls = null;
  }
  video.muted = true; // browsers only autoplay muted video
  if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ liveDurationInfinity: true });
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) showError(`Playback error: ${data.type} ${data.details}`);
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    state.hls = hls;
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = url; // Safari plays HLS natively
    video.play().catch(() => {});
  } else {
    showError("This browser can play neither HLS nor Media Source Extensions.");
  }
}

// `waitForMedia`: a stream that has just started has no fragment yet (KVS answers
// ResourceNotFoundException); ask again until it has, rather than show an error.
async function startSession(body, label, waitForMedia = false) {
  clearTimeout(state.retry);
  const stream = state.stream;
  try {
    const { HLSStreamingSessionURL } = await api("/getHLSStreamingSessionURL", {
      StreamName: stream,
      ...body,
    });
    play(HLSStreamingSessionURL, label);
  } catch (e) {
    if (waitForMedia && e.message.startsWith("ResourceNotFoundException")) {
      showError("");
      $("player-mode").textContent = `${label}: waiting for the first fragment`;
      state.retry = setTimeout(() => {
        if (state.stream === stream) startSession(body, label, true);
      }, SESSION_RETRY_MS);
    } else {
      showError(e.message);
    }
  }
}

function goLive() {
  return startSession({ PlaybackMode: "LIVE" }, "live", true);
}

function replayFrom(startMs) {
  const mode = $("replay-mode").value;
  const range = { StartTimestamp: seconds(startMs) };
  if (mode === "ON_DEMAND") {
    // A SERVER_TIMESTAMP range must end in the past.
    range.EndTimestamp = seconds(Math.min(startMs + ON_DEMAND_SPAN_MS, Date.now() - 1000));
  }
  return startSession(
    {
      PlaybackMode: mode,
      HLSFragmentSelector: { FragmentSelectorType: "SERVER_TIMESTAMP", TimestampRange: range },
    },
    `${mode.toLowerCase().replace("_", " ")} from ${formatTime(startMs)}`,
  );
}

// --- Timeline -----------------------------------------------------------------------

async function refreshTimeline() {
  const stream = state.stream;
  const end = Date.now();
  const fragments = [];
  let token;
  try {
    do {
      const body = token
        ? { StreamName: stream, MaxResults: 1000, NextToken: token }
        : {
            StreamName: stream,
            MaxResults: 1000,
            FragmentSelector: {
              FragmentSelectorType: "SERVER_TIMESTAMP",
              TimestampRange: { StartTimestamp: seconds(end - TIMELINE_SPAN_MS), EndTimestamp: seconds(end) },
            },
          };
      const page = await api("/listFragments", body);
      fragments.push(...(page.Fragments || []));
      token = page.NextToken;
    } while (token && fragments.length < 10000);
  } catch (e) {
    $("timeline-label").textContent = e.message;
    return;
  }
  if (stream !== state.stream) return;
  // ListFragments does not sort.
  state.fragments = fragments
    .map((f) => ({ start: f.ServerTimestamp * 1000, length: f.FragmentLengthInMilliseconds }))
    .sort((a, b) => a.start - b.start);
  drawTimeline();
}

function timelineSpan() {
  const f = state.fragments;
  if (!f.length) return null;
  const last = f[f.length - 1];
  return { from: f[0].start, to: Math.max(last.start + last.length, f[0].start + 1000) };
}

function drawTimeline() {
  const canvas = $("timeline");
  const width = (canvas.width = canvas.clientWidth || 960);
  const height = canvas.height;
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, width, height);
  const span = timelineSpan();
  if (!span) {
    $("timeline-label").textContent = "no fragments in the last hour";
    return;
  }
  const x = (t) => ((t - span.from) / (span.to - span.from)) * width;
  g.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--accent") || "#2f6fdf";
  for (const f of state.fragments) {
    g.fillRect(x(f.start), 8, Math.max(1, x(f.start + f.length) - x(f.start)), height - 16);
  }
  $("timeline-label").textContent =
    `${state.fragments.length} fragments, ${formatTime(span.from)} – ${formatTime(span.to)}`;
}

function timelineClick(event) {
  const span = timelineSpan();
  if (!span) return;
  const rect = event.target.getBoundingClientRect();
  const t = span.from + ((event.clientX - rect.left) / rect.width) * (span.to - span.from);
  // Start on the fragment under the pointer: a range starting inside one skips it.
  const under = state.fragments.filter((f) => f.start <= t).pop() || state.fragments[0];
  replayFrom(under.start);
}

// --- Thumbnails ---------------------------------------------------------------------

async function refreshThumbs() {
  const stream = state.stream;
  const span = timelineSpan();
  const end = span ? Math.min(span.to, Date.now()) : Date.now();
  const start = end - THUMBS_SPAN_MS;
  let images = [];
  try {
    const page = await api("/getImages", {
      StreamName: stream,
      ImageSelectorType: "SERVER_TIMESTAMP",
      StartTimestamp: seconds(start),
      EndTimestamp: seconds(end),
      SamplingInterval: Math.max(200, Math.floor(THUMBS_SPAN_MS / THUMBS_COUNT)),
      Format: "JPEG",
      HeightPixels: 90, // height alone keeps the aspect ratio
      MaxResults: THUMBS_COUNT,
    });
    images = page.Images || [];
  } catch (e) {
    $("thumbs").textContent = e.message;
    return;
  }
  if (stream !== state.stream) return;
  $("thumbs").replaceChildren(
    ...images.map((image) => {
      const figure = document.createElement("figure");
      const ms = image.TimeStamp * 1000;
      if (image.ImageContent) {
        const img = document.createElement("img");
        img.src = `data:image/jpeg;base64,${image.ImageContent}`;
        img.alt = `frame at ${formatTime(ms)}`;
        figure.append(img);
      } else {
        const missing = document.createElement("div");
        missing.className = "missing";
        missing.textContent = image.Error || "no image";
        figure.append(missing);
      }
      const caption = document.createElement("figcaption");
      caption.textContent = formatTime(ms);
      figure.append(caption);
      figure.addEventListener("click", () => replayFrom(ms));
      return figure;
    }),
  );
}

// --- Selection ----------------------------------------------------------------------

function select(name) {
  if (state.stream === name) return;
  state.stream = name;
  state.fragments = [];
  for (const timer of state.timers) clearInterval(timer);
  const url = new URL(location.href);
  url.searchParams.set("stream", name);
  history.replaceState(null, "", url);
  for (const tr of document.querySelectorAll("#stream-rows tr")) {
    tr.classList.toggle("selected", tr.dataset.stream === name);
  }
  $("player").hidden = false;
  $("player-title").textContent = name;
  goLive();
  refreshTimeline().then(refreshThumbs);
  state.timers = [setInterval(refreshTimeline, TIMELINE_EVERY_MS), setInterval(refreshThumbs, THUMBS_EVERY_MS)];
}

$("go-live").addEventListener("click", goLive);
$("timeline").addEventListener("click", timelineClick);
window.addEventListener("resize", drawTimeline);

refreshStreams();
setInterval(refreshStreams, STREAMS_EVERY_MS);
// `/?stream=NAME` opens that stream's live player at once, muted and playing.
const requested = new URLSearchParams(location.search).get("stream");
if (requested) select(requested);
