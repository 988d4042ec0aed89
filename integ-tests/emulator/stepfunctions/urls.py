"""Step Functions URLs: installed in place of moto's `moto.stepfunctions.urls.url_paths` (see app.py)."""

from .responses import StepFunctionsWithNamesResponse

url_bases = [r"https?://states\.(.+)\.amazonaws.com"]

url_paths = {
    "{0}/$": StepFunctionsWithNamesResponse.dispatch,
}
