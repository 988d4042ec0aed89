"""SSM URLs: installed in place of moto's `moto.ssm.urls.url_paths` (see app.py)."""

from .responses import SsmWithRunCommandResponse

url_bases = [
    r"https?://ssm\.(.+)\.amazonaws\.com",
    r"https?://ssm\.(.+)\.amazonaws\.com\.cn",
]

url_paths = {
    "{0}/$": SsmWithRunCommandResponse.dispatch,
}
