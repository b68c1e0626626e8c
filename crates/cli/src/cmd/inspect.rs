//! `kvs inspect`: lists the fragments of a GetMedia capture, an MKV file or standard input,
//! as a table, an element tree, or JSON Lines (the contract in `record`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use kvs_consumer::Event;

use crate::input::Input;
use crate::record::{ErrorRecord, FragmentRecord, SkippedRecord};

/// Arguments of `kvs inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A GetMedia capture or MKV file; `-` for standard input.
    input: PathBuf,
    /// JSON Lines, one object per fragment, skipped run or in-band error.
    #[arg(long, conflicts_with = "tree")]
    json: bool,
    /// Print every element with its name, id, size and value, like mkvinfo.
    #[arg(long)]
    tree: bool,
}

/// How events are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Table,
    Tree,
    Json,
}

/// Runs `kvs inspect`. Exit status 0 when the input was read to its end, whatever it held.
pub fn run(args: Args) -> anyhow::Result<()> {
    let format = if args.json {
        Format::Json
    } else if args.tree {
        Format::Tree
    } else {
        Format::Table
    };
    let input = Input::open(&args.input, false)?;
    // A file is read as fast as it can be: its lines go out when the buffer fills. From a
    // pipe, each line goes out as soon as its fragment is complete.
    let flush_each = !input.is_regular_file();
    let mut out = BufWriter::with_capacity(64 << 10, io::stdout().lock());
    if format == Format::Table {
        writeln!(out, "{}", table_header())?;
    }
    input.split(|event, _| {
        print_event(&event, format, &mut out)?;
        if flush_each {
            out.flush()?;
        }
        Ok(())
    })?;
    out.flush()?;
    Ok(())
}

fn print_event(event: &Event, format: Format, out: &mut impl Write) -> anyhow::Result<()> {
    match (format, event) {
        (Format::Json, Event::Fragment(f)) => json_line(out, &FragmentRecord::new(f))?,
        (Format::Json, Event::Skipped(s)) => json_line(out, &SkippedRecord::new(s))?,
        (Format::Json, Event::AwsError(e)) => json_line(out, &ErrorRecord::new(e))?,
        (Format::Table, Event::Fragment(f)) => writeln!(out, "{}", table_row(&FragmentRecord::new(f)))?,
        (Format::Tree, Event::Fragment(f)) => {
            let tree = f.tree();
            writeln!(out, "# fragment {} at offset {}", f.index(), f.offset())?;
            write!(out, "{tree}")?;
            if let Some(error) = tree.error() {
                writeln!(out, "! {error}")?;
            }
        }
        (_, Event::Skipped(s)) => {
            writeln!(out, "skipped {} bytes at offset {}: {}", s.len, s.offset, s.reason)?
        }
        (_, Event::AwsError(e)) => writeln!(out, "error at offset {}: {e}", e.offset)?,
        _ => {}
    }
    Ok(())
}

fn json_line(out: &mut impl Write, record: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    writeln!(out)?;
    Ok(())
}

/// Column titles of the table, aligned with [`table_row`].
pub fn table_header() -> String {
    format!(
        "{:>5}  {:<48}  {:<14}  {:<14}  {:>6}  {:>9}  {:>7}  {}",
        "#", "fragment number", "producer time", "server time", "frames", "bytes", "lag ms", "complete"
    )
}

/// One table row per fragment.
pub fn table_row(r: &FragmentRecord) -> String {
    let dash = || "-".to_owned();
    format!(
        "{:>5}  {:<48}  {:<14}  {:<14}  {:>6}  {:>9}  {:>7}  {}",
        r.index,
        r.fragment_number.clone().unwrap_or_else(dash),
        r.producer_timestamp.clone().unwrap_or_else(dash),
        r.server_timestamp.clone().unwrap_or_else(dash),
        r.frame_count(),
        r.size,
        r.millis_behind_now.map_or_else(dash, |m| m.to_string()),
        if r.complete { "yes" } else { "no" },
    )
}
