//! # depickle-core
//!
//! One conversion, start to finish: lift each pickle in the input, rewrite serializer helpers
//! with their recipes, check that no serializer global survives, and emit. Files are read
//! through a memory map and written to a temporary file in the destination directory that is
//! renamed over the destination only once everything succeeded, so a refused or failed
//! conversion never leaves a partial output and an in-place conversion never loses the original.

pub mod names;

use depickle_recipes::{serializer_family, Catalog, RecipeError};
use pickle_ir::{Graph, LiftError, Node};
use serde::Serialize;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

/// Why a conversion failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("not a valid pickle: {0}")]
    Lift(#[from] LiftError),
    #[error("{0}")]
    Recipe(#[from] RecipeError),
    #[error("could not write the output: {0}")]
    Emit(#[from] pickle_emit::EmitError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the input is empty")]
    Empty,
}

impl ConvertError {
    /// Exit code family: 1 refused (serializer helper depickle cannot rewrite), 3 I/O, 4 bad input.
    pub fn exit_code(&self) -> i32 {
        match self {
            ConvertError::Recipe(_) => 1,
            ConvertError::Io { .. } | ConvertError::Emit(_) => 3,
            ConvertError::Lift(_) | ConvertError::Empty => 4,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> &'static str {
        match self {
            ConvertError::Recipe(RecipeError::UnknownHelper { .. }) => "this serializer helper has no recipe yet; `depickle catalog` lists the known ones",
            ConvertError::Recipe(_) => "the pickle uses a serializer feature depickle cannot express with the standard library; nothing was written",
            ConvertError::Lift(_) | ConvertError::Empty => "the file is not a pickle, or is truncated or corrupt; nothing was written",
            ConvertError::Io { .. } | ConvertError::Emit(_) => "check the path, permissions and free disk space; nothing was written",
        }
    }
}

/// What a conversion found and did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Report {
    /// `converted`: helpers were rewritten; `self-contained`: nothing to do, output = input.
    pub status: &'static str,
    /// Number of pickles in the file (usually 1).
    pub pickles: usize,
    pub protocol: u8,
    /// Serializer families whose helpers were found (`cloudpickle`, `dill`).
    pub serializers: BTreeSet<String>,
    /// `module.name` of each helper rewritten, with counts.
    pub helpers_rewritten: std::collections::BTreeMap<String, u64>,
    /// Every global the output looks up at load time, including attribute lookups on imported
    /// modules resolved statically (see [`names`]).
    pub output_globals: BTreeSet<String>,
    /// Every module the output imports at load time (globals' modules and `import_module`).
    pub output_modules: BTreeSet<String>,
    /// Import/lookup calls whose target is only known at load time.
    pub dynamic_lookups: usize,
    /// Names the output's code objects use (`co_names`), see [`names`].
    pub code_names: BTreeSet<String>,
    pub input_bytes: u64,
    pub output_bytes: u64,
    /// Bytes of plain-data prefix written through without lifting (see `pickle_ir::prefix`).
    pub passthrough_bytes: u64,
}

impl Report {
    fn add_names(&mut self, n: names::LoadTimeNames) {
        self.output_globals.extend(n.globals);
        self.output_modules.extend(n.modules);
        self.dynamic_lookups += n.dynamic_lookups;
        self.code_names.extend(n.code_names);
    }
}

/// Convert pickle bytes, writing the result to `out`. On error nothing useful was written to
/// `out` beyond what already succeeded; callers writing files use [`convert_file`], which only
/// publishes complete outputs.
pub fn convert_bytes<W: Write>(
    data: &[u8],
    out: W,
    catalog: &Catalog,
) -> Result<(W, Report), ConvertError> {
    convert_bytes_with(data, out, catalog, true)
}

/// Inputs whose plain-data prefix (before the first mention of a serializer, with no MARK
/// open) is at least this long pass that prefix through op by op instead of lifting it.
pub const PASSTHROUGH_MIN: usize = 1 << 20;

/// [`convert_bytes`], choosing whether a long plain-data prefix may be passed through
/// (`pickle_ir::prefix`). The output is equivalent either way; passing through is much faster
/// on large data, but the report then resolves `import_module`/`getattr` calls only in the
/// lifted part (globals of the prefix are still listed), so `inspect` turns it off.
pub fn convert_bytes_with<W: Write>(
    data: &[u8],
    out: W,
    catalog: &Catalog,
    allow_passthrough: bool,
) -> Result<(W, Report), ConvertError> {
    if allow_passthrough && data.len() >= PASSTHROUGH_MIN {
        // Any string naming a serializer module ends the prefix (conservatively: anywhere in it).
        let mentions = |text: &[u8]| {
            text.len() >= 4 && (contains(text, b"cloudpickle") || contains(text, b"dill"))
        };
        if let Some(prefix) = pickle_ir::prefix::scan(data, 0, PASSTHROUGH_MIN, mentions) {
            if let Some(plan) = Passthrough::plan(data, &prefix, catalog) {
                return plan.emit(data, out);
            }
        }
    }
    convert_full(data, out, catalog)
}

/// Whether `needle` occurs in `hay` (short needles, data-heavy inputs: a first-byte scan).
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let first = needle[0];
    hay.len() >= needle.len()
        && hay[..=hay.len() - needle.len()]
            .iter()
            .enumerate()
            .any(|(i, &b)| b == first && hay[i..].starts_with(needle))
}

/// A conversion whose prefix is passed through and whose suffix was lifted and rewritten.
struct Passthrough<'a> {
    prefix: &'a pickle_ir::prefix::Prefix,
    graph: Graph<'a>,
    counts: Vec<u32>,
    report: Report,
}

impl<'a> Passthrough<'a> {
    /// `None` whenever anything is unusual: the full path then decides, including errors.
    fn plan(
        data: &'a [u8],
        prefix: &'a pickle_ir::prefix::Prefix,
        catalog: &Catalog,
    ) -> Option<Passthrough<'a>> {
        let mut graph = pickle_ir::lift_after_prefix(data, prefix).ok()?;
        if graph.end != data.len() {
            return None; // several pickles in one file: the full path handles them
        }
        let serializers = serializer_globals(&graph);
        if serializers.is_empty() {
            return None;
        }
        let (stats, counts) = depickle_recipes::rewrite_counted(&mut graph, catalog).ok()?;
        let on_stack_shared = graph
            .nodes
            .iter()
            .zip(&counts)
            .any(|(n, &c)| matches!(n, Node::OnStack(_)) && c > 1);
        if on_stack_shared {
            return None;
        }
        let mut report = Report {
            status: "converted",
            pickles: 1,
            protocol: graph.protocol.max(prefix.protocol),
            serializers,
            input_bytes: data.len() as u64,
            passthrough_bytes: (prefix.end - prefix.start) as u64,
            ..Report::default()
        };
        for (k, v) in stats.helpers {
            *report.helpers_rewritten.entry(k).or_default() += v;
        }
        report.add_names(names::load_time_names_counted(&graph, &counts));
        for (module, name) in &prefix.globals {
            report.output_globals.insert(format!("{module}.{name}"));
            report.output_modules.insert(module.clone());
        }
        Some(Passthrough {
            prefix,
            graph,
            counts,
            report,
        })
    }

    fn emit<W: Write>(self, data: &[u8], out: W) -> Result<(W, Report), ConvertError> {
        let mut out = CountingWriter {
            inner: out,
            count: 0,
        };
        pickle_emit::emit_after_prefix(data, self.prefix, &self.graph, &mut out, self.counts)?;
        let mut report = self.report;
        report.output_bytes = out.count;
        Ok((out.inner, report))
    }
}

fn convert_full<W: Write>(
    data: &[u8],
    out: W,
    catalog: &Catalog,
) -> Result<(W, Report), ConvertError> {
    let graphs = lift_all(data)?;
    let mut report = Report {
        input_bytes: data.len() as u64,
        pickles: graphs.len(),
        ..Report::default()
    };
    let mut any = false;
    for g in &graphs {
        report.protocol = report.protocol.max(g.protocol);
        let found = serializer_globals(g);
        any |= !found.is_empty();
        report.serializers.extend(found);
    }
    let mut out = CountingWriter {
        inner: out,
        count: 0,
    };
    if !any {
        report.status = "self-contained";
        for g in &graphs {
            report.add_names(names::load_time_names(g));
        }
        out.write_all(data).map_err(|e| ConvertError::Io {
            path: "<output>".into(),
            source: e,
        })?;
    } else {
        report.status = "converted";
        let mut rewritten = Vec::with_capacity(graphs.len());
        for mut g in graphs {
            // One walk after rewriting checks that no serializer global survives and counts
            // uses; the counts give the reachable names and the emitter's memo decisions.
            let (stats, counts) = depickle_recipes::rewrite_counted(&mut g, catalog)?;
            for (k, v) in stats.helpers {
                *report.helpers_rewritten.entry(k).or_default() += v;
            }
            report.add_names(names::load_time_names_counted(&g, &counts));
            rewritten.push((g, counts));
        }
        for (g, counts) in rewritten {
            let (w, _) = pickle_emit::emit_counted(&g, out, g.protocol, counts)?;
            out = w;
        }
    }
    report.output_bytes = out.count;
    Ok((out.inner, report))
}

/// Lift every pickle in the input (files may hold several, written one after another).
pub fn lift_all(data: &[u8]) -> Result<Vec<Graph<'_>>, ConvertError> {
    if data.is_empty() {
        return Err(ConvertError::Empty);
    }
    let mut graphs = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let g = pickle_ir::lift(data, start)?;
        start = g.end;
        graphs.push(g);
    }
    Ok(graphs)
}

/// Serializer families named by any global of the graph (reachable or not).
pub fn serializer_globals(g: &Graph<'_>) -> BTreeSet<String> {
    g.nodes
        .iter()
        .filter_map(|n| match n {
            Node::Global { module, .. } => serializer_family(module).map(String::from),
            Node::Inst(inst) => serializer_family(&inst.module).map(String::from),
            _ => None,
        })
        .collect()
}

/// `module.name` of every global reachable from the root.
pub fn globals_of(g: &Graph<'_>) -> BTreeSet<String> {
    names::load_time_names(g).globals
}

struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Files below this size are read into memory instead of mapped.
const MAP_MIN: u64 = 1 << 20;

/// Map a file for reading; files under 1 MiB (including empty ones, which cannot be mapped) are
/// read into memory instead.
pub fn map_file(path: &Path) -> Result<Input, ConvertError> {
    let io = |e| ConvertError::Io {
        path: path.display().to_string(),
        source: e,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if let Some(kind) = not_a_stream(&meta.file_type()) {
        // A device reads forever (`/dev/zero`) or blocks; only regular files and pipes are input.
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "is a {kind}, not a file: give a regular file, a pipe, or `-` for standard input"
            ),
        )));
    }
    let len = meta.len();
    if len < MAP_MIN {
        // Small files are read: mapping and unmapping costs more than the copy, and in a
        // multi-threaded batch every munmap takes the address-space lock and shoots down TLBs
        // on the other cores.
        let mut buf = Vec::with_capacity(len as usize);
        std::io::Read::read_to_end(&mut &file, &mut buf).map_err(io)?;
        return Ok(Input::Owned(buf));
    }
    // SAFETY: the map is read-only; a concurrent truncation of the input by another process can
    // fault the read, as with every mmap-based tool (documented in docs/architecture.md).
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    mapped::register(&map, file);
    Ok(Input::Mapped(map))
}

/// Why an entry of the tree was skipped: only regular files are converted, and reading a
/// FIFO or device could block or never end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkipReason {
    /// A symbolic link (never followed).
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// Any other non-regular file type.
    Special,
}

impl SkipReason {
    /// Why an entry of this file type is not processed, or `None` for regular files and
    /// directories.
    pub fn of(ft: &std::fs::FileType) -> Option<SkipReason> {
        if ft.is_symlink() {
            return Some(SkipReason::Symlink);
        }
        if ft.is_file() || ft.is_dir() {
            return None;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if ft.is_fifo() {
                return Some(SkipReason::Fifo);
            }
            if ft.is_socket() {
                return Some(SkipReason::Socket);
            }
            if ft.is_char_device() {
                return Some(SkipReason::CharDevice);
            }
            if ft.is_block_device() {
                return Some(SkipReason::BlockDevice);
            }
        }
        Some(SkipReason::Special)
    }

    /// The token used in reports (`--json`, the batch summary).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Symlink => "symlink",
            SkipReason::Fifo => "fifo",
            SkipReason::Socket => "socket",
            SkipReason::CharDevice => "char-device",
            SkipReason::BlockDevice => "block-device",
            SkipReason::Special => "special",
        }
    }

    /// The file type in words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::Symlink => "symbolic link",
            SkipReason::Fifo => "named pipe",
            SkipReason::Socket => "socket",
            SkipReason::CharDevice => "character device",
            SkipReason::BlockDevice => "block device",
            SkipReason::Special => "special file",
        }
    }
}

/// What a path is when it is neither a regular file nor a pipe (which depickle reads), or `None`.
pub fn not_a_stream(ft: &std::fs::FileType) -> Option<&'static str> {
    if ft.is_dir() {
        return Some("directory");
    }
    match SkipReason::of(ft) {
        None | Some(SkipReason::Fifo) => None,
        Some(other) => Some(other.describe()),
    }
}

/// Input bytes: a memory map of a file, or bytes read from a stream.
pub enum Input {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Drop for Input {
    fn drop(&mut self) {
        // Runs before the map is unmapped, so the registry never names a dead address range.
        if let Input::Mapped(m) = self {
            mapped::unregister(m);
        }
    }
}

impl std::ops::Deref for Input {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Input::Mapped(m) => m,
            Input::Owned(v) => v,
        }
    }
}

/// Buffered writer to a file that copies large slices of a file mapped by [`map_file`] with
/// `copy_file_range` from the input file instead of `write`: the kernel copies page cache to
/// page cache, and the payload pages are never faulted into this process (a mapped page that
/// was touched counts in the resident set, so writing a 1 GB payload from the map would make the
/// process 1 GB resident). Anything else, or any failure of the fast path, goes through the buffer.
pub struct OutputFile<F: AsFile> {
    file: F,
    buf: Vec<u8>,
}

/// Gives the file an [`OutputFile`] writes to.
pub trait AsFile: Write {
    fn as_file(&self) -> &std::fs::File;
}

impl AsFile for std::fs::File {
    fn as_file(&self) -> &std::fs::File {
        self
    }
}

impl AsFile for tempfile::NamedTempFile {
    fn as_file(&self) -> &std::fs::File {
        tempfile::NamedTempFile::as_file(self)
    }
}

/// Slices at least this long are candidates for the in-kernel copy.
const KERNEL_COPY_MIN: usize = 64 * 1024;
const OUT_BUF: usize = 1 << 20;

impl<F: AsFile> OutputFile<F> {
    pub fn new(file: F) -> Self {
        OutputFile {
            file,
            buf: Vec::with_capacity(OUT_BUF),
        }
    }

    /// Flushes the buffer and returns the file.
    pub fn into_inner(mut self) -> std::io::Result<F> {
        self.flush_buf()?;
        Ok(self.file)
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl<F: AsFile> Write for OutputFile<F> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if data.len() >= KERNEL_COPY_MIN {
            self.flush_buf()?;
            let copied = mapped::copy_from_map(data, self.file.as_file());
            if copied == data.len() {
                return Ok(copied);
            }
            // Partial or no in-kernel copy: write the rest from the slice.
            self.file.write_all(&data[copied..])?;
            return Ok(data.len());
        }
        if self.buf.len() + data.len() > OUT_BUF {
            self.flush_buf()?;
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.flush_buf()?;
        self.file.flush()
    }
}

/// Address ranges of the live maps made by [`map_file`], with the file each maps, so a writer
/// handed a slice can tell whether it is file contents it may copy in the kernel.
mod mapped {
    use std::fs::File;
    use std::sync::{Arc, Mutex};

    struct Entry {
        start: usize,
        len: usize,
        file: Arc<File>,
    }

    static MAPS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

    pub(crate) fn register(map: &memmap2::Mmap, file: File) {
        let mut maps = MAPS.lock().unwrap_or_else(|e| e.into_inner());
        maps.push(Entry {
            start: map.as_ptr() as usize,
            len: map.len(),
            file: Arc::new(file),
        });
    }

    pub(crate) fn unregister(map: &memmap2::Mmap) {
        let start = map.as_ptr() as usize;
        let mut maps = MAPS.lock().unwrap_or_else(|e| e.into_inner());
        maps.retain(|e| e.start != start);
    }

    /// Copies as much of `data` as possible from the mapped file to `out` at its current
    /// position, if `data` lies inside a registered map; returns the number of bytes copied.
    #[cfg(target_os = "linux")]
    pub(crate) fn copy_from_map(data: &[u8], out: &File) -> usize {
        use std::os::fd::AsRawFd;
        let addr = data.as_ptr() as usize;
        // Look up under the lock, copy without it (other conversions may run concurrently).
        let (file, start) = {
            let maps = MAPS.lock().unwrap_or_else(|e| e.into_inner());
            match maps
                .iter()
                .find(|e| addr >= e.start && addr + data.len() <= e.start + e.len)
            {
                Some(e) => (Arc::clone(&e.file), e.start),
                None => return 0,
            }
        };
        let mut off_in = (addr - start) as libc::loff_t;
        let mut done = 0usize;
        while done < data.len() {
            let want = (data.len() - done).min(1 << 30);
            // SAFETY: plain syscall on two open descriptors; `off_in` is a valid pointer and the
            // output offset is the descriptor's own position (advanced by the kernel).
            let n = unsafe {
                libc::copy_file_range(
                    file.as_raw_fd(),
                    &mut off_in,
                    out.as_raw_fd(),
                    std::ptr::null_mut(),
                    want,
                    0,
                )
            };
            if n <= 0 {
                break; // unsupported (EXDEV, EINVAL, ...) or input truncated: caller writes the rest
            }
            done += n as usize;
        }
        done
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn copy_from_map(_data: &[u8], _out: &File) -> usize {
        0
    }
}

/// Convert `data` into the file `dest` atomically (see [`write_atomic`]). On any error the
/// temporary file is removed and `dest` is untouched, so converting a file onto itself never
/// loses it.
pub fn convert_to_file(
    data: &[u8],
    dest: &Path,
    catalog: &Catalog,
) -> Result<Report, ConvertError> {
    write_atomic(dest, Some(dest), |w| {
        convert_bytes(data, w, catalog).map(|(_, report)| report)
    })
}

/// Write `dest` through a temporary file in the same directory, then rename it over `dest`.
///
/// * `produce` writes the content through an [`OutputFile`] (large slices of a mapped input are
///   copied in the kernel). If it fails, the temporary file is removed and `dest` is untouched.
/// * A new file gets the default mode (0666 less the umask), not the temporary file's 0600;
///   when `perm_from` exists (the file being replaced, or the source of a mirrored copy), its
///   permissions are copied.
/// * Durability: when `dest` already exists, the data is synced before the rename, so a crash
///   leaves either the old or the new file, never an empty one. A file that did not exist is
///   not synced, like `cp`: no existing data is at risk, and syncing costs as much as the copy.
pub fn write_atomic<T>(
    dest: &Path,
    perm_from: Option<&Path>,
    produce: impl FnOnce(&mut dyn Write) -> Result<T, ConvertError>,
) -> Result<T, ConvertError> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let io = |e| ConvertError::Io {
        path: dest.display().to_string(),
        source: e,
    };
    let replacing = std::fs::symlink_metadata(dest).is_ok();
    // Replacing goes through the unnamed file too: while it is written it has no name, so a
    // process killed then (SIGKILL, OOM) leaves nothing behind. It gets a temporary name only
    // for the two system calls that publish it (link, rename over `dest`).
    #[cfg(target_os = "linux")]
    {
        if let Some(file) = unnamed::create_in(dir) {
            let mut writer = OutputFile::new(file);
            // On error the unnamed file is closed and vanishes: nothing ever appears in `dir`.
            let value = produce(&mut writer)?;
            let file = writer.into_inner().map_err(io)?;
            if replacing {
                file.sync_all().map_err(io)?;
            }
            if let Some(meta) = perm_from.and_then(|p| std::fs::metadata(p).ok()) {
                let _ = file.set_permissions(meta.permissions());
            }
            unnamed::publish(&file, dir, dest).map_err(io)?;
            return Ok(value);
        }
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(".depickle-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let tmp = builder.tempfile_in(dir).map_err(io)?;
    let mut writer = OutputFile::new(tmp);
    let value = produce(&mut writer)?;
    let tmp = writer.into_inner().map_err(io)?;
    if replacing {
        tmp.as_file().sync_all().map_err(io)?;
    }
    if let Some(meta) = perm_from.and_then(|p| std::fs::metadata(p).ok()) {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    }
    tmp.persist(dest).map_err(|e| io(e.error))?;
    Ok(value)
}

/// New outputs on Linux: an unnamed file (`O_TMPFILE`) in the destination directory, linked
/// into place once complete. Compared with a named temporary file and a rename this is one
/// directory operation instead of two (they serialize on the directory in batch runs), and a
/// process killed mid-write leaves nothing behind — a named temporary file would survive it.
#[cfg(target_os = "linux")]
mod unnamed {
    use std::ffi::CString;
    use std::fs::File;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    use std::path::Path;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// An unnamed regular file in `dir`, or `None` where the filesystem does not support it
    /// (the caller then uses a named temporary file).
    pub fn create_in(dir: &Path) -> Option<File> {
        std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_TMPFILE)
            .mode(0o666)
            .open(dir)
            .ok()
    }

    /// Give `file` the name `dest`. If `dest` appeared meanwhile, link under a fresh temporary
    /// name and rename over it, so the result is still atomic.
    pub fn publish(file: &File, dir: &Path, dest: &Path) -> std::io::Result<()> {
        match link(file, dest) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                static COUNTER: AtomicU64 = AtomicU64::new(0);
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                let tmp = dir.join(format!(".depickle-{}-{n}.tmp", std::process::id()));
                link(file, &tmp)?;
                std::fs::rename(&tmp, dest).inspect_err(|_| {
                    let _ = std::fs::remove_file(&tmp);
                })
            }
            other => other,
        }
    }

    fn cstr(p: &Path) -> std::io::Result<CString> {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
    }

    fn link(file: &File, dest: &Path) -> std::io::Result<()> {
        let dest_c = cstr(dest)?;
        let empty = CString::default();
        // SAFETY: valid descriptor and NUL-terminated paths; linkat does not retain them.
        let r = unsafe {
            libc::linkat(
                file.as_raw_fd(),
                empty.as_ptr(),
                libc::AT_FDCWD,
                dest_c.as_ptr(),
                libc::AT_EMPTY_PATH,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::AlreadyExists {
            return Err(err);
        }
        // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; /proc/self/fd works for everyone else.
        let proc_path = cstr(Path::new(&format!("/proc/self/fd/{}", file.as_raw_fd())))?;
        // SAFETY: as above.
        let r = unsafe {
            libc::linkat(
                libc::AT_FDCWD,
                proc_path.as_ptr(),
                libc::AT_FDCWD,
                dest_c.as_ptr(),
                libc::AT_SYMLINK_FOLLOW,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn unnamed_publish_replaces_a_destination_that_appeared_meanwhile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("raced");
        let mut f =
            super::unnamed::create_in(dir.path()).expect("O_TMPFILE on the test filesystem");
        f.write_all(b"new").expect("write");
        std::fs::write(&dest, b"old").expect("someone else created it");
        super::unnamed::publish(&f, dir.path(), &dest).expect("publish");
        assert_eq!(std::fs::read(&dest).expect("read"), b"new");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            1,
            "temporary name left behind"
        );
    }

    #[test]
    fn failed_new_output_leaves_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("new");
        let r: Result<(), _> = write_atomic(&dest, Some(&dest), |w| {
            w.write_all(&[7u8; 200_000]).map_err(|e| ConvertError::Io {
                path: "t".into(),
                source: e,
            })?;
            Err(ConvertError::Empty)
        });
        assert!(r.is_err());
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            0,
            "something was left behind"
        );
    }

    #[test]
    fn new_output_is_complete_and_published_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("new");
        write_atomic(&dest, None, |w| {
            w.write_all(&[9u8; 300_000]).map_err(|e| ConvertError::Io {
                path: "t".into(),
                source: e,
            })
        })
        .expect("write");
        assert_eq!(std::fs::read(&dest).expect("read"), vec![9u8; 300_000]);
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn new_outputs_get_default_mode_and_replacements_keep_theirs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("plain");
        std::fs::File::create(&plain).expect("create");
        let made = dir.path().join("made");
        write_atomic(&made, Some(&made), |w| {
            w.write_all(b"x").map_err(|e| ConvertError::Io {
                path: "t".into(),
                source: e,
            })
        })
        .expect("write");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(
            mode(&made),
            mode(&plain),
            "a new output must honour the umask like any new file"
        );
        std::fs::set_permissions(&made, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        write_atomic(&made, Some(&made), |w| {
            w.write_all(b"y").map_err(|e| ConvertError::Io {
                path: "t".into(),
                source: e,
            })
        })
        .expect("rewrite");
        assert_eq!(mode(&made), 0o640);
        assert_eq!(std::fs::read(&made).expect("read"), b"y");
    }

    #[test]
    fn failed_write_leaves_destination_and_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let dest = dir.path().join("keep");
        std::fs::write(&dest, b"original").expect("seed");
        let r: Result<(), _> = write_atomic(&dest, Some(&dest), |w| {
            w.write_all(b"partial").map_err(|e| ConvertError::Io {
                path: "t".into(),
                source: e,
            })?;
            Err(ConvertError::Empty)
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read(&dest).expect("read"), b"original");
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("ls").count(),
            1,
            "temporary file left behind"
        );
    }

    use super::*;

    /// Payloads of a mapped input are copied in the kernel; the bytes must be identical to what
    /// a plain in-memory conversion writes, at unaligned offsets and around the size threshold.
    #[test]
    fn mapped_payloads_copied_in_kernel_are_exact() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::builtin().unwrap();
        for len in [KERNEL_COPY_MIN - 1, KERNEL_COPY_MIN, 3 * OUT_BUF + 17] {
            // PROTO 4, then a tuple of a short str and two BINBYTES8 at unaligned offsets (the
            // second makes the file large enough to be mapped rather than read), STOP.
            let mut p = vec![0x80, 4, 0x8c, 3];
            p.extend_from_slice(b"abc");
            for n in [len, MAP_MIN as usize] {
                p.push(0x8e);
                p.extend_from_slice(&(n as u64).to_le_bytes());
                p.extend((0..n).map(|i| (i * 31 % 251) as u8));
            }
            p.extend_from_slice(&[0x87, b'.']);
            let src = dir.path().join(format!("in{len}.pkl"));
            std::fs::write(&src, &p).unwrap();
            let input = map_file(&src).unwrap();
            assert!(matches!(input, Input::Mapped(_)));
            let dest = dir.path().join(format!("out{len}.pkl"));
            convert_to_file(&input, &dest, &catalog).unwrap();
            let (expected, _) = convert_bytes(&p, Vec::new(), &catalog).unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), expected);
            // A buffer that is not from a map is written normally.
            let mut w = OutputFile::new(tempfile::tempfile().unwrap());
            w.write_all(&p).unwrap();
            let mut f = w.into_inner().unwrap();
            use std::io::{Read, Seek};
            let mut back = Vec::new();
            f.rewind().unwrap();
            f.read_to_end(&mut back).unwrap();
            assert_eq!(back, p);
        }
    }
}
