//! `tessera-e2e-env`: a local broker to develop and test against. Starts a
//! fake Stora, the reference broker (SQLite in a temporary directory; or
//! several instances on one PostgreSQL database behind one front) and a
//! stand-in for the plugin's site, all on 127.0.0.1, then prints one JSON
//! line on standard output:
//!
//! ```text
//! {"broker_url":…,"stora_url":…,"site_url":…,"return_url":…,"admin_token":…}
//! ```
//!
//! It runs until SIGINT or SIGTERM by default; `--exit-on-stdin-close` (test
//! harnesses) and `--max-lifetime SECS` add other ways to stop. `--env-file
//! PATH` also writes the JSON line to a file (atomically, removed on exit) so
//! a background process can be found. Every flag and every field of the JSON
//! line is described by `--help` ([`HELP`]); the repository README's section
//! "Develop against a local broker" shows the one command.

use std::path::PathBuf;
use std::sync::mpsc;

use tessera_broker::env_cli::{BadFlags, EnvFile, number, print_line, value, wait, watch_signals, watch_stdin};
use tessera_broker::harness::{Env, EnvOptions, LogChoice};

/// The text of `--help`.
const HELP: &str = "\
tessera-e2e-env: a local broker to develop and test a Tessera plugin against.

Starts, all on 127.0.0.1:
  * a fake Stora (OAuth consent page, token endpoint, the /2025-09/ API routes
    and test controls under /_control/; see examples/fake-stora/README.md),
  * the reference broker (examples/broker) on SQLite in a temporary directory,
    using that fake Stora, with the example scopes allowed (or, with
    --instances K, K instances on one database behind one front that spreads
    requests over them; with --database-url or DATABASE_URL, on PostgreSQL),
  * a stand-in for the plugin's web site (it serves ownership proofs).
Then prints ONE JSON line on standard output and keeps running.

USAGE
  tessera-e2e-env [FLAGS]

FLAGS
  --help, -h                 print this help and exit
  --no-ownership-proof       web-site registrations need no ownership proof
                             (default: they owe one, served from site_url;
                             extension installations never do)
  --exit-on-stdin-close      also stop when standard input closes (for test
                             harnesses that hold a pipe open while they run)
  --max-lifetime SECS        also stop after SECS seconds (default: no limit)
  --env-file PATH            also write the JSON line to PATH (written to a
                             temporary file in the same directory, then
                             renamed; removed on exit)
  --broker-port N            the broker's port (default 0: ephemeral)
  --stora-port N             the fake Stora's port (default 0: ephemeral)
  --log stderr|off           the broker's request log, one JSON object a line
                             (default off)
  --token-canary PREFIX      prefix every code and token the fake Stora
                             issues (leak tests search for it)
  --instances K              K broker instances (default 1) on one database,
                             each with its own memory (locks, replay store,
                             pacing) as separate processes have, behind one
                             front on broker_url that sends each request to
                             the next instance in turn
  --database-url URL         a PostgreSQL server (postgres://USER@HOST:PORT/DB,
                             e.g. from scripts/pg.sh): the brokers use a new
                             database of their own created there (the user
                             needs CREATEDB), dropped on exit. Default:
                             DATABASE_URL, else SQLite
  --quiet                    no banner on standard error

ENVIRONMENT
  TESSERA_ALLOWED_EXTENSION_IDS  extension ids allowed to register, separated
                             by spaces or commas (default: every id; set but
                             empty: none)
  DATABASE_URL               as --database-url (the flag wins)
  TESSERA_TEST_INSTANCES, TESSERA_TEST_DATABASE_URL
                             the test harness's switches: the defaults of
                             --instances and --database-url

THE JSON LINE (standard output, and --env-file)
  broker_url   the broker: the plugin's brokerUrl (npm: Companion.create({
               brokerUrl }), PHP: Companion::create(['broker_url' => ...]))
  stora_url    the fake Stora: its consent page, its API and its
               /_control/ routes (counters, faults, clock, reset)
  site_url     the stand-in site: use it as the registration's site URL; the
               plugin serves the ownership proof with
               PUT {site_url}{proof.path} (body: proof.body)
  return_url   a return URL on that site (its settings page) for connect()
  admin_token  bearer token of the broker's /admin/ routes (kill switch,
               installations); a secret of this run only, printed nowhere else
  instances    the broker instances' own URLs (one with --instances 1):
               to reach one instance past the front

CONSENT ON THE FAKE STORA
  connect() gives a URL; open it in a browser. The broker sends you to
  {stora_url}/oauth2/authorize, a page listing the scopes with Approve and
  Deny links: click one. The signed-in operator is opr_demo; to be another
  operator, append &operator=opr_x to the Approve link. Over HTTP: GET the
  page, follow the href of the element id=\"approve\" (or id=\"deny\"), then
  follow the redirects back to the broker and to return_url.

STOPPING
  Ctrl-C (SIGINT) or SIGTERM (kill PID); with --exit-on-stdin-close, when
  standard input closes; with --max-lifetime, after SECS seconds. Each way
  stops the servers and removes the temporary directory and the env file.

EXIT STATUS
  0 stopped normally, 1 could not start, 2 bad flags.
";

/// What the command line asks for.
struct Cli {
    options: EnvOptions,
    exit_on_stdin_close: bool,
    max_lifetime: Option<u64>,
    env_file: Option<PathBuf>,
    quiet: bool,
}

/// Parses the flags; `Ok(None)` means `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Cli>, BadFlags> {
    let mut cli = Cli {
        options: EnvOptions { log: LogChoice::Off, ..EnvOptions::default() },
        exit_on_stdin_close: false,
        max_lifetime: None,
        env_file: None,
        quiet: false,
    };
    let mut database_url = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--no-ownership-proof" => cli.options.require_ownership_proof = false,
            "--exit-on-stdin-close" => cli.exit_on_stdin_close = true,
            "--max-lifetime" => cli.max_lifetime = Some(number(&mut args, &arg)?),
            "--env-file" => cli.env_file = Some(PathBuf::from(value(&mut args, &arg)?)),
            "--broker-port" => cli.options.broker_port = number(&mut args, &arg)?,
            "--stora-port" => cli.options.stora_port = number(&mut args, &arg)?,
            "--token-canary" => cli.options.stora.token_canary = value(&mut args, &arg)?,
            "--instances" => {
                cli.options.instances = number(&mut args, &arg)?;
                if cli.options.instances == 0 {
                    return Err(BadFlags("--instances must be at least 1".into()));
                }
            }
            "--database-url" => database_url = Some(value(&mut args, &arg)?),
            "--quiet" => cli.quiet = true,
            "--log" => {
                cli.options.log = match value(&mut args, &arg)?.as_str() {
                    "stderr" => LogChoice::Stderr,
                    "off" => LogChoice::Off,
                    other => return Err(BadFlags(format!("--log takes stderr or off, not {other:?}"))),
                }
            }
            other => return Err(BadFlags(format!("unknown flag {other:?}"))),
        }
    }
    // The flag, else DATABASE_URL, else the harness's default
    // (TESSERA_TEST_DATABASE_URL); an empty value means SQLite.
    if let Some(url) = database_url.or_else(|| std::env::var("DATABASE_URL").ok()) {
        cli.options.database_url = Some(url).filter(|u| !u.is_empty());
    }
    if let Some(url) = &cli.options.database_url
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        return Err(BadFlags("--database-url (or DATABASE_URL) must be a postgres:// URL".into()));
    }
    // The extension allow-list (default: every extension, see
    // `EnvOptions::allowed_extension_ids`): ids separated by spaces or commas.
    if let Ok(list) = std::env::var("TESSERA_ALLOWED_EXTENSION_IDS") {
        cli.options.allowed_extension_ids =
            list.split([' ', ',']).filter(|s| !s.is_empty()).map(str::to_string).collect();
    }
    Ok(Some(cli))
}

/// The human banner (standard error; no secret in it).
fn banner(env: &Env, cli: &Cli) -> String {
    let lifetime = match (cli.max_lifetime, cli.exit_on_stdin_close) {
        (Some(s), true) => format!(", when standard input closes, or after {s} s"),
        (Some(s), false) => format!(" or after {s} s"),
        (None, true) => ", or when standard input closes".to_string(),
        (None, false) => String::new(),
    };
    let env_file = cli.env_file.as_ref().map(|p| format!("  env file    {}\n", p.display())).unwrap_or_default();
    let storage = match env.database_url() {
        Some(url) => format!("PostgreSQL {}", tessera_broker::harness::redact_url(url)),
        None => "SQLite".to_string(),
    };
    let scaled = env.others.len() + 1;
    let scaled = if scaled > 1 || env.database_url().is_some() {
        format!("  instances   {scaled} (behind the broker URL), on {storage}\n")
    } else {
        String::new()
    };
    format!(
        "tessera-e2e-env: ready (pid {pid})\n  broker      {broker}   <- the plugin's brokerUrl\n  \
         fake Stora  {stora}   consent page, API, /_control/\n  site        {site}   the registration's \
         site URL\n  return URL  {ret}\n{scaled}{env_file}  The JSON line on standard output also carries \
         admin_token. --help explains everything.\n  Stop: Ctrl-C or kill {pid}{lifetime}.\n",
        pid = std::process::id(),
        broker = env.broker_url(),
        stora = env.stora.url(),
        site = env.site.url(),
        ret = env.return_url(),
    )
}

fn main() {
    let cli = match parse(std::env::args().skip(1)) {
        Ok(Some(cli)) => cli,
        Ok(None) => {
            print!("{HELP}");
            return;
        }
        Err(BadFlags(message)) => {
            eprintln!("tessera-e2e-env: {message}; see --help");
            std::process::exit(2)
        }
    };
    // Signals are caught before anything starts: a stop always cleans up.
    let (stop_tx, stop_rx) = mpsc::channel::<&'static str>();
    watch_signals(stop_tx.clone());
    let env = Env::start(cli.options.clone()).unwrap_or_else(|e| {
        eprintln!("tessera-e2e-env: cannot start: {e}");
        std::process::exit(1)
    });
    if cli.exit_on_stdin_close {
        watch_stdin(stop_tx.clone());
    }
    let line = serde_json::json!({
        "broker_url": env.broker_url(),
        "stora_url": env.stora.url(),
        "site_url": env.site.url(),
        "return_url": env.return_url(),
        "admin_token": env.admin_token(),
        "instances": env.instances().map(|b| b.url()).collect::<Vec<_>>(),
    })
    .to_string();
    let env_file = match cli.env_file.as_deref().map(|p| EnvFile::write(p, &line)).transpose() {
        Ok(file) => file,
        Err(e) => {
            eprintln!("tessera-e2e-env: cannot write the env file: {e}");
            drop(env); // removes the temporary directory (exit() would not)
            std::process::exit(1)
        }
    };
    // A closed standard output (a background run) is not an error.
    print_line(&line);
    if !cli.quiet {
        eprint!("{}", banner(&env, &cli));
    }
    let reason = wait(stop_rx, cli.max_lifetime);
    drop(stop_tx);
    if !cli.quiet {
        eprintln!("tessera-e2e-env: stopping ({reason})");
    }
    drop(env_file);
    drop(env);
}
