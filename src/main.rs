//! `kvstore-server [config-file] [--directive value ...]`

use std::process::ExitCode;

use kvstore::config::{self, Cli};
use kvstore::Server;

#[global_allocator]
static ALLOC: kvstore::memory::Counting = kvstore::memory::Counting;

const HELP: &str = "Usage: kvstore-server [/path/to/kvstore.conf] [options]
       kvstore-server - (read config from stdin)
       kvstore-server -v or --version
       kvstore-server -h or --help

Options are redis.conf directives as flags, later ones winning:
       kvstore-server --port 7777
       kvstore-server /etc/kvstore.conf --port 7777 --threads 2 --shards 4
       kvstore-server --save '' --appendonly no --requirepass secret

KVStore's own directives: threads (event-loop threads, default: one per
core) and shards (keyspace shards, default: one per thread).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (config, file) = match config::from_args(&args) {
        Ok(Cli::Help) => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Ok(Cli::Version) => {
            println!(
                "kvstore-server v={} (Redis {} compatible)",
                env!("CARGO_PKG_VERSION"),
                kvstore::commands::connection::REDIS_VERSION
            );
            return ExitCode::SUCCESS;
        }
        Ok(Cli::Run(config)) => (config, args.first().filter(|a| !a.starts_with("--")).cloned()),
        Err(e) => {
            eprintln!("*** FATAL CONFIG ERROR ***\n{e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = init_logging(&config) {
        eprintln!("Can't open the log file: {e}");
        return ExitCode::FAILURE;
    }
    kvstore::memory::tune_allocator();
    let pidfile = config.get("pidfile").to_string();
    let logs_to_file = !config.get("logfile").is_empty();
    // Block SIGINT and SIGTERM before any thread starts, so every thread
    // inherits the mask and only the signal thread below receives them.
    let signals = block_shutdown_signals();
    let server = match Server::start_with_file(*config, file) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{e}");
            if logs_to_file {
                eprintln!("{e}");
            }
            return ExitCode::FAILURE;
        }
    };
    let cfg = server.shared().config.read().clone();
    log::info!(
        "kvstore-server {} ready: listening on {} with {} threads and {} shards",
        env!("CARGO_PKG_VERSION"),
        server.addrs().iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
        cfg.threads(),
        cfg.shards()
    );
    if !pidfile.is_empty() {
        if let Err(e) = std::fs::write(&pidfile, format!("{}\n", std::process::id())) {
            log::warn!("could not write pidfile {pidfile}: {e}");
        }
    }
    let shared = server.shared().clone();
    std::thread::spawn(move || loop {
        wait_for_signal(&signals);
        log::warn!("Received a shutdown signal, scheduling shutdown...");
        // As Redis does, the replicas are waited for (shutdown-timeout),
        // and a failed final save keeps the server running.
        if kvstore::shutdown::on_signal(&shared) {
            shared.request_shutdown();
            break;
        }
    });
    server.wait();
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    log::warn!("KVStore is now ready to exit, bye bye...");
    ExitCode::SUCCESS
}

fn init_logging(config: &kvstore::Config) -> std::io::Result<()> {
    let mut builder = env_logger::Builder::new();
    builder.filter_level(config.log_level()).parse_default_env();
    let logfile = config.get("logfile");
    if !logfile.is_empty() {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(logfile)?;
        builder.target(env_logger::Target::Pipe(Box::new(file)));
    }
    builder.init();
    Ok(())
}

fn block_shutdown_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-mask calls on a local, initialised set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

fn wait_for_signal(set: &libc::sigset_t) {
    let mut sig = 0;
    // SAFETY: `set` holds the blocked signals; sigwait writes one into `sig`.
    unsafe {
        libc::sigwait(set, &mut sig);
    }
}
