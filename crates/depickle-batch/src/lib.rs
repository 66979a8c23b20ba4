//! # depickle-batch
//!
//! depickle over directory trees and containers. One job: find the pickles (by content, inside
//! gzip/bz2/xz compression and zip-based PyTorch checkpoints), hand each to `depickle-core`, and
//! publish every output atomically (temporary file in the destination directory, then rename).
//! Files are processed in parallel with rayon; each worker holds at most one input (memory
//! mapped) and one output at a time, so memory stays bounded by the number of jobs.

mod sniff;
pub mod zip;

pub use sniff::{has_joblib_marker, looks_like_pickle, pickle_extension, sniff, Kind};

pub use depickle_core::SkipReason;
use depickle_core::{ConvertError, Report};
use depickle_recipes::Catalog;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What happened to one file (or container member).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Serializer helpers were rewritten.
    Converted,
    /// A pickle with no cloudpickle/dill helper: copied unchanged.
    SelfContained,
    /// A joblib file: left unchanged (copied), it needs joblib's own loader.
    Joblib,
    /// Not a pickle: copied byte for byte.
    Copied,
    /// Not processed: a symlink that was not followed, or a FIFO, socket or device (see
    /// [`SkipReason`]).
    Skipped,
    /// A serializer helper depickle cannot rewrite: no output.
    Refused,
    /// Named or shaped like a pickle but does not parse: no output.
    NotAPickle,
    /// I/O or other failure: no output.
    Error,
}

impl Status {
    /// Whether this outcome makes the batch exit non-zero.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Refused | Status::NotAPickle | Status::Error)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Converted => "converted",
            Status::SelfContained => "self-contained",
            Status::Joblib => "joblib",
            Status::Copied => "copied",
            Status::Skipped => "skipped",
            Status::Refused => "refused",
            Status::NotAPickle => "not-a-pickle",
            Status::Error => "error",
        }
    }

    /// The status in words, for messages to people (`as_str` is the token in JSON reports):
    /// "not a valid pickle" reads the same as the single-file error.
    pub fn label(self) -> &'static str {
        match self {
            Status::NotAPickle => "not a valid pickle",
            other => other.as_str(),
        }
    }

    /// Exit code family of a failure (0 for successes).
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Refused => 1,
            Status::Error => 3,
            Status::NotAPickle => 4,
            _ => 0,
        }
    }
}

/// The outcome for one file.
#[derive(Clone, Debug, Serialize)]
pub struct FileResult {
    /// Path relative to the input root (the file name for a single file).
    pub path: String,
    /// `pickle`, `gzip`, `bzip2`, `xz`, `zip`, `joblib`, `other`, `symlink`.
    pub container: String,
    pub status: Status,
    /// Human explanation (reason of a refusal, error text, container member summary).
    pub detail: String,
    /// Why the entry was skipped (only with status `skipped`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<SkipReason>,
    /// Conversion reports (one per converted pickle; several for a zip).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<Report>,
}

impl FileResult {
    fn new(path: &str, container: &str, status: Status, detail: impl Into<String>) -> Self {
        FileResult {
            path: path.to_string(),
            container: container.to_string(),
            status,
            detail: detail.into(),
            skip: None,
            reports: Vec::new(),
        }
    }

    fn skipped(path: &str, container: &str, why: SkipReason, detail: impl Into<String>) -> Self {
        FileResult {
            skip: Some(why),
            ..FileResult::new(path, container, Status::Skipped, detail)
        }
    }
}

/// How a batch runs.
pub struct Options<'a> {
    /// Worker threads (0 = one per core).
    pub jobs: usize,
    /// Called once per finished file (from worker threads), e.g. to advance a progress bar.
    pub on_done: Option<&'a (dyn Fn(&FileResult) + Sync)>,
    /// Called once with the number of files found, before any is processed.
    pub on_start: Option<&'a (dyn Fn(u64) + Sync)>,
}

/// Where the output of a batch goes.
pub enum Target<'a> {
    /// Mirror the tree under this directory.
    Mirror(&'a Path),
    /// Rewrite files in place.
    InPlace,
}

/// Everything a batch did.
#[derive(Debug, Default, Serialize)]
pub struct BatchReport {
    pub input: String,
    pub output: Option<String>,
    pub files: Vec<FileResult>,
}

impl BatchReport {
    /// Count of files per status.
    pub fn counts(&self) -> std::collections::BTreeMap<Status, usize> {
        let mut m = std::collections::BTreeMap::new();
        for f in &self.files {
            *m.entry(f.status).or_default() += 1;
        }
        m
    }

    /// The exit code: the worst failure (refused 1 < I/O 3 < not a pickle 4 is not a ranking of
    /// badness, so refusals win: a batch with any refusal exits 1 unless something errored).
    pub fn exit_code(&self) -> i32 {
        let mut codes: BTreeSet<i32> = self.files.iter().map(|f| f.status.exit_code()).collect();
        codes.remove(&0);
        if codes.contains(&3) {
            3
        } else if codes.contains(&4) {
            4
        } else if codes.contains(&1) {
            1
        } else {
            0
        }
    }
}

/// A setup problem that stops the whole batch before it starts (exit code 2 or 3).
#[derive(Debug)]
pub struct BatchError {
    pub message: String,
    pub exit_code: i32,
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// One entry found by the walk.
enum Found {
    File(PathBuf),
    /// A symlink: target inside the tree (recreated in a mirror) or outside (skipped).
    Link {
        path: PathBuf,
        inside: bool,
    },
    Unreadable(PathBuf, String),
    /// A FIFO, socket or device: listed as skipped, never opened.
    Special(PathBuf, SkipReason),
}

/// Walk `root` without following symlinks; entries sorted for a stable order.
fn walk(root: &Path) -> Vec<Found> {
    let canon_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(r) => r,
            Err(e) => {
                out.push(Found::Unreadable(dir, e.to_string()));
                continue;
            }
        };
        let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        entries.sort();
        let mut subdirs = Vec::new();
        for p in entries {
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    let inside = std::fs::canonicalize(&p)
                        .map(|t| t.starts_with(&canon_root) && t.is_file())
                        .unwrap_or(false);
                    out.push(Found::Link { path: p, inside });
                }
                Ok(m) if m.is_dir() => subdirs.push(p),
                Ok(m) if m.is_file() => out.push(Found::File(p)),
                Ok(m) => out.push(Found::Special(
                    p,
                    SkipReason::of(&m.file_type()).unwrap_or(SkipReason::Special),
                )),
                Err(e) => out.push(Found::Unreadable(p, e.to_string())),
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    out
}

fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// Where `path` will be once created, without creating anything: each component is resolved
/// against the file system while it exists (symlinks, `..`), and applied lexically where it does
/// not yet (a directory still to be made cannot be a link). So `tree/out`, `tree/a/b/out` and
/// `missing/../tree/out` are all recognised as inside `tree` before anything is made.
fn canonical_without_creating(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut cur = if path.is_absolute() {
        PathBuf::new()
    } else {
        std::env::current_dir()
            .and_then(std::fs::canonicalize)
            .unwrap_or_default()
    };
    for comp in path.components() {
        match comp {
            Component::Prefix(_) | Component::RootDir => cur.push(comp.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                cur = std::fs::canonicalize(cur.join("..")).unwrap_or_else(|_| {
                    let mut p = cur.clone();
                    p.pop();
                    p
                });
            }
            Component::Normal(name) => {
                let next = cur.join(name);
                cur = std::fs::canonicalize(&next).unwrap_or(next);
            }
        }
    }
    cur
}

/// Convert a whole tree.
pub fn convert_tree(
    root: &Path,
    target: Target<'_>,
    opts: &Options<'_>,
) -> Result<BatchReport, BatchError> {
    let canon_in = std::fs::canonicalize(root).map_err(|e| BatchError {
        message: format!("{}: {e}", root.display()),
        exit_code: 3,
    })?;
    if let Target::Mirror(out) = target {
        // Decide on the output directory before creating it: a refused setup writes nothing.
        let canon_out = canonical_without_creating(out);
        if canon_out == canon_in {
            return Err(BatchError {
                message: format!(
                    "the output directory {} is the input directory; use --in-place to rewrite files where they are",
                    out.display()
                ),
                exit_code: 2,
            });
        }
        if canon_out.starts_with(&canon_in) {
            // Only an empty, just-made output dir inside the input could be tolerated; refuse
            // outright: the mirror would otherwise pick up its own outputs.
            return Err(BatchError {
                message: format!(
                    "the output directory {} is inside the input directory {}; choose a directory outside it",
                    out.display(),
                    root.display()
                ),
                exit_code: 2,
            });
        }
        std::fs::create_dir_all(out).map_err(|e| BatchError {
            message: format!("cannot create the output directory {}: {e}", out.display()),
            exit_code: 3,
        })?;
    }
    let found = walk(root);
    if let Some(f) = opts.on_start {
        f(found.len() as u64);
    }
    let work = |item: &Found| -> FileResult {
        let r = match item {
            Found::Unreadable(p, e) => FileResult::new(&rel(root, p), "other", Status::Error, e),
            Found::Special(p, why) => FileResult::skipped(
                &rel(root, p),
                "special",
                *why,
                format!(
                    "{}: not a regular file, not opened (reading it could block or never end)",
                    why.as_str()
                ),
            ),
            Found::Link { path, inside } => {
                let name = rel(root, path);
                match (&target, inside) {
                    (Target::Mirror(out), true) => copy_link(path, &out.join(&name), &name),
                    (_, true) => FileResult::skipped(
                        &name,
                        "symlink",
                        SkipReason::Symlink,
                        "symlink (not followed; its target inside the tree is processed on its own)",
                    ),
                    (_, false) => FileResult::skipped(
                        &name,
                        "symlink",
                        SkipReason::Symlink,
                        "symlink to outside the tree (or dangling): not followed",
                    ),
                }
            }
            Found::File(p) => {
                let name = rel(root, p);
                let dest = match &target {
                    Target::Mirror(out) => out.join(&name),
                    Target::InPlace => p.clone(),
                };
                with_catalog(|c| match c {
                    Ok(c) => process_file(p, &dest, &name, c),
                    Err(e) => FileResult::new(&name, "other", Status::Error, e.clone()),
                })
            }
        };
        if let Some(f) = opts.on_done {
            f(&r);
        }
        r
    };
    let files = run_pool(opts.jobs, || found.par_iter().map(work).collect::<Vec<_>>());
    Ok(BatchReport {
        input: root.display().to_string(),
        output: match target {
            Target::Mirror(o) => Some(o.display().to_string()),
            Target::InPlace => None,
        },
        files,
    })
}

thread_local! {
    /// The recipe catalog holds `Rc`s, so each worker thread parses its own once.
    static CATALOG: Result<Catalog, String> = Catalog::builtin().map_err(|e| format!("internal error: recipes: {e}"));
}

fn with_catalog<T>(f: impl FnOnce(&Result<Catalog, String>) -> T) -> T {
    CATALOG.with(f)
}

fn run_pool<T: Send>(jobs: usize, f: impl FnOnce() -> T + Send) -> T {
    match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
        Ok(pool) => pool.install(f),
        Err(_) => f(),
    }
}

#[cfg(unix)]
fn copy_link(src: &Path, dest: &Path, name: &str) -> FileResult {
    let r = (|| -> std::io::Result<()> {
        let target = std::fs::read_link(src)?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let _ = std::fs::remove_file(dest);
        std::os::unix::fs::symlink(target, dest)
    })();
    match r {
        Ok(()) => FileResult::skipped(
            name,
            "symlink",
            SkipReason::Symlink,
            "symlink inside the tree: recreated as a symlink, not followed",
        ),
        Err(e) => FileResult::new(name, "symlink", Status::Error, e.to_string()),
    }
}

#[cfg(not(unix))]
fn copy_link(_src: &Path, _dest: &Path, name: &str) -> FileResult {
    FileResult::skipped(
        name,
        "symlink",
        SkipReason::Symlink,
        "symlink: not followed",
    )
}

/// Process one file into `dest` (which may be the file itself). Never leaves a partial output:
/// every write goes to a temporary file beside `dest` that is renamed over it on success.
pub fn process_file(src: &Path, dest: &Path, name: &str, catalog: &Catalog) -> FileResult {
    let data = match depickle_core::map_file(src) {
        Ok(d) => d,
        Err(e) => return FileResult::new(name, "other", Status::Error, e.to_string()),
    };
    let in_place = src == dest;
    let kind = sniff(&data);
    let container = kind_name(kind);
    let io_err = |e: std::io::Error| {
        FileResult::new(
            name,
            container,
            Status::Error,
            format!("{}: {e}", dest.display()),
        )
    };
    if let Some(parent) = dest.parent() {
        if !parent.as_os_str().is_empty() {
            if let Err(e) = std::fs::create_dir_all(parent) {
                return io_err(e);
            }
        }
    }
    let copy = |status: Status, detail: String| -> FileResult {
        if !in_place {
            if let Err(e) = write_atomic(dest, src, |w| w.write_all(&data)) {
                return io_err(e);
            }
        }
        FileResult::new(name, container, status, detail)
    };
    match kind {
        Kind::Other => copy(Status::Copied, String::new()),
        Kind::Joblib => copy(
            Status::Joblib,
            "joblib file: needs joblib's own loader (joblib.load); left unchanged".into(),
        ),
        Kind::Pickle => {
            // Classify first so that refusals and non-pickles never create a file.
            let graphs = match depickle_core::lift_all(&data) {
                Ok(g) => g,
                Err(e) => {
                    if pickle_extension(name) {
                        return FileResult::new(name, container, Status::NotAPickle, e.to_string());
                    }
                    return copy(
                        Status::Copied,
                        "starts like a pickle but does not parse as one; copied as a plain file"
                            .into(),
                    );
                }
            };
            let needs = graphs
                .iter()
                .any(|g| !depickle_core::serializer_globals(g).is_empty());
            drop(graphs);
            if !needs {
                return copy(
                    Status::SelfContained,
                    "already self-contained: copied unchanged".into(),
                );
            }
            let mut report = None;
            let r = write_atomic_convert(dest, src, |w| {
                depickle_core::convert_bytes(&data, w, catalog).map(|(_, r)| report = Some(r))
            });
            match r {
                Ok(()) => {
                    let mut f = FileResult::new(name, container, Status::Converted, String::new());
                    f.reports.extend(report);
                    f
                }
                Err(e) => failure(name, container, &e),
            }
        }
        Kind::Gzip | Kind::Bzip2 | Kind::Xz => {
            let inner = match decompress(kind, &data) {
                Ok(v) => v,
                Err(e) => {
                    return FileResult::new(
                        name,
                        container,
                        Status::NotAPickle,
                        format!("cannot inflate the {container} stream: {e}"),
                    )
                }
            };
            if has_joblib_marker(&inner) {
                return copy(
                    Status::Joblib,
                    format!("{container}-compressed joblib file: needs joblib's own loader (joblib.load); left unchanged"),
                );
            }
            if !looks_like_pickle(&inner) || depickle_core::lift_all(&inner).is_err() {
                if pickle_extension(name) {
                    let why = depickle_core::lift_all(&inner)
                        .err()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    return FileResult::new(
                        name,
                        container,
                        Status::NotAPickle,
                        format!("{container} content is not a pickle: {why} (offset in the decompressed data)"),
                    );
                }
                return copy(
                    Status::Copied,
                    format!("{container} file without a pickle inside"),
                );
            }
            let mut out = Vec::new();
            match depickle_core::convert_bytes(&inner, &mut out, catalog) {
                Ok((_, report)) => {
                    if report.status == "self-contained" {
                        let mut f = copy(
                            Status::SelfContained,
                            format!(
                                "{container}-compressed, already self-contained: copied unchanged"
                            ),
                        );
                        f.reports.push(report);
                        return f;
                    }
                    let packed = match compress_like(kind, &data, &out) {
                        Ok(p) => p,
                        Err(e) => return io_err(e),
                    };
                    if let Err(e) = write_atomic(dest, src, |w| w.write_all(&packed)) {
                        return io_err(e);
                    }
                    let mut f = FileResult::new(
                        name,
                        container,
                        Status::Converted,
                        format!("converted inside {container} compression"),
                    );
                    f.reports.push(report);
                    f
                }
                Err(e) => failure(name, container, &e),
            }
        }
        Kind::Zip => {
            let mut reports = Vec::new();
            let mut members = Vec::new();
            let rewritten = zip::rewrite(&data, |member, bytes| {
                if has_joblib_marker(bytes) || depickle_core::lift_all(bytes).is_err() {
                    return Ok(None);
                }
                let mut out = Vec::new();
                let (_, r) = depickle_core::convert_bytes(bytes, &mut out, catalog)
                    .map_err(|e| (member.to_string(), Box::new(e)))?;
                let changed = r.status == "converted";
                members.push(format!("{member}: {}", r.status));
                reports.push(r);
                Ok(changed.then_some(out))
            });
            match rewritten {
                Err((member, e)) => {
                    let mut f = failure(name, container, &e);
                    f.detail = format!("member {member}: {}", f.detail);
                    f
                }
                Ok(Err(e)) => {
                    if pickle_extension(name) || name.ends_with(".pt") || name.ends_with(".pth") {
                        FileResult::new(name, container, Status::NotAPickle, e)
                    } else {
                        copy(Status::Copied, format!("zip file not rewritten: {e}"))
                    }
                }
                Ok(Ok(bytes)) => {
                    let any = reports.iter().any(|r| r.status == "converted");
                    let (status, summary) = if any {
                        (Status::Converted, "zip members rewritten")
                    } else if reports.is_empty() {
                        (Status::Copied, "zip archive without pickle members")
                    } else {
                        (
                            Status::SelfContained,
                            "zip pickle members already self-contained",
                        )
                    };
                    let detail = if members.is_empty() {
                        summary.to_string()
                    } else {
                        format!("{summary} ({})", members.join("; "))
                    };
                    if any {
                        if let Err(e) = write_atomic(dest, src, |w| w.write_all(&bytes)) {
                            return io_err(e);
                        }
                    } else if !in_place {
                        if let Err(e) = write_atomic(dest, src, |w| w.write_all(&data)) {
                            return io_err(e);
                        }
                    }
                    let mut f = FileResult::new(name, container, status, detail);
                    f.reports = reports;
                    f
                }
            }
        }
    }
}

fn failure(name: &str, container: &str, e: &ConvertError) -> FileResult {
    let status = match e.exit_code() {
        1 => Status::Refused,
        4 => Status::NotAPickle,
        _ => Status::Error,
    };
    FileResult::new(name, container, status, e.to_string())
}

/// Short name of a kind for reports.
pub fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Pickle => "pickle",
        Kind::Gzip => "gzip",
        Kind::Bzip2 => "bzip2",
        Kind::Xz => "xz",
        Kind::Zip => "zip",
        Kind::Joblib => "joblib",
        Kind::Other => "other",
    }
}

/// The most a compressed input may inflate to unless `--max-inflated` says otherwise: 32 times
/// its compressed size or 16 GiB, whichever is larger. Generous for real checkpoints, and a
/// bound on what a crafted bomb (a 785-byte bz2 inflating to 1 GiB) can make depickle hold.
pub fn default_inflate_limit(compressed_len: usize) -> u64 {
    (compressed_len as u64).saturating_mul(32).max(16 << 30)
}

/// Set by the command line (`--max-inflated SIZE`) once, before any work; 0 means "default".
static MAX_INFLATED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Override the inflate limit for this process (`--max-inflated`).
pub fn set_max_inflated(limit: u64) {
    MAX_INFLATED.store(limit, std::sync::atomic::Ordering::Relaxed);
}

fn inflate_limit(compressed_len: usize) -> u64 {
    match MAX_INFLATED.load(std::sync::atomic::Ordering::Relaxed) {
        0 => default_inflate_limit(compressed_len),
        n => n,
    }
}

/// Collects inflated bytes up to a limit, with fallible allocation: a bomb or a stream larger
/// than memory is an error with a message, never an allocation abort.
struct CappedSink {
    out: Vec<u8>,
    limit: u64,
}

impl Write for CappedSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let len = self.out.len() as u64;
        if len + buf.len() as u64 > self.limit {
            return Err(std::io::Error::other(format!(
                "inflates past the limit of {} bytes at inflated byte {len}; if the file is genuine, raise the limit with --max-inflated SIZE",
                self.limit
            )));
        }
        if self.out.try_reserve(buf.len()).is_err() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!("inflated data does not fit in memory (at inflated byte {len})"),
            ));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Inflate a zip member's raw deflate data under the same limit and fallible allocation as
/// [`decompress`] (a torch checkpoint's `data.pkl` can be a bomb too).
pub(crate) fn inflate_deflate(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut sink = CappedSink {
        out: Vec::new(),
        limit: inflate_limit(raw.len()),
    };
    std::io::copy(&mut flate2::read::DeflateDecoder::new(raw), &mut sink)?;
    Ok(sink.out)
}

/// Decompress a gzip, bzip2 or xz stream (multi-member streams are read to the end), up to the
/// inflate limit. Errors name the position reached in the compressed input.
pub fn decompress(kind: Kind, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut sink = CappedSink {
        out: Vec::new(),
        limit: inflate_limit(data.len()),
    };
    let mut input = std::io::Cursor::new(data);
    let result = match kind {
        Kind::Gzip => std::io::copy(
            &mut flate2::read::MultiGzDecoder::new(&mut input),
            &mut sink,
        )
        .map(drop),
        Kind::Bzip2 => {
            std::io::copy(&mut bzip2::read::MultiBzDecoder::new(&mut input), &mut sink).map(drop)
        }
        Kind::Xz => {
            // Concatenated .xz streams are read to the end, as `xz -d` does.
            let stream =
                xz2::stream::Stream::new_stream_decoder(u64::MAX, xz2::stream::CONCATENATED)
                    .map_err(std::io::Error::other)?;
            std::io::copy(
                &mut xz2::read::XzDecoder::new_stream(std::io::BufReader::new(&mut input), stream),
                &mut sink,
            )
            .map(drop)
        }
        _ => sink.write_all(data),
    };
    match result {
        Ok(()) => Ok(sink.out),
        Err(e) => Err(std::io::Error::new(
            e.kind(),
            format!("compressed byte {}: {e}", input.position()),
        )),
    }
}

/// Compress with the same format, close to what the original's compressor did: gzip keeps the
/// level its header's XFL byte records (9 for "best", 1 for "fastest", else 6), xz keeps the
/// integrity check type of the original stream header and uses `xz`'s default preset (6).
pub fn compress_like(kind: Kind, original: &[u8], data: &[u8]) -> std::io::Result<Vec<u8>> {
    match kind {
        Kind::Gzip => {
            let level = match original.get(8) {
                Some(2) => flate2::Compression::best(),
                Some(4) => flate2::Compression::fast(),
                _ => flate2::Compression::default(),
            };
            let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
            e.write_all(data)?;
            e.finish()
        }
        Kind::Bzip2 => {
            // The block size digit of `BZh1`..`BZh9` is the level bzip2 was run with.
            let level = original
                .get(3)
                .copied()
                .filter(|b| (b'1'..=b'9').contains(b))
                .map_or(9, |b| u32::from(b - b'0'));
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
            e.write_all(data)?;
            e.finish()
        }
        Kind::Xz => {
            let check = match original.get(7).map(|b| b & 0x0f) {
                Some(0x00) => xz2::stream::Check::None,
                Some(0x01) => xz2::stream::Check::Crc32,
                Some(0x0a) => xz2::stream::Check::Sha256,
                _ => xz2::stream::Check::Crc64,
            };
            let stream =
                xz2::stream::Stream::new_easy_encoder(6, check).map_err(std::io::Error::other)?;
            let mut e = xz2::write::XzEncoder::new_stream(Vec::new(), stream);
            e.write_all(data)?;
            e.finish()
        }
        _ => Ok(data.to_vec()),
    }
}

/// Write `dest` atomically with `depickle_core::write_atomic`, keeping the permissions of
/// `perm_from`; plain I/O errors for the copy paths.
pub fn write_atomic(
    dest: &Path,
    perm_from: &Path,
    f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    write_atomic_convert(dest, perm_from, |w| {
        f(w).map_err(|e| ConvertError::Io {
            path: dest.display().to_string(),
            source: e,
        })
    })
    .map_err(|e| match e {
        ConvertError::Io { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    })
}

fn write_atomic_convert(
    dest: &Path,
    perm_from: &Path,
    f: impl FnOnce(&mut dyn Write) -> Result<(), ConvertError>,
) -> Result<(), ConvertError> {
    depickle_core::write_atomic(dest, Some(perm_from), f)
}

/// The verdict of `depickle check` for one pickle (a file, or a member of a container).
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub path: String,
    pub container: String,
    /// `self-contained`, `needs cloudpickle`/`needs dill`..., `joblib`, `error: ...`.
    pub verdict: String,
    pub exit_code: i32,
}

/// Check a path: a file (any container) or a directory (recursively; non-pickles are skipped).
pub fn check_path(path: &Path, jobs: usize) -> Vec<CheckResult> {
    let meta = std::fs::metadata(path);
    if meta.as_ref().is_ok_and(|m| m.is_dir()) {
        let found = walk(path);
        let items: Vec<PathBuf> = found
            .into_iter()
            .filter_map(|f| match f {
                Found::File(p) => Some(p),
                _ => None,
            })
            .collect();
        let mut out: Vec<CheckResult> = run_pool(jobs, || {
            items
                .par_iter()
                .flat_map_iter(|p| check_file(p, false))
                .collect()
        });
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    } else {
        check_file(path, true)
    }
}

fn verdict_of(data: &[u8]) -> (String, i32) {
    match depickle_core::lift_all(data) {
        Ok(graphs) => {
            let s: BTreeSet<String> = graphs
                .iter()
                .flat_map(depickle_core::serializer_globals)
                .collect();
            if s.is_empty() {
                ("self-contained".into(), 0)
            } else {
                (
                    format!("needs {}", s.into_iter().collect::<Vec<_>>().join(", ")),
                    1,
                )
            }
        }
        Err(e) => (format!("error: {e}"), e.exit_code()),
    }
}

/// Check one file. `explicit`: named by the user (a non-pickle is then an error, not skipped).
fn check_file(path: &Path, explicit: bool) -> Vec<CheckResult> {
    let name = path.display().to_string();
    let res = |container: &str, verdict: String, code: i32| CheckResult {
        path: name.clone(),
        container: container.into(),
        verdict,
        exit_code: code,
    };
    let data = match depickle_core::map_file(path) {
        Ok(d) => d,
        Err(e) => return vec![res("other", format!("error: {e}"), e.exit_code())],
    };
    let kind = sniff(&data);
    let cname = kind_name(kind);
    let candidate = explicit || pickle_extension(&name);
    match kind {
        Kind::Pickle => {
            let (v, c) = verdict_of(&data);
            if c == 4 && !candidate {
                return Vec::new();
            }
            vec![res(cname, v, c)]
        }
        Kind::Joblib => vec![res(
            cname,
            "joblib file: needs joblib's own loader (not checked)".into(),
            0,
        )],
        Kind::Gzip | Kind::Bzip2 | Kind::Xz => match decompress(kind, &data) {
            Ok(inner) if has_joblib_marker(&inner) => vec![res(
                cname,
                "joblib file: needs joblib's own loader (not checked)".into(),
                0,
            )],
            Ok(inner) if looks_like_pickle(&inner) => {
                let (v, c) = verdict_of(&inner);
                if c == 4 && !candidate {
                    return Vec::new();
                }
                vec![res(cname, v, c)]
            }
            Ok(_) if !candidate => Vec::new(),
            Ok(_) => vec![res(cname, "error: no pickle inside".into(), 4)],
            Err(e) if candidate => vec![res(
                cname,
                format!("error: cannot inflate the stream: {e}"),
                4,
            )],
            Err(_) => Vec::new(),
        },
        Kind::Zip => match zip::pickle_members(&data) {
            Ok(members) => members
                .into_iter()
                .filter(|(_, d)| !has_joblib_marker(d))
                .map(|(m, d)| {
                    let (v, c) = verdict_of(&d);
                    CheckResult {
                        path: format!("{name}!{m}"),
                        container: "zip".into(),
                        verdict: v,
                        exit_code: c,
                    }
                })
                .collect(),
            Err(e) if candidate => vec![res(cname, format!("error: {e}"), 4)],
            Err(_) => Vec::new(),
        },
        Kind::Other if explicit => vec![res(
            cname,
            "error: not a pickle (no pickle opcode at byte 0)".into(),
            4,
        )],
        Kind::Other => Vec::new(),
    }
}

/// Named pickle members of a container (the name is empty for a single-pickle file).
pub type Members = Vec<(String, Vec<u8>)>;

/// Decode a single input (file bytes) to the pickle bytes inside it, for `inspect`: plain
/// pickles as is, compressed ones decompressed, a zip's first `data.pkl`-like member.
pub fn unwrap_container(data: &[u8]) -> Result<(Kind, Members), String> {
    let kind = sniff(data);
    match kind {
        Kind::Gzip | Kind::Bzip2 | Kind::Xz => decompress(kind, data)
            .map(|v| (kind, vec![(String::new(), v)]))
            .map_err(|e| e.to_string()),
        Kind::Zip => zip::pickle_members(data).map(|m| (kind, m)),
        _ => Ok((kind, vec![(String::new(), data.to_vec())])),
    }
}
