//! The `runvqgan` binary: parses the command line (`runvqgan::commands::cli`) and hands each command to the
//! library. All work happens in the library.

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use runvqgan::commands::cli::{Cli, Command, ModelsCommand};
use runvqgan::commands::{self, exit_code_for};
use runvqgan::config::ConfigOverrides;
use runvqgan::process::exit_codes::ExitCode;

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Commands escape the names they print; this is the last guard (runvqgan::process::text).
    let mut stdout = runvqgan::process::text::TerminalSafe::new(std::io::BufWriter::new(
        std::io::stdout().lock(),
    ));
    let config = cli.config.clone();
    let code = match cli.command {
        Command::Validate(args) => commands::validate::run(
            &commands::validate::ValidateOptions {
                files: &args.files,
                root: args.root.as_deref(),
                overrides: ConfigOverrides::from_flags(&args).with_config_file(config.clone()),
            },
            &mut stdout,
        ),
        Command::Check(args) => commands::check::run(
            &commands::check::CheckOptions {
                root: &args.root.root,
                overrides: ConfigOverrides::from_flags(&args),
            },
            &mut stdout,
        ),
        Command::Plan(args) => commands::plan::run(
            &commands::plan::PlanOptions {
                root: &args.root.root,
                json: args.json,
                overrides: ConfigOverrides::from_flags(&args).with_config_file(config.clone()),
            },
            &mut stdout,
        ),
        Command::Run(args) => commands::run::run(&commands::run::RunOptions {
            root: &args.root.root,
            overrides: ConfigOverrides::from_flags(&args).with_config_file(config.clone()),
            until: args.until.clone(),
            ignore_window: args.ignore_window,
            failed_tasks_ok: args.failed_tasks_ok,
        }),
        Command::Reproduce(args) => commands::reproduce::run(
            &commands::reproduce::ReproduceOptions {
                sidecar: &args.sidecar,
                output: args.output.as_deref(),
                root: args.root.as_deref(),
                overrides: ConfigOverrides::from_flags(&args).with_config_file(config.clone()),
            },
            &mut stdout,
        ),
        Command::Gallery(args) => commands::gallery::run(
            &commands::gallery::GalleryCommandOptions {
                root: &args.root.root,
                dir: args.dir.as_deref(),
            },
            &mut stdout,
        ),
        Command::Status(args) => commands::status::run(
            &commands::status::StatusOptions {
                root: &args.root.root,
                json: args.json,
                overrides: ConfigOverrides::default(),
            },
            &mut stdout,
        ),
        Command::Init(args) => commands::init::run(
            &commands::init::InitOptions {
                dir: &args.dir,
                group: args.group.as_deref(),
            },
            &mut stdout,
        ),
        Command::Models(ModelsCommand::Check(args)) => commands::models::check(
            &commands::models::CheckOptions {
                root: &args.root.root,
                overrides: ConfigOverrides::from_flags(&args).with_config_file(config.clone()),
            },
            &mut stdout,
        ),
        Command::SlurmScript(args) => commands::slurm_script::run(
            &commands::slurm_script::SlurmScriptOptions {
                root: &args.root.root,
                gpus: args.gpus,
                elements: args.elements,
                cpu: args.cpu,
                cpus_per_element: args.cpus_per_element,
                time: args.time.as_deref(),
                partition: args.partition.as_deref(),
                pass: runvqgan::process::slurm::ScriptOptions {
                    account: args.account.as_deref(),
                    qos: args.qos.as_deref(),
                    gpu_type: args.gpu_type.as_deref(),
                    mem: args.mem.as_deref(),
                    mail_user: args.mail_user.as_deref(),
                    mail_type: args.mail_type.as_deref(),
                    begin: args.begin.as_deref(),
                    window: args.window.as_deref(),
                    ..Default::default()
                },
            },
            &mut stdout,
        ),
    }?;
    std::io::Write::flush(&mut stdout)?;
    Ok(code)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => code.into(),
        Err(err) => {
            eprintln!(
                "runvqgan: {}",
                runvqgan::process::text::terminal_safe(&format!("{err:#}"))
            );
            exit_code_for(&err).into()
        }
    }
}
