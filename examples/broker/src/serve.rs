//! Running a server: a router on its own thread and tokio runtime, bound to
//! `127.0.0.1` ([`Running`]), for any state that says how it is built and
//! routed ([`Serve`]): the broker's [`App`], and the reference
//! authorization proxy's (`examples/proxy`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;

use crate::{App, BrokerConfig, router};

/// An axum router served on its own thread and tokio runtime, from a
/// listener on `127.0.0.1`. Dropping it stops the server.
struct Server {
    url: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds `127.0.0.1:port` (0 = ephemeral): the listener and its URL,
    /// `http://127.0.0.1:PORT`.
    fn bind(port: u16) -> std::io::Result<(std::net::TcpListener, String)> {
        let listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        Ok((listener, url))
    }

    /// Serves `router` on `listener` (whose URL is `url`) on a thread named `name`.
    fn spawn(name: &str, listener: std::net::TcpListener, url: String, router: Router) -> std::io::Result<Server> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .max_blocking_threads(64)
            .enable_all()
            .build()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let label = name.to_string();
        let thread = std::thread::Builder::new().name(label.clone()).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("{label}: {e}");
                        return;
                    }
                };
                tokio::select! {
                    _ = axum::serve(listener, router) => {}
                    _ = rx => {}
                }
            });
            runtime.shutdown_timeout(std::time::Duration::from_secs(2));
        })?;
        Ok(Server { url, shutdown: Some(tx), thread: Some(thread) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The state of a server that [`Running`] starts: built from its
/// configuration and public URL, serving its router. The broker's [`App`];
/// also the reference authorization proxy's (`examples/proxy`).
pub trait Serve: Sized + Send + Sync + 'static {
    /// Its configuration.
    type Config;
    /// The server's name (thread name, log prefix).
    const NAME: &'static str;
    /// The public URL the configuration names, if any (else the server's
    /// own `http://127.0.0.1:PORT`).
    fn public_url(config: &Self::Config) -> Option<String>;
    /// Builds the state for `public_url`.
    fn build(config: Self::Config, public_url: String) -> std::io::Result<Self>;
    /// Its routes.
    fn router(state: Arc<Self>) -> Router;
}

impl Serve for App {
    type Config = BrokerConfig;
    const NAME: &'static str = "tessera-broker";

    fn public_url(config: &BrokerConfig) -> Option<String> {
        config.public_url.clone()
    }

    fn build(config: BrokerConfig, public_url: String) -> std::io::Result<App> {
        App::new(config, public_url).map_err(std::io::Error::other)
    }

    fn router(state: Arc<App>) -> Router {
        router(state)
    }
}

/// A server running on its own thread, on `127.0.0.1`. Dropping it stops
/// the server.
pub struct Running<A> {
    server: Server,
    app: Arc<A>,
}

/// The broker, running ([`Running::start`]).
pub type Broker = Running<App>;

impl<A: Serve> Running<A> {
    /// Binds `127.0.0.1:0` (an ephemeral port) and starts serving.
    pub fn start(config: A::Config) -> std::io::Result<Running<A>> {
        Self::start_on(config, 0)
    }

    /// Binds `127.0.0.1:port` (0 = ephemeral) and starts serving.
    pub fn start_on(config: A::Config, port: u16) -> std::io::Result<Running<A>> {
        let (listener, url) = Server::bind(port)?;
        let public_url = A::public_url(&config).unwrap_or_else(|| url.clone());
        let app = Arc::new(A::build(config, public_url)?);
        let server = Server::spawn(A::NAME, listener, url, A::router(app.clone()))?;
        Ok(Running { server, app })
    }

    /// Base URL, e.g. `http://127.0.0.1:41235`.
    pub fn url(&self) -> &str {
        &self.server.url
    }

    /// The shared state (store, observer, clock) for inspection.
    pub fn app(&self) -> &Arc<A> {
        &self.app
    }
}
