//! The `depickle` command line. Argument parsing and presentation only; the work is in
//! `depickle-core`.

use clap::{Parser, Subcommand};
use depickle_core::{ConvertError, Report};
use depickle_recipes::Catalog;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  depickle model.pkl -o model.std.pkl      convert one file
  depickle model.pkl --in-place            replace the file (atomically; the original survives any failure)
  cat model.pkl | depickle - -o - > out.pkl
  depickle model.pkl -o out.pkl --json     machine-readable report on stdout
  depickle check models/*.pkl              exit 1 if any still needs cloudpickle or dill
  depickle inspect model.pkl               protocol, serializer, modules imported at load time
  depickle catalog                         the serializer helpers depickle can rewrite

Exit codes: 0 ok, 1 refused (a helper or state depickle cannot rewrite faithfully),
2 usage, 3 I/O error, 4 not a valid pickle.";

/// Make cloudpickle and dill pickles loadable with only the Python standard library.
///
/// depickle rewrites the serializer's helper calls (cloudpickle._make_function, ...) into
/// standard-library reconstructions, without ever executing the pickle.
#[derive(Parser)]
#[command(name = "depickle", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Pickle file to convert, or `-` for standard input.
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

    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Exit 1 if any pickle still needs cloudpickle or dill to load (for CI and pre-commit).
    Check {
        /// Pickle files to check.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show protocol, serializer and every global a pickle imports when loaded.
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
    let catalog = match Catalog::builtin() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("depickle: internal error: {e}");
            return ExitCode::from(70);
        }
    };
    let code = match cli.command {
        Some(Command::Check { paths, json }) => check(&paths, json, &catalog),
        Some(Command::Inspect { file, json }) => inspect(&file, json),
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
    let dest: PathBuf = match (&cli.output, cli.in_place) {
        (Some(o), _) => o.clone(),
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
                    println!("{line}");
                }
            } else if !cli.quiet {
                eprintln!("{}", summary(&name, &dest, &report));
            }
            0
        }
        Err(e) => {
            if cli.json {
                let line = serde_json::json!({"input": name, "error": e.to_string(), "hint": e.hint(), "exit_code": e.exit_code()});
                println!("{line}");
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

fn check(paths: &[PathBuf], json: bool, _catalog: &Catalog) -> i32 {
    let mut worst = 0;
    let mut rows = Vec::new();
    for p in paths {
        let name = p.display().to_string();
        let verdict = match read_input(p).and_then(|d| {
            let graphs = depickle_core::lift_all(&d)?;
            Ok(graphs
                .iter()
                .flat_map(depickle_core::serializer_globals)
                .collect::<std::collections::BTreeSet<_>>())
        }) {
            Ok(s) if s.is_empty() => ("self-contained".to_string(), 0),
            Ok(s) => (
                format!("needs {}", s.into_iter().collect::<Vec<_>>().join(", ")),
                1,
            ),
            Err(e) => (format!("error: {e}"), e.exit_code()),
        };
        worst = worst.max(verdict.1);
        if json {
            rows.push(
                serde_json::json!({"path": name, "verdict": verdict.0, "exit_code": verdict.1}),
            );
        } else {
            println!("{name}: {}", verdict.0);
        }
    }
    if json {
        println!("{}", serde_json::Value::Array(rows));
    }
    worst
}

fn inspect(file: &Path, json: bool) -> i32 {
    let name = file.display().to_string();
    let data = match read_input(file) {
        Ok(d) => d,
        Err(e) => return fail(&name, &e),
    };
    let graphs = match depickle_core::lift_all(&data) {
        Ok(g) => g,
        Err(e) => return fail(&name, &e),
    };
    let mut globals = std::collections::BTreeSet::new();
    let mut serializers = std::collections::BTreeSet::new();
    let mut protocol = 0;
    for g in &graphs {
        globals.extend(depickle_core::globals_of(g));
        serializers.extend(depickle_core::serializer_globals(g));
        protocol = protocol.max(g.protocol);
    }
    let modules: std::collections::BTreeSet<String> = globals
        .iter()
        .map(|g| g.rsplit_once('.').map(|x| x.0).unwrap_or(g).to_string())
        .collect();
    if json {
        println!(
            "{}",
            serde_json::json!({"file": name, "protocol": protocol, "pickles": graphs.len(), "serializers": serializers, "globals": globals, "modules": modules})
        );
    } else {
        println!("file:        {name}");
        println!("protocol:    {protocol}");
        println!("pickles:     {}", graphs.len());
        println!(
            "serializer:  {}",
            if serializers.is_empty() {
                "none (self-contained)".to_string()
            } else {
                serializers.into_iter().collect::<Vec<_>>().join(", ")
            }
        );
        println!("imports at load time:");
        for g in &globals {
            println!("  {g}");
        }
    }
    0
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
        println!("{}", serde_json::Value::Array(v));
    } else {
        for (s, h, r) in rows {
            println!("{s:<12} {h:<36} {r}");
        }
    }
    0
}
