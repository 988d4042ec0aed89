"""CloudWatch Logs URLs: installed in place of moto's `moto.logs.urls.url_paths` (see app.py)."""

from .responses import LogsWithKeyPoliciesResponse

url_bases = [
    r"https?://logs\.(.+)\.amazonaws\.com",
]

url_paths = {
    "{0}/$": LogsWithKeyPoliciesResponse.dispatch,
}
