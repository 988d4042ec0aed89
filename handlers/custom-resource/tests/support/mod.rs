//! A local stand-in for CloudFormation's pre-signed response URL.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path_and_query: String,
    pub content_type: Option<String>,
    pub body: String,
}

/// Answers each PUT with the next scripted status (200 once the script is
/// used up) and records what it received.
#[derive(Debug, Clone)]
pub struct ResponseServer {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl ResponseServer {
    pub async fn start(script: &[u16]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script.iter().copied().collect::<VecDeque<_>>()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = Arc::clone(&log);
                let script = Arc::clone(&script);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let log = Arc::clone(&log);
                        let script = Arc::clone(&script);
                        async move {
                            let method = request.method().to_string();
                            let path_and_query = request
                                .uri()
                                .path_and_query()
                                .map(ToString::to_string)
                                .unwrap_or_default();
                            let content_type = request
                                .headers()
                                .get("content-type")
                                .map(|v| v.to_str().unwrap().to_owned());
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            log.lock().unwrap().push(Received {
                                method,
                                path_and_query,
                                content_type,
                                body: String::from_utf8(body.to_vec()).unwrap(),
                            });
                            let status = script.lock().unwrap().pop_front().unwrap_or(200);
                            Ok::<_, hyper::Error>(
                                Response::builder()
                                    .status(StatusCode::from_u16(status).unwrap())
                                    .body(Full::new(Bytes::from_static(b"<Error/>")))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, received }
    }

    /// A URL on this server with a query like a pre-signed URL's.
    pub fn url(&self) -> String {
        format!("http://{}/cfn-response?X-Amz-Signature=abc", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// The bodies received, parsed.
    pub fn responses(&self) -> Vec<serde_json::Value> {
        self.received()
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect()
    }
}
