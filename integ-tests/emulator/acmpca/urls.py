"""AWS Private CA URLs: installed in place of moto's `moto.acmpca.urls.url_paths` (see app.py)."""

from .responses import PrivateCaResponse

url_bases = [
    r"https?://acm-pca\.(.+)\.amazonaws\.com",
]

url_paths = {
    "{0}/$": PrivateCaResponse.dispatch,
}
