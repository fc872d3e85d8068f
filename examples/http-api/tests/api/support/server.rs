//! The API served on a `127.0.0.1:0` listener inside the test process, and a real HTTP client.

use foresto::Settings;
use http_api::AppState;
use sea_orm::DatabaseConnection;
use serde_json::Value;
use tokio::task::JoinHandle;

/// A running API and a client for it; a server this process runs stops when this is dropped.
pub struct Api {
    base: String,
    client: reqwest::Client,
    server: Option<JoinHandle<()>>,
}

/// A status and the JSON body that came with it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    /// The envelope's `error.code`, which every refusal carries.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error envelope in {self:?}"))
    }
}

impl Api {
    /// Serves the API on `db` with `settings`.
    pub async fn serve(db: DatabaseConnection, settings: Settings) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("its address"));
        let app = http_api::router(AppState::new(db, settings));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serving");
        });
        let mut api = Self::at(base);
        api.server = Some(server);
        api
    }

    /// A client of the API served at `base` (`http://host:port`) by another process.
    pub fn at(base: String) -> Self {
        // reqwest's rustls wants a crypto provider even for plain HTTP; the first test here
        // installs ring for the process (later calls find it installed).
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            base,
            client: reqwest::Client::new(),
            server: None,
        }
    }

    /// The API on `db` with the default settings.
    pub async fn on(db: &DatabaseConnection) -> Self {
        Self::serve(db.clone(), Settings::default()).await
    }

    /// `GET path` (with its query).
    pub async fn get(&self, path: &str) -> Reply {
        reply(self.client.get(self.url(path)).send().await).await
    }

    /// `POST path` with `body` as JSON.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        reply(self.client.post(self.url(path)).json(body).send().await).await
    }

    /// `POST path` with `body` as it is, sent as `content_type` (none: no header).
    pub async fn post_raw(&self, path: &str, content_type: Option<&str>, body: &str) -> Reply {
        let mut request = self.client.post(self.url(path)).body(body.to_owned());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        reply(request.send().await).await
    }

    /// `method path`, no body.
    pub async fn request(&self, method: reqwest::Method, path: &str) -> Reply {
        reply(self.client.request(method, self.url(path)).send().await).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

async fn reply(sent: reqwest::Result<reqwest::Response>) -> Reply {
    let response = sent.expect("the API answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status {status}: body is not JSON ({e}): {text:?}"));
    Reply { status, body }
}
