//! AWS configuration shared by every handler.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{ConnectorBuilder, tls};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_types::config_bag::ConfigBag;

/// Loads the AWS configuration once per process.
///
/// Region, credentials, `AWS_ENDPOINT_URL` (which points every client at a
/// local emulator in tests) and `AWS_MAX_ATTEMPTS` come from the standard
/// environment, exactly as the AWS CLI reads them.
///
/// The HTTP client is the SDK's own one (rustls, here on ring rather than
/// the default aws-lc, with proxies from the environment) for `https`
/// endpoints, made when the first request
/// needs it rather than when the configuration and the service clients are
/// made, and a plain one for `http` endpoints (see [`ByScheme`]).
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(ByScheme::client(default_https_client(), http_client()))
        .load()
        .await
}

/// The client the SDK makes when none is given (`default-https-client`), on
/// ring.
fn default_https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        let tls = tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring);
        configured(
            ConnectorBuilder::default().tls_provider(tls),
            settings,
            components,
        )
        .build()
    })
}

/// The same client without TLS, for an `http` endpoint.
fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(|settings, components| {
        configured(ConnectorBuilder::default(), settings, components).build_http()
    })
}

/// `connector` with the operation's timeouts, the runtime's sleep and the
/// proxies of the environment, as the SDK's default client sets them.
fn configured<Tls>(
    mut connector: ConnectorBuilder<Tls>,
    settings: Option<&HttpConnectorSettings>,
    components: Option<&RuntimeComponents>,
) -> ConnectorBuilder<Tls> {
    connector.set_connector_settings(settings.cloned());
    if let Some(components) = components {
        connector.set_sleep_impl(components.sleep_impl());
    }
    connector.set_proxy_config(Some(ProxyConfig::from_env()));
    connector
}

/// An HTTP client that sends each request through one of two clients by
/// its scheme, each making its connector on its first request.
///
/// The SDK's client builds its TLS connector, and with it reads and parses
/// every root certificate of the system (the bundle and each file of the
/// certificate folder: several milliseconds), as soon as a service client is
/// made, so that the cost falls in the process's start: for a Lambda
/// function, the cold start, before the first event is even asked for. Here
/// that work is done once per process by the first `https` request, as
/// boto3 does with its CA bundle, and never for a plain `http` endpoint (a
/// local emulator's), which has no use for it.
#[derive(Debug)]
pub struct ByScheme {
    https: SharedHttpClient,
    http: SharedHttpClient,
}

impl ByScheme {
    /// `https` for `https` requests, `http` for the others.
    #[must_use]
    pub fn client(https: SharedHttpClient, http: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Self { https, http })
    }
}

impl HttpClient for ByScheme {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(SchemeConnector {
            https: self.https.clone(),
            http: self.http.clone(),
            settings: settings.clone(),
            components: components.clone(),
        })
    }

    /// Nothing to check ahead of the first request: each connector, and the
    /// root certificates with the TLS one, is made then.
    fn validate_base_client_config(
        &self,
        _components: &RuntimeComponentsBuilder,
        _cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.https.connector_metadata()
    }
}

/// The connector of one operation: asks the client of the request's scheme
/// for its connector (made once, then cached by that client) and sends the
/// request through it.
#[derive(Debug)]
struct SchemeConnector {
    https: SharedHttpClient,
    http: SharedHttpClient,
    settings: HttpConnectorSettings,
    components: RuntimeComponents,
}

impl HttpConnector for SchemeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = if request.uri().starts_with("http://") {
            &self.http
        } else {
            &self.https
        };
        client
            .http_connector(&self.settings, &self.components)
            .call(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_types::body::SdkBody;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// A client that counts how often it is asked to make its connector
    /// ahead of a request, as the SDK's own does on client creation, and
    /// records the requests sent through it (answering an empty list).
    #[derive(Debug, Default, Clone)]
    struct Recording {
        validated: Arc<AtomicUsize>,
        sent: Arc<Mutex<Vec<String>>>,
    }

    impl HttpClient for Recording {
        fn http_connector(
            &self,
            _settings: &HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }

        fn validate_base_client_config(
            &self,
            _components: &RuntimeComponentsBuilder,
            _cfg: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.validated.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    impl HttpConnector for Recording {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            self.sent.lock().unwrap().push(request.uri().to_owned());
            let body = SdkBody::from(r#"{"stateMachines":[]}"#);
            HttpConnectorFuture::ready(Ok(HttpResponse::new(200.try_into().unwrap(), body)))
        }
    }

    fn sfn(client: SharedHttpClient, endpoint: &str) -> aws_sdk_sfn::Client {
        let config = aws_sdk_sfn::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "AKID", "secret", None, None, "test",
            ))
            .endpoint_url(endpoint)
            .http_client(client)
            .build();
        aws_sdk_sfn::Client::from_conf(config)
    }

    #[test]
    fn the_sdk_makes_the_connector_when_a_client_is_made_unless_it_is_deferred() {
        // The premise: a service client built on the bare client asks it to
        // make its connector at once (where the roots would be parsed).
        let bare = Recording::default();
        let _client = sfn(SharedHttpClient::new(bare.clone()), "https://a.test");
        assert_eq!(bare.validated.load(Ordering::SeqCst), 1);

        // Behind `ByScheme`, making the client asks nothing of either.
        let (https, http) = (Recording::default(), Recording::default());
        let by_scheme = ByScheme::client(
            SharedHttpClient::new(https.clone()),
            SharedHttpClient::new(http.clone()),
        );
        let _client = sfn(by_scheme, "https://a.test");
        assert_eq!(https.validated.load(Ordering::SeqCst), 0);
        assert_eq!(http.validated.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn each_request_goes_through_the_client_of_its_scheme() {
        let (https, http) = (Recording::default(), Recording::default());
        let by_scheme = ByScheme::client(
            SharedHttpClient::new(https.clone()),
            SharedHttpClient::new(http.clone()),
        );
        sfn(by_scheme.clone(), "http://127.0.0.1:4566")
            .list_state_machines()
            .send()
            .await
            .unwrap();
        assert_eq!(*http.sent.lock().unwrap(), ["http://127.0.0.1:4566/"]);
        assert!(https.sent.lock().unwrap().is_empty());

        sfn(by_scheme, "https://states.us-east-1.amazonaws.com")
            .list_state_machines()
            .send()
            .await
            .unwrap();
        assert_eq!(
            *https.sent.lock().unwrap(),
            ["https://states.us-east-1.amazonaws.com/"]
        );
        assert_eq!(http.sent.lock().unwrap().len(), 1);
    }
}
