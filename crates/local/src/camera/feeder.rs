//! The thread that feeds a running server: a step (a camera's next fragment, or a paced
//! file's) run until it is done, fails or is stopped, paced at real time when asked.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::Camera;
use crate::Error;

/// A camera (or a paced file) feeding a stream of a running server. Dropping the handle
/// stops it.
#[derive(Debug)]
pub struct CameraHandle {
    stop: Arc<AtomicBool>,
    fragments: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<u64, Error>>>,
    /// Why the thread could not be started, if it could not.
    not_started: Option<std::io::Error>,
}

impl CameraHandle {
    /// Runs `step` on a thread until it returns `Ok(false)`, fails, or the handle stops
    /// it; each `Ok(true)` counts one fragment delivered.
    pub(crate) fn spawn(mut step: impl FnMut(&AtomicBool) -> Result<bool, Error> + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let fragments = Arc::new(AtomicU64::new(0));
        let (stop_flag, count) = (stop.clone(), fragments.clone());
        let thread = std::thread::Builder::new().name("kvs-local-feed".into()).spawn(move || {
            while !stop_flag.load(Ordering::Acquire) && step(&stop_flag)? {
                count.fetch_add(1, Ordering::AcqRel);
            }
            Ok(count.load(Ordering::Acquire))
        });
        match thread {
            Ok(thread) => Self { stop, fragments, thread: Some(thread), not_started: None },
            Err(e) => {
                tracing::warn!(error = %e, "cannot start the camera thread");
                Self { stop, fragments, thread: None, not_started: Some(e) }
            }
        }
    }

    /// The step of a camera: waits for real time if asked, then encodes and delivers one
    /// fragment.
    pub(crate) fn camera_step(
        mut camera: Camera,
        realtime: bool,
        mut deliver: impl FnMut(Bytes) -> Result<(), Error> + Send + 'static,
    ) -> impl FnMut(&AtomicBool) -> Result<bool, Error> + Send + 'static {
        move |stop| {
            if realtime && !camera.done() {
                let wait = camera.next_fragment_end_ms() - crate::clock::now_ms();
                if wait > 0 && !sleep_unless_stopped(Duration::from_millis(wait as u64), stop) {
                    return Ok(false);
                }
            }
            match camera.next_fragment()? {
                Some(bytes) => deliver(bytes).map(|()| true),
                None => Ok(false),
            }
        }
    }

    /// A handle whose camera could not start.
    pub(crate) fn failed(error: Error) -> Self {
        let thread = std::thread::spawn(move || Err(error));
        Self {
            stop: Arc::new(AtomicBool::new(true)),
            fragments: Arc::new(AtomicU64::new(0)),
            thread: Some(thread),
            not_started: None,
        }
    }

    /// Fragments delivered so far.
    pub fn fragments(&self) -> u64 {
        self.fragments.load(Ordering::Acquire)
    }

    /// Whether the camera has stopped (all frames done, stopped, or failed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits until the camera has filmed all its frames (it never ends with
    /// `frames: None`: use [`stop`](Self::stop)); returns the fragments delivered.
    pub fn wait(mut self) -> Result<u64, Error> {
        self.join()
    }

    /// Stops the camera after the fragment in progress; returns the fragments delivered.
    pub fn stop(mut self) -> Result<u64, Error> {
        self.stop.store(true, Ordering::Release);
        self.join()
    }

    fn join(&mut self) -> Result<u64, Error> {
        if let Some(e) = self.not_started.take() {
            return Err(Error::CameraThreadNotStarted(e));
        }
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or(Err(Error::CameraThreadPanicked)),
            // Joined already (only `wait` and `stop` join, and they take the handle).
            None => Ok(self.fragments()),
        }
    }
}

impl Drop for CameraHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sleeps in short steps; false if asked to stop meanwhile.
pub(crate) fn sleep_unless_stopped(duration: Duration, stop: &AtomicBool) -> bool {
    let until = Instant::now() + duration;
    while !stop.load(Ordering::Acquire) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_that_panics_ends_the_thread_with_its_error() {
        let mut steps = 0;
        let handle = CameraHandle::spawn(move |_| {
            steps += 1;
            assert!(steps < 3, "the step's own failure");
            Ok(true)
        });
        assert!(matches!(handle.wait(), Err(Error::CameraThreadPanicked)));
    }
}
