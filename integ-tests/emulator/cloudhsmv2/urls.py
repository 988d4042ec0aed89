"""CloudHSM v2 URLs: installed in place of moto's `moto.cloudhsmv2.urls.url_paths` (see app.py)."""

from .responses import CloudHsmV2Response

url_bases = [
    r"https?://cloudhsm\.(.+)\.amazonaws\.com",
    r"https?://cloudhsmv2\.(.+)\.amazonaws\.com",
]

url_paths = {
    "{0}/$": CloudHsmV2Response.dispatch,
}
