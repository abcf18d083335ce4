//! Video files from RGBA frames: H.264 MP4 through an `ffmpeg` process fed raw frames on a
//! pipe (every frame written is one video frame: none dropped, none repeated), or an animated
//! GIF when ffmpeg is not installed (what is drawn into the frames: [`super::burnin`]).

use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

/// Where frames go.
enum Sink {
    Ffmpeg {
        child: Child,
        stdin: Option<ChildStdin>,
    },
    Gif(Box<gif::Encoder<std::io::BufWriter<std::fs::File>>>),
    /// Finished: the file is closed.
    Closed,
}

/// Frames go to a hidden partial file next to the video, renamed to it by
/// [`VideoWriter::finish`]: a recording that is killed or fails midway never leaves a
/// half-written video under the asked-for name (nor blocks the next try), and a dropped
/// writer removes its partial file.
pub struct VideoWriter {
    sink: Sink,
    /// The video's name once finished.
    path: PathBuf,
    /// Where frames are written until then.
    partial: PathBuf,
    finished: bool,
    width: u32,
    height: u32,
    fps: u32,
    frames: u64,
}

/// Whether `ffmpeg` can be started.
pub fn ffmpeg_available() -> bool {
    Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl VideoWriter {
    /// An MP4 at `path` when ffmpeg is installed; otherwise a GIF next to it (same name,
    /// `.gif`), with a message on stderr saying so. Width and height must be even (H.264).
    pub fn create(path: &Path, width: u32, height: u32, fps: u32) -> Result<Self> {
        if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 {
            bail!("video size {width}×{height}: width and height must be even and non-zero");
        }
        if fps == 0 || fps > 240 {
            bail!("video frame rate {fps}: expected 1–240");
        }
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
            eprintln!("created the folder {} for the video", dir.display());
        }
        let wants_gif = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gif"));
        if !wants_gif && ffmpeg_available() {
            return Self::ffmpeg(path, width, height, fps);
        }
        let gif_path = path.with_extension("gif");
        if !wants_gif {
            eprintln!(
                "ffmpeg not found: writing an animated GIF to {} instead of an MP4 \
                 (install ffmpeg, e.g. `apt install ffmpeg`, for H.264)",
                gif_path.display()
            );
        }
        Self::gif(&gif_path, width, height, fps)
    }

    /// The GIF writer, whatever is installed.
    pub fn gif(path: &Path, width: u32, height: u32, fps: u32) -> Result<Self> {
        let (w, h) = (u16::try_from(width)?, u16::try_from(height)?);
        let partial = partial_path(path);
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("cannot create {}", partial.display()))?;
        let mut enc = gif::Encoder::new(std::io::BufWriter::new(file), w, h, &[])?;
        enc.set_repeat(gif::Repeat::Infinite)?;
        Ok(Self {
            sink: Sink::Gif(Box::new(enc)),
            path: path.to_owned(),
            partial,
            finished: false,
            width,
            height,
            fps,
            frames: 0,
        })
    }

    fn ffmpeg(path: &Path, width: u32, height: u32, fps: u32) -> Result<Self> {
        let partial = partial_path(path);
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgba"])
            .args([
                "-s",
                &format!("{width}x{height}"),
                "-framerate",
                &fps.to_string(),
            ])
            .args(["-i", "-"])
            .args([
                "-c:v", "libx264", "-preset", "medium", "-crf", "20", "-pix_fmt", "yuv420p",
            ])
            .args(["-r", &fps.to_string(), "-movflags", "+faststart"])
            .arg(&partial)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .context("cannot start ffmpeg")?;
        let stdin = child.stdin.take();
        Ok(Self {
            sink: Sink::Ffmpeg { child, stdin },
            path: path.to_owned(),
            partial,
            finished: false,
            width,
            height,
            fps,
            frames: 0,
        })
    }

    /// The file being written (the GIF's when it fell back).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Appends one frame of `width × height` RGBA pixels, rows top to bottom.
    pub fn push(&mut self, rgba: &[u8]) -> Result<()> {
        let expected = (self.width * self.height * 4) as usize;
        if rgba.len() != expected {
            bail!(
                "frame of {} bytes, expected {expected} ({}×{} RGBA)",
                rgba.len(),
                self.width,
                self.height
            );
        }
        match &mut self.sink {
            Sink::Ffmpeg { stdin, .. } => stdin
                .as_mut()
                .context("video already finished")?
                .write_all(rgba)
                .context("ffmpeg stopped taking frames")?,
            Sink::Gif(enc) => {
                let mut pixels = rgba.to_vec();
                let mut frame = gif::Frame::from_rgba_speed(
                    self.width as u16,
                    self.height as u16,
                    &mut pixels,
                    10,
                );
                // GIF delays are in 1/100 s.
                frame.delay = (100 / self.fps).max(1) as u16;
                enc.write_frame(&frame)?;
            }
            Sink::Closed => bail!("video already finished"),
        }
        self.frames += 1;
        Ok(())
    }

    /// Closes the file (waits for ffmpeg), gives it its name and returns its path.
    pub fn finish(mut self) -> Result<PathBuf> {
        match std::mem::replace(&mut self.sink, Sink::Closed) {
            Sink::Ffmpeg { mut child, stdin } => {
                drop(stdin);
                let status = child.wait().context("waiting for ffmpeg")?;
                if !status.success() {
                    bail!("ffmpeg failed ({status}) writing {}", self.path.display());
                }
            }
            // The trailer, then the buffered bytes.
            Sink::Gif(enc) => enc
                .into_inner()
                .and_then(|mut w| w.flush())
                .with_context(|| format!("cannot write {}", self.partial.display()))?,
            Sink::Closed => bail!("video already finished"),
        }
        std::fs::rename(&self.partial, &self.path)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        self.finished = true;
        Ok(self.path.clone())
    }
}

impl Drop for VideoWriter {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        if let Sink::Ffmpeg { child, stdin } = &mut self.sink {
            drop(stdin.take());
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.partial);
    }
}

/// The hidden file a video is written to until it is finished: `dir/.name.partial.ext`
/// (the extension kept, so that ffmpeg picks the container from it).
fn partial_path(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!(".{stem}.partial.{}", ext.to_string_lossy()),
        None => format!(".{stem}.partial"),
    };
    path.with_file_name(name)
}
