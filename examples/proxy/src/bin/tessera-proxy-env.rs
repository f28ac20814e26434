//! `tessera-proxy-env`: a local authorization proxy to develop and test
//! against (proxy mode, docs/PROTOCOL.md §13). Starts a fake Stora, the
//! reference proxy (SQLite in a temporary directory) and a stand-in for the
//! plugin's site, all on 127.0.0.1, then prints one JSON line on standard
//! output:
//!
//! ```text
//! {"proxy_url":…,"stora_url":…,"stora_api_url":…,"site_url":…,"return_url":…}
//! ```
//!
//! It stops as `tessera-e2e-env` does (SIGINT, SIGTERM,
//! `--exit-on-stdin-close`, `--max-lifetime SECS`); `--help` says everything.

use std::path::PathBuf;
use std::sync::mpsc;

use tessera_broker::env_cli::{BadFlags, EnvFile, number, print_line, value, wait, watch_signals, watch_stdin};
use tessera_proxy::harness::{ProxyEnv, ProxyEnvOptions};

/// The text of `--help`.
const HELP: &str = "\
tessera-proxy-env: a local authorization proxy to develop and test a Tessera
plugin in proxy mode against (docs/PROTOCOL.md section 13).

Starts, all on 127.0.0.1:
  * a fake Stora (see examples/fake-stora/README.md),
  * the reference proxy (examples/proxy) on SQLite in a temporary directory,
    local development on (http return URLs on loopback hosts allowed),
  * a stand-in for the plugin's web site (it serves ownership proofs).
Then prints ONE JSON line on standard output and keeps running.

USAGE
  tessera-proxy-env [FLAGS]

FLAGS
  --help, -h                 print this help and exit
  --no-ownership-proof       web-site registrations need no ownership proof
  --access-ttl SECS          lifetime of the fake Stora's access tokens
                             (default 7200; short ones make refreshes happen)
  --token-canary PREFIX      prefix every code and token the fake Stora
                             issues (leak tests search for it)
  --exit-on-stdin-close      also stop when standard input closes
  --max-lifetime SECS        also stop after SECS seconds (default: no limit)
  --env-file PATH            also write the JSON line to PATH (atomically;
                             removed on exit)
  --quiet                    no banner on standard error

THE JSON LINE (standard output, and --env-file)
  proxy_url      the proxy: the plugin's brokerUrl in proxy mode
  stora_url      the fake Stora: consent page, /_control/ routes
  stora_api_url  Stora's API base for the plugin's proxy configuration
                 (npm: proxy.storaApiUrl, PHP: 'proxy' => ['stora_api_url'])
  site_url       the stand-in site: the registration's site URL
  return_url     a return URL on that site for connect()

EXIT STATUS
  0 stopped normally, 1 could not start, 2 bad flags.
";

struct Cli {
    options: ProxyEnvOptions,
    exit_on_stdin_close: bool,
    max_lifetime: Option<u64>,
    env_file: Option<PathBuf>,
    quiet: bool,
}

/// Parses the flags; `Ok(None)` means `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Cli>, BadFlags> {
    let mut cli = Cli {
        options: ProxyEnvOptions::default(),
        exit_on_stdin_close: false,
        max_lifetime: None,
        env_file: None,
        quiet: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--no-ownership-proof" => cli.options.require_ownership_proof = false,
            "--access-ttl" => cli.options.stora.access_ttl_secs = number(&mut args, &arg)?,
            "--token-canary" => cli.options.stora.token_canary = value(&mut args, &arg)?,
            "--exit-on-stdin-close" => cli.exit_on_stdin_close = true,
            "--max-lifetime" => cli.max_lifetime = Some(number(&mut args, &arg)?),
            "--env-file" => cli.env_file = Some(PathBuf::from(value(&mut args, &arg)?)),
            "--quiet" => cli.quiet = true,
            other => return Err(BadFlags(format!("unknown flag {other:?}"))),
        }
    }
    Ok(Some(cli))
}

fn main() {
    let cli = match parse(std::env::args().skip(1)) {
        Ok(Some(cli)) => cli,
        Ok(None) => {
            print!("{HELP}");
            return;
        }
        Err(BadFlags(message)) => {
            eprintln!("tessera-proxy-env: {message}; see --help");
            std::process::exit(2)
        }
    };
    let (stop_tx, stop_rx) = mpsc::channel::<&'static str>();
    watch_signals(stop_tx.clone());
    let env = ProxyEnv::start(cli.options.clone()).unwrap_or_else(|e| {
        eprintln!("tessera-proxy-env: cannot start: {e}");
        std::process::exit(1)
    });
    if cli.exit_on_stdin_close {
        watch_stdin(stop_tx.clone());
    }
    let line = serde_json::json!({
        "proxy_url": env.proxy_url(),
        "stora_url": env.stora.url(),
        "stora_api_url": format!("{}/2025-09", env.stora.url()),
        "site_url": env.site.url(),
        "return_url": env.return_url(),
    })
    .to_string();
    let env_file = match cli.env_file.as_deref().map(|p| EnvFile::write(p, &line)).transpose() {
        Ok(file) => file,
        Err(e) => {
            eprintln!("tessera-proxy-env: cannot write the env file: {e}");
            drop(env);
            std::process::exit(1)
        }
    };
    print_line(&line);
    if !cli.quiet {
        eprintln!(
            "tessera-proxy-env: ready (pid {}): proxy {}, fake Stora {}; stop with Ctrl-C",
            std::process::id(),
            env.proxy_url(),
            env.stora.url()
        );
    }
    let reason = wait(stop_rx, cli.max_lifetime);
    drop(stop_tx);
    if !cli.quiet {
        eprintln!("tessera-proxy-env: stopping ({reason})");
    }
    drop(env_file);
    drop(env);
}
