//! AWS configuration shared by every handler.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{ConnectorBuilder, tls};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
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
/// The HTTP client is the SDK's default one (rustls with aws-lc, proxies
/// from the environment), except that it reads the system's root
/// certificates when the first request needs a connection rather than when
/// the configuration and the service clients are made (see
/// [`OnFirstRequest`]).
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(OnFirstRequest::wrap(default_https_client()))
        .load()
        .await
}

/// The client the SDK makes when none is given (`default-https-client`).
fn default_https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().build_with_connector_fn(
        |settings, components: Option<&RuntimeComponents>| {
            let mut connector = ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ));
            connector.set_connector_settings(settings.cloned());
            if let Some(components) = components {
                connector.set_sleep_impl(components.sleep_impl());
            }
            connector.set_proxy_config(Some(ProxyConfig::from_env()));
            connector.build()
        },
    )
}

/// An HTTP client that makes its connector on the first request.
///
/// The SDK's client builds its TLS connector, and with it parses every root
/// certificate of the system (the bundle and each file of the certificate
/// folder), as soon as a service client is made, so that the cost falls in
/// the process's start. For a Lambda function that start is the cold start,
/// before the first event is even asked for. Deferred to the first request,
/// the work is done once per process as before, by the invocation that needs
/// it, as boto3 does with its CA bundle and the response sender with its own
/// roots.
#[derive(Debug)]
pub struct OnFirstRequest(SharedHttpClient);

impl OnFirstRequest {
    /// `client`, with its connector made on the first request.
    #[must_use]
    pub fn wrap(client: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Self(client))
    }
}

impl HttpClient for OnFirstRequest {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    /// Nothing to check ahead of the first request: the connector, and the
    /// root certificates with it, is made then.
    fn validate_base_client_config(
        &self,
        _components: &RuntimeComponentsBuilder,
        _cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        Ok(())
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A client that counts how often it is asked to make its connector
    /// ahead of a request, as the SDK's own does on client creation.
    #[derive(Debug, Default)]
    struct Counting(Arc<AtomicUsize>);

    impl HttpClient for Counting {
        fn http_connector(
            &self,
            _settings: &HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            unreachable!("no request is made in these tests")
        }

        fn validate_base_client_config(
            &self,
            _components: &RuntimeComponentsBuilder,
            _cfg: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn config(client: SharedHttpClient) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .http_client(client)
            .build()
    }

    #[test]
    fn the_sdk_makes_the_connector_when_a_client_is_made_unless_it_is_deferred() {
        // The premise: a service client built on the bare client asks it to
        // make its connector at once (where the roots would be parsed).
        let eager = Arc::new(AtomicUsize::new(0));
        let bare = SharedHttpClient::new(Counting(Arc::clone(&eager)));
        let _client = aws_sdk_sfn::Client::new(&config(bare));
        assert_eq!(eager.load(Ordering::SeqCst), 1);

        // Wrapped, making the client asks nothing of it.
        let deferred = Arc::new(AtomicUsize::new(0));
        let wrapped = OnFirstRequest::wrap(SharedHttpClient::new(Counting(Arc::clone(&deferred))));
        let _client = aws_sdk_sfn::Client::new(&config(wrapped));
        assert_eq!(deferred.load(Ordering::SeqCst), 0);
    }
}
