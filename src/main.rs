//! The `depickle` command line. Argument parsing and presentation only; the work is in
//! `depickle-core`.

mod inspect;
mod stdout;

use stdout::outln;

use clap::{Parser, Subcommand};
use depickle_batch::{BatchReport, Kind, Status, Target};
use depickle_core::{ConvertError, Report};
use depickle_recipes::Catalog;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  depickle model.pkl -o model.std.pkl      convert one file
  depickle models/ -o models.std/          convert a tree (pickles converted, other files copied)
  depickle models/ --in-place --jobs 4     rewrite every pickle of a tree in place
  depickle model.pt -o model.std.pt        PyTorch zip checkpoint, gzip/bz2/xz pickles too
  depickle model.pkl --in-place            replace the file (atomically; the original survives any failure)
  cat model.pkl | depickle - -o - > out.pkl
  depickle model.pkl -o out.pkl --json     machine-readable report on stdout
  depickle check models/*.pkl              exit 1 if any still needs cloudpickle or dill
  depickle inspect model.pkl               protocol, serializer, modules imported at load time
  depickle catalog                         the serializer helpers depickle can rewrite

Exit codes: 0 ok, 1 refused (a helper or state depickle cannot rewrite faithfully),
2 usage, 3 I/O error, 4 not a valid pickle. A batch exits non-zero when any file failed.";

/// Make cloudpickle and dill pickles loadable with only the Python standard library.
///
/// depickle rewrites the serializer's helper calls (cloudpickle._make_function, ...) into
/// standard-library reconstructions, without ever executing the pickle.
#[derive(Parser)]
#[command(name = "depickle", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Pickle file or directory to convert, or `-` for standard input.
    input: Option<PathBuf>,

    /// Where to write the converted pickle (`-` for standard output).
    #[arg(short, long, value_name = "OUTPUT")]
    output: Option<PathBuf>,

    /// Rewrite INPUT in place (temporary file + rename; the original is kept on any failure).
    #[arg(long, conflicts_with = "output")]
    in_place: bool,

    /// Print a JSON report on stdout (or stderr when the pickle goes to stdout).
    #[arg(long)]
    json: bool,

    /// Print nothing but errors (no progress bar, no summary table).
    #[arg(short, long)]
    quiet: bool,

    /// Files converted in parallel in batch mode (default: one per core).
    #[arg(short, long, value_name = "N")]
    jobs: Option<usize>,

    /// Most a gzip/bz2/xz input may inflate to, e.g. `64G`, `512M` (default: 32x its
    /// compressed size or 16G, whichever is larger). Applies to `check` and `inspect` too.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, global = true)]
    max_inflated: Option<u64>,
}

/// `123`, `64K`, `512M`, `16G`, `1T` (powers of 1024; a trailing `B`/`iB` is accepted).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (num, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(format!("unknown size unit {c:?}: use K, M, G or T")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 512M or 16G"))?;
    n.checked_mul(1u64 << shift)
        .filter(|&v| v > 0)
        .ok_or_else(|| format!("{s:?} is zero or too large"))
}

#[derive(Subcommand)]
enum Command {
    /// Exit 1 if any pickle still needs cloudpickle or dill to load (for CI and pre-commit).
    Check {
        /// Pickle files or directories (recursed into, containers included).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Parallel jobs for directories (default: one per core).
        #[arg(short, long, value_name = "N")]
        jobs: Option<usize>,
    },
    /// Show protocol, serializer version, CPython version of embedded code, the modules the
    /// converted pickle imports at load time, and dangerous globals.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List the serializer helpers depickle knows, with the recipe that replaces each.
    Catalog {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(limit) = cli.max_inflated {
        depickle_batch::set_max_inflated(limit);
    }
    let catalog = match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("depickle: internal error: {e}");
            return ExitCode::from(70);
        }
    };
    let code = match cli.command {
        Some(Command::Check { paths, json, jobs }) => check(&paths, json, jobs.unwrap_or(0)),
        Some(Command::Inspect { file, json }) => inspect(&file, json, &catalog),
        Some(Command::Catalog { json }) => list_catalog(&catalog, json),
        None => convert(&cli, &catalog),
    };
    ExitCode::from(code as u8)
}

fn fail(input: &str, e: &ConvertError) -> i32 {
    eprintln!("depickle: {input}: {e}");
    eprintln!("  hint: {}", e.hint());
    e.exit_code()
}

fn read_input(path: &Path) -> Result<depickle_core::Input, ConvertError> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| ConvertError::Io {
                path: "<stdin>".into(),
                source: e,
            })?;
        Ok(depickle_core::Input::Owned(buf))
    } else {
        depickle_core::map_file(path)
    }
}

fn convert(cli: &Cli, catalog: &Catalog) -> i32 {
    let Some(input) = &cli.input else {
        eprintln!("depickle: no input given\n\n{EXAMPLES}");
        return 2;
    };
    let name = input.display().to_string();
    if input.is_dir() {
        return convert_tree(cli, input);
    }
    // Containers are detected on regular files only: a pipe (`depickle <(...)`) can be read
    // once, so sniffing it would consume the pickle.
    if input.as_os_str() != "-" && std::fs::metadata(input).is_ok_and(|m| m.is_file()) {
        if let Some(code) = convert_container(cli, input) {
            return code;
        }
    }
    let dest: PathBuf = match (&cli.output, cli.in_place) {
        (Some(o), _) => o.clone(),
        (None, true) if std::fs::symlink_metadata(input).is_ok_and(|m| m.is_symlink()) => {
            // One policy with batch mode, which never follows links: replacing the link would
            // leave its target unconverted, following it would rewrite a file elsewhere.
            let target = std::fs::canonicalize(input)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "its target".into());
            eprintln!(
                "depickle: {}: is a symbolic link; --in-place does not follow or replace links. Convert the file it points to ({target}) or use `-o OUTPUT`; nothing was written",
                input.display()
            );
            return 2;
        }
        (None, true) if input.as_os_str() != "-" => input.clone(),
        (None, true) => {
            eprintln!("depickle: --in-place needs a file, not standard input");
            return 2;
        }
        (None, false) if input.as_os_str() == "-" => PathBuf::from("-"),
        (None, false) => {
            eprintln!("depickle: say where the result goes: `-o OUTPUT`, `-o -` for stdout, or `--in-place`");
            return 2;
        }
    };
    let data = match read_input(input) {
        Ok(d) => d,
        Err(e) => return fail(&name, &e),
    };
    let to_stdout = dest.as_os_str() == "-";
    let result = if to_stdout {
        // Conversion errors all happen before the first byte is written.
        let stdout = std::io::stdout();
        let lock = std::io::BufWriter::new(stdout.lock());
        depickle_core::convert_bytes(&data, lock, catalog).and_then(|(mut w, r)| {
            w.flush().map_err(|e| ConvertError::Io {
                path: "<stdout>".into(),
                source: e,
            })?;
            Ok(r)
        })
    } else {
        depickle_core::convert_to_file(&data, &dest, catalog)
    };
    match result {
        Ok(report) => {
            if cli.json {
                let line = serde_json::json!({"input": name, "output": dest.display().to_string(), "report": report});
                if to_stdout {
                    eprintln!("{line}");
                } else {
                    outln!("{line}");
                }
            } else if !cli.quiet {
                eprintln!("{}", summary(&name, &dest, &report));
            }
            0
        }
        Err(e) => {
            if cli.json {
                let line = serde_json::json!({"input": name, "error": e.to_string(), "hint": e.hint(), "exit_code": e.exit_code()});
                outln!("{line}");
            }
            fail(&name, &e)
        }
    }
}

fn summary(name: &str, dest: &Path, r: &Report) -> String {
    if r.status == "self-contained" {
        return format!(
            "{name}: already self-contained (no cloudpickle/dill helpers); copied unchanged to {}",
            dest.display()
        );
    }
    let serializers: Vec<&str> = r.serializers.iter().map(|s| s.as_str()).collect();
    format!(
        "{name}: converted {} helper call(s) of {} -> {} ({} -> {} bytes, protocol {})",
        r.helpers_rewritten.values().sum::<u64>(),
        serializers.join(", "),
        dest.display(),
        r.input_bytes,
        r.output_bytes,
        r.protocol
    )
}

fn jobs_of(cli: &Cli) -> usize {
    cli.jobs.unwrap_or(0)
}

/// A single file that is a container (gzip/bz2/xz pickle, zip checkpoint, joblib file).
/// Returns `None` for plain pickles and anything else (the single-pickle path handles them).
fn convert_container(cli: &Cli, input: &Path) -> Option<i32> {
    let kind = {
        let data = depickle_core::map_file(input).ok()?;
        depickle_batch::sniff(&data)
    };
    if matches!(kind, Kind::Pickle | Kind::Other) {
        return None;
    }
    let name = input.display().to_string();
    let dest = match (&cli.output, cli.in_place) {
        (Some(o), _) if o.as_os_str() == "-" => {
            eprintln!(
                "depickle: {name}: a {} container is written to a file, not standard output",
                depickle_batch::kind_name(kind)
            );
            return Some(2);
        }
        (Some(o), _) => o.clone(),
        (None, true) => input.to_path_buf(),
        (None, false) => {
            eprintln!("depickle: say where the result goes: `-o OUTPUT` or `--in-place`");
            return Some(2);
        }
    };
    if kind == Kind::Joblib {
        eprintln!("depickle: {name}: joblib file: needs joblib's own loader (joblib.load); depickle does not modify joblib files; nothing was written");
        if cli.json {
            outln!(
                "{}",
                serde_json::json!({"input": name, "status": "joblib", "exit_code": 1})
            );
        }
        return Some(1);
    }
    let catalog = Catalog::builtin().ok()?;
    let r = depickle_batch::process_file(input, &dest, &name, &catalog);
    if cli.json {
        outln!(
            "{}",
            serde_json::json!({"input": name, "output": dest.display().to_string(), "result": r})
        );
    }
    let code = r.status.exit_code();
    if code != 0 {
        eprintln!("depickle: {name}: {}: {}", r.status.label(), r.detail);
    } else if !cli.quiet {
        eprintln!(
            "{name}: {} ({}) -> {}",
            r.status.as_str(),
            r.detail,
            dest.display()
        );
    }
    Some(code)
}

fn convert_tree(cli: &Cli, input: &Path) -> i32 {
    use std::io::IsTerminal;
    let target = match (&cli.output, cli.in_place) {
        (Some(o), _) if o.as_os_str() == "-" => {
            eprintln!(
                "depickle: a directory cannot be written to standard output; give `-o OUTDIR`"
            );
            return 2;
        }
        (Some(o), _) => Target::Mirror(o),
        (None, true) => Target::InPlace,
        (None, false) => {
            eprintln!(
                "depickle: say where the results go: `-o OUTDIR` (mirror the tree) or `--in-place`"
            );
            return 2;
        }
    };
    let show = !cli.quiet && std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::hidden();
    if show {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    }
    let on_start = |n: u64| bar.set_length(n);
    let on_done = |r: &depickle_batch::FileResult| {
        bar.inc(1);
        if r.status.is_failure() {
            bar.suspend(|| eprintln!("depickle: {}: {}: {}", r.path, r.status.label(), r.detail));
        }
    };
    let opts = depickle_batch::Options {
        jobs: jobs_of(cli),
        on_done: Some(&on_done),
        on_start: Some(&on_start),
    };
    let report = match depickle_batch::convert_tree(input, target, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("depickle: {e}");
            return e.exit_code;
        }
    };
    bar.finish_and_clear();
    if cli.json {
        let counts: std::collections::BTreeMap<&str, usize> = report
            .counts()
            .into_iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        outln!(
            "{}",
            serde_json::json!({"input": report.input, "output": report.output, "counts": counts, "exit_code": report.exit_code(), "files": report.files})
        );
    } else if !cli.quiet {
        eprint!("{}", summary_table(&report));
    }
    report.exit_code()
}

fn summary_table(report: &BatchReport) -> String {
    let mut s = String::new();
    let counts = report.counts();
    let rows = [
        (Status::Converted, "converted"),
        (Status::SelfContained, "already self-contained"),
        (
            Status::Joblib,
            "joblib (needs joblib's own loader; copied unchanged)",
        ),
        (Status::Copied, "copied (not pickles)"),
        (
            Status::Skipped,
            "skipped (symlinks not followed; FIFOs, sockets, devices not opened)",
        ),
        (Status::Refused, "refused"),
        (Status::NotAPickle, "not a pickle (corrupt or truncated)"),
        (Status::Error, "errors"),
    ];
    s.push_str(&format!("{:>7}  {}\n", "files", "outcome"));
    for (st, label) in rows {
        let n = counts.get(&st).copied().unwrap_or(0);
        if n > 0 || matches!(st, Status::Converted | Status::Refused | Status::Error) {
            s.push_str(&format!("{n:>7}  {label}\n"));
        }
    }
    let failed: Vec<_> = report
        .files
        .iter()
        .filter(|f| f.status.is_failure())
        .collect();
    let special: Vec<_> = report
        .files
        .iter()
        .filter_map(|f| match f.skip {
            Some(why) if why != depickle_batch::SkipReason::Symlink => Some((f, why)),
            _ => None,
        })
        .collect();
    if !special.is_empty() {
        s.push_str("\nskipped (not regular files):\n");
        for (f, why) in special {
            s.push_str(&format!("  {} [{}]\n", f.path, why.as_str()));
        }
    }
    if !failed.is_empty() {
        s.push_str("\nfailures (no output written for these):\n");
        for f in failed {
            s.push_str(&format!(
                "  {} [{}]: {}\n",
                f.path,
                f.status.as_str(),
                f.detail
            ));
        }
    }
    s
}

fn check(paths: &[PathBuf], json: bool, jobs: usize) -> i32 {
    let mut worst = 0;
    let mut rows = Vec::new();
    for p in paths {
        let results = if p.as_os_str() == "-" {
            let d = match read_input(p) {
                Ok(d) => d,
                Err(e) => return fail("<stdin>", &e),
            };
            let code = match depickle_core::lift_all(&d) {
                Ok(g) => {
                    let s: std::collections::BTreeSet<String> = g
                        .iter()
                        .flat_map(depickle_core::serializer_globals)
                        .collect();
                    if s.is_empty() {
                        ("self-contained".to_string(), 0)
                    } else {
                        (
                            format!("needs {}", s.into_iter().collect::<Vec<_>>().join(", ")),
                            1,
                        )
                    }
                }
                Err(e) => (format!("error: {e}"), e.exit_code()),
            };
            vec![depickle_batch::CheckResult {
                path: "-".into(),
                container: "pickle".into(),
                verdict: code.0,
                exit_code: code.1,
            }]
        } else {
            depickle_batch::check_path(p, jobs)
        };
        for r in results {
            // A pickle needing cloudpickle/dill (1) outranks nothing; errors keep their code.
            worst = match (worst, r.exit_code) {
                (w, 0) => w,
                (0, c) => c,
                (w, c) => w.max(c),
            };
            if json {
                rows.push(serde_json::json!({"path": r.path, "container": r.container, "verdict": r.verdict, "exit_code": r.exit_code}));
            } else {
                outln!("{}: {}", r.path, r.verdict);
            }
        }
    }
    if json {
        outln!("{}", serde_json::Value::Array(rows));
    }
    worst
}

fn inspect(file: &Path, json: bool, catalog: &Catalog) -> i32 {
    let name = file.display().to_string();
    let data = match read_input(file) {
        Ok(d) => d,
        Err(e) => return fail(&name, &e),
    };
    let (kind, members) = match depickle_batch::unwrap_container(&data) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("depickle: {name}: {e}");
            return 4;
        }
    };
    if kind == Kind::Joblib {
        let msg = "joblib file: needs joblib's own loader (joblib.load); not inspected further";
        if json {
            outln!(
                "{}",
                serde_json::json!({"file": name, "container": "joblib", "note": msg})
            );
        } else {
            outln!("file:        {name}\ncontainer:   joblib\n{msg}");
        }
        return 0;
    }
    let mut docs = Vec::new();
    let mut code = 0;
    for (member, bytes) in &members {
        let label = if member.is_empty() {
            name.clone()
        } else {
            format!("{name}!{member}")
        };
        match inspect_one(&label, depickle_batch::kind_name(kind), bytes, catalog) {
            Ok(v) => docs.push(v),
            Err(e) => {
                code = fail(&label, &e);
            }
        }
    }
    if code != 0 {
        return code;
    }
    if json {
        if docs.len() == 1 {
            outln!("{}", docs.remove(0));
        } else {
            outln!("{}", serde_json::Value::Array(docs));
        }
    } else {
        for d in &docs {
            print_inspect(d);
        }
    }
    0
}

fn inspect_one(
    label: &str,
    container: &str,
    data: &[u8],
    catalog: &Catalog,
) -> Result<serde_json::Value, ConvertError> {
    let graphs = depickle_core::lift_all(data)?;
    let mut original = depickle_core::names::LoadTimeNames::default();
    let mut serializers = std::collections::BTreeSet::new();
    let mut protocol = 0;
    for g in &graphs {
        let n = depickle_core::names::load_time_names(g);
        original.globals.extend(n.globals);
        original.modules.extend(n.modules);
        original.dynamic_lookups += n.dynamic_lookups;
        original.code_names.extend(n.code_names);
        serializers.extend(depickle_core::serializer_globals(g));
        protocol = protocol.max(g.protocol);
    }
    let globals = original.globals.clone();
    let fp = inspect::fingerprint(&graphs);
    // What the converted output imports: convert in memory (nothing is executed). When the
    // conversion is refused, report what the original itself reaches.
    let (output_globals, modules, dynamic_lookups, code_names, conversion) =
        match depickle_core::convert_bytes_with(data, std::io::sink(), catalog, false) {
            Ok((_, r)) => (
                r.output_globals,
                r.output_modules,
                r.dynamic_lookups,
                r.code_names,
                r.status.to_string(),
            ),
            Err(e) => (
                original.globals,
                original.modules,
                original.dynamic_lookups,
                original.code_names,
                format!("refused: {e}"),
            ),
        };
    let mut dangerous: Vec<String> = globals
        .iter()
        .chain(output_globals.iter())
        .chain(modules.iter())
        .filter(|g| inspect::is_dangerous(g))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    dangerous.extend(
        code_names
            .iter()
            .filter(|n| inspect::is_risky_code_name(n))
            .map(|n| format!("code uses `{n}`")),
    );
    if dynamic_lookups > 0 {
        dangerous.push(format!(
            "{dynamic_lookups} import/getattr call(s) whose target is only known at load time"
        ));
    }
    let cpython_note = match fp.cpython.as_slice() {
        [] if fp.code_objects == 0 => "no code objects: not tied to a CPython version".to_string(),
        [] => "code objects found, CPython version not recognised".to_string(),
        [v] => format!("this pickle only loads on CPython {v}"),
        vs => format!("code objects compiled for CPython {} (cannot tell which); it only loads on that version", vs.join(" or ")),
    };
    Ok(serde_json::json!({
        "file": label,
        "container": container,
        "protocol": protocol,
        "pickles": graphs.len(),
        "serializers": serializers,
        "serializer_version": fp.serializer_versions,
        "helpers": fp.helpers,
        "code_objects": fp.code_objects,
        "cpython": fp.cpython,
        "cpython_note": cpython_note,
        "conversion": conversion,
        "globals": globals,
        "output_globals": output_globals,
        "modules": modules,
        "dynamic_lookups": dynamic_lookups,
        "code_names": code_names,
        "dangerous": dangerous,
    }))
}

fn print_inspect(d: &serde_json::Value) {
    let list = |k: &str| -> Vec<String> {
        d[k].as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let s = |k: &str| d[k].as_str().unwrap_or("").to_string();
    outln!("file:          {}", s("file"));
    outln!("container:     {}", s("container"));
    outln!("protocol:      {}", d["protocol"]);
    outln!("pickles:       {}", d["pickles"]);
    let ser = list("serializers");
    outln!(
        "serializer:    {}",
        if ser.is_empty() {
            "none (self-contained)".into()
        } else {
            ser.join(", ")
        }
    );
    for v in list("serializer_version") {
        outln!("  version:     {v}");
    }
    outln!("code objects:  {}", d["code_objects"]);
    outln!("CPython:       {}", s("cpython_note"));
    outln!("conversion:    {}", s("conversion"));
    outln!("modules imported at load time (converted output):");
    for m in list("modules") {
        outln!("  {m}");
    }
    outln!("globals (converted output):");
    for g in list("output_globals") {
        let flag = if inspect::is_dangerous(&g) {
            "  <-- DANGEROUS"
        } else {
            ""
        };
        outln!("  {g}{flag}");
    }
    let code_names = list("code_names");
    if !code_names.is_empty() {
        outln!("names used by embedded code: {}", code_names.join(", "));
    }
    let dangerous = list("dangerous");
    if dangerous.is_empty() {
        outln!("dangerous: none");
    } else {
        outln!("dangerous ({}): {}", dangerous.len(), dangerous.join(", "));
    }
}

fn list_catalog(catalog: &Catalog, json: bool) -> i32 {
    let mut rows = Vec::new();
    for m in &catalog.modules {
        for (helper, recipe) in &m.helper_order {
            rows.push((
                m.serializer.clone(),
                helper.clone(),
                format!("{}::{}", m.path, recipe),
            ));
        }
    }
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|(s, h, r)| serde_json::json!({"serializer": s, "helper": h, "recipe": r}))
            .collect();
        outln!("{}", serde_json::Value::Array(v));
    } else {
        for (s, h, r) in rows {
            outln!("{s:<12} {h:<36} {r}");
        }
    }
    0
}
