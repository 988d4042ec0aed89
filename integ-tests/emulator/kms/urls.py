"""KMS URLs: installed in place of moto's `moto.kms.urls.url_paths` (see app.py)."""

from .responses import KmsWithKeyStoresResponse

url_bases = [
    r"https?://kms\.(.+)\.amazonaws\.com",
]

url_paths = {
    "{0}/$": KmsWithKeyStoresResponse.dispatch,
}
