//! TensorBoard event files, written and read here: records of TensorFlow's `Event` protocol
//! buffer (encoded by prost), each framed as TFRecord frames them (length, masked CRC-32C of
//! the length, data, masked CRC-32C of the data). Only what a run logs: one `file_version`
//! event, then scalar summaries (`Summary.Value.simple_value`).

use anyhow::{Context, Result, bail};
use prost::Message;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// `tensorflow.Event` (tensorflow/core/util/event.proto), the fields a run writes.
#[derive(Clone, PartialEq, Message)]
pub struct Event {
    /// Seconds since the Unix epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// The env step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// The first event of a file: `brain.Event:2`.
    #[prost(string, optional, tag = "3")]
    pub file_version: Option<String>,
    /// Scalars.
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
}

/// `tensorflow.Summary` (tensorflow/core/framework/summary.proto).
#[derive(Clone, PartialEq, Message)]
pub struct Summary {
    /// The values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`: a tag and a scalar.
#[derive(Clone, PartialEq, Message)]
pub struct SummaryValue {
    /// The metric's name.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// Its value.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
}

/// The version string of the first event.
pub const FILE_VERSION: &str = "brain.Event:2";

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord frames use.
pub fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0x82F6_3B78 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ u32::from(b)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

/// The CRC a TFRecord frame stores: rotated and offset so that a CRC of CRCs stays strong.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    crc32c(data).rotate_right(15).wrapping_add(0xa282_ead8)
}

/// One framed record.
fn frame(data: &[u8]) -> Vec<u8> {
    let len = (data.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(data.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    out
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// An event file of scalars.
pub struct EventWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// A new event file in `dir`, named as TensorFlow names them
    /// (`events.out.tfevents.TIME.HOST.PID.0`), opened with its `file_version` event.
    pub fn create(dir: &Path) -> Result<Self> {
        let host = super::host_name();
        let name = format!(
            "events.out.tfevents.{}.{}.{}.0",
            now() as u64,
            if host.is_empty() { "localhost" } else { &host },
            std::process::id()
        );
        let path = dir.join(name);
        let file =
            File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = Self {
            file: BufWriter::new(file),
            path,
        };
        w.write(&Event {
            wall_time: now(),
            step: 0,
            file_version: Some(FILE_VERSION.to_owned()),
            summary: None,
        })?;
        Ok(w)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        self.file
            .write_all(&frame(&event.encode_to_vec()))
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Appends the scalar `tag` = `value` at `step`.
    pub fn add_scalar(&mut self, tag: &str, value: f32, step: u64) -> Result<()> {
        self.write(&Event {
            wall_time: now(),
            step: step as i64,
            file_version: None,
            summary: Some(Summary {
                value: vec![SummaryValue {
                    tag: tag.to_owned(),
                    simple_value: Some(value),
                }],
            }),
        })
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) -> Result<()> {
        self.file
            .flush()
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Every event of an event file, each frame's CRCs checked; an error names the file, the
/// byte offset and what is wrong.
pub fn read_events(path: &Path) -> Result<Vec<Event>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut events = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let err = |what: &str| anyhow::anyhow!("{} at byte {at}: {what}", path.display());
        let head = bytes
            .get(at..at + 12)
            .ok_or_else(|| err("a cut frame header"))?;
        let len_bytes: [u8; 8] = head[..8].try_into().expect("8 bytes");
        if u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) != masked_crc32c(&len_bytes)
        {
            bail!(err("the length's CRC does not match"));
        }
        let len = u64::from_le_bytes(len_bytes) as usize;
        let data = bytes
            .get(at + 12..at + 12 + len)
            .ok_or_else(|| err("a cut record"))?;
        let crc = bytes
            .get(at + 12 + len..at + 16 + len)
            .ok_or_else(|| err("a cut record CRC"))?;
        if u32::from_le_bytes(crc.try_into().expect("4 bytes")) != masked_crc32c(data) {
            bail!(err("the record's CRC does not match"));
        }
        events.push(Event::decode(data).map_err(|e| err(&format!("not an Event: {e}")))?);
        at += 16 + len;
    }
    Ok(events)
}

/// The scalars of an event file: (step, tag, value), in file order.
pub fn read_scalars(path: &Path) -> Result<Vec<(u64, String, f32)>> {
    Ok(read_events(path)?
        .into_iter()
        .filter_map(|e| {
            let step = e.step as u64;
            Some(
                e.summary?
                    .value
                    .into_iter()
                    .filter_map(move |v| Some((step, v.tag, v.simple_value?))),
            )
        })
        .flatten()
        .collect())
}
